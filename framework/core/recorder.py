"""``ResultsRecorder``: the one writer of evaluation results and of the observer hooks.

Every command that evaluates (``rankarena eval``/``retrieve``, ``run``, ``train``,
``robustness``) records its results through one recorder per run::

    with ResultsRecorder(host, RunInfo("run", {...}), store) as recorder:  # on_run_start
        recorder.record(results)        # on_result for each row, then stored
        ...
        recorder.close(final)           # on_run_end (optional: the end of the block does
                                        # it, with everything recorded)
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

import pyarrow as pa

from ..data import Results
from .observe import RunInfo


class ResultsRecorder:
    """Opens a run for observers, records result rows into a results store, closes the run.

    - opening (``open()`` or entering the ``with`` block) calls ``on_run_start(run)``;
    - ``record(results)`` calls ``on_result(row)`` for every row of ``results``, in order,
      then appends them to ``store`` with ``Results.append_to`` (under the store's lock;
      a row with the identity of a stored one, same run, metric, evaluation key, ...,
      replaces it, so a rerun never duplicates). Observers see each row before it is
      stored. Without a ``store`` the rows go to the observers only;
    - ``close(results=None)`` calls ``on_run_end(run, results)``, by default with every
      row recorded (``recorded``); a writer whose run stands for more than it computed
      (``rankarena run``: every stored result of the config, reused ones included) passes
      that table. The end of the ``with`` block closes a recorder not closed yet.

    A run that fails (an exception leaves the block) is not closed: observers get
    ``on_run_start`` and the rows recorded before the failure, and no ``on_run_end``, as
    every writer has always done; the rows already stored stay stored.

    :param host: the ``PluginHost`` whose observers are notified.
    :param run: the ``RunInfo`` observers receive (its ``run_id`` names the run).
    :param store: the results store (a Parquet file), or ``None``: observers only.
    """

    def __init__(self, host, run: RunInfo, store: str | os.PathLike[str] | None = None):
        self.host, self.run, self.store = host, run, store
        self._recorded: list[Results] = []
        self.opened = False
        self.closed = False

    def open(self) -> ResultsRecorder:
        """Call ``on_run_start`` (once)."""
        if not self.opened:
            self.opened = True
            self.host.notify_run_start(self.run)
        return self

    def record(self, results: Results) -> None:
        """Notify ``on_result`` for every row, then append the rows to the store."""
        if not self.opened:
            self.open()
        for row in results.table.to_pylist():
            self.host.notify_result(row)
        if self.store is not None:
            results.append_to(self.store)
        self._recorded.append(results)

    @property
    def recorded(self) -> Results:
        """Every row recorded so far, in order."""
        if not self._recorded:
            return Results.empty()
        return Results(pa.concat_tables([results.table for results in self._recorded]))

    def close(self, results: Results | None = None) -> None:
        """Call ``on_run_end`` (once) with ``results`` (default: everything recorded)."""
        if self.closed:
            return
        if not self.opened:
            self.open()
        self.closed = True
        self.host.notify_run_end(self.run, self.recorded if results is None else results)

    def __enter__(self) -> ResultsRecorder:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        if exc_type is None:
            self.close()
        return None
