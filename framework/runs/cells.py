"""Cells: the units of work that executors run for ``rankarena run`` and
``rankarena robustness``.

A cell is one system on one dataset, optionally under a *view* (a robustness variant:
perturbed query texts and/or changed documents). ``CellWork`` computes a cell wherever the
executor puts it: in the driver process (``host`` and ``log`` given) or in a worker (it
pickles without them and builds its own plugin host). A fusion's cell carries the runs of
its inputs. Under Ray, the cell's work sees the same cluster as ``current_executor()``, so a
component can spread its own work over actors (``dense`` with ``shards > 1``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.datasets import open_dataset
from ..data import Queries, Results, Run
from ..errors import DataFormatError, ParameterError
from ..evaluate import evaluate
from ..retrieval.executors import Executor, Resources, current_executor, make_executor, use_executor
from .config import COMPONENTS, RunConfig
from .system_search import PatchedDataset, SystemSearch


@dataclass(frozen=True)
class View:
    """What a robustness variant changes in a dataset.

    :param variant: its name (``typos@0.3``; ``""`` for the unchanged dataset).
    :param queries: query id → perturbed text (``None``: the split's queries).
    :param changed: document id → new text (``None``: the corpus as it is).
    """

    variant: str = ""
    queries: dict[str, str] | None = None
    changed: dict[str, str] | None = None


@dataclass
class Cell:
    """One (system, dataset[, view]) of a run config, with the input runs a fusion needs, or
    the cached run when only its evaluation is missing; ``metrics``: the metrics to
    evaluate (those not stored under their current evaluation key; empty: none)."""

    system: str
    dataset: str
    key: str
    inputs: dict[str, Run] = field(default_factory=dict)
    run: Run | None = None
    metrics: tuple[str, ...] = ()
    view: View | None = None

    def __repr__(self) -> str:
        variant = f", {self.view.variant!r}" if self.view and self.view.variant else ""
        return f"Cell({self.system!r}, {self.dataset!r}{variant})"


@dataclass
class CellResult:
    """A finished cell: its run (``None`` when it was cached), its results (``None`` when
    they were stored before or not asked for), the dataset's name and the seconds it took."""

    run: Run | None
    results: Results | None
    dataset: str
    seconds: float


class CellWork:
    """Computes a ``Cell`` (picklable for remote executors when ``host`` and ``log`` are
    ``None``: the worker then builds its own plugin host and prints).

    :param keep_indexes: keep indexed retrievers between the cells this object computes in
        one process (robustness: one index, many views).
    :param worker_executor: ``(name, options)`` of the executor a cell computed in a worker
        makes current (``Executor.worker_spec()``); ``None``: none.
    """

    def __init__(
        self,
        config: RunConfig,
        definition: RunConfig,
        device,
        host=None,
        log=None,
        keep_indexes: bool = False,
        worker_executor: tuple[str, dict[str, Any]] | None = None,
    ):
        self.config, self.definition, self.device = config, definition, device
        self.host, self.log = host, log
        self.keep_indexes = keep_indexes
        self.worker_executor = worker_executor
        self._dataset: tuple[str, Any] | None = None  # the last dataset, reused in-process
        self._search: SystemSearch | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None, "_search": None}

    def searcher(self, host) -> SystemSearch:
        """The ``SystemSearch`` of this work (kept between cells with ``keep_indexes``)."""
        if self._search is None or not self.keep_indexes:
            self._search = SystemSearch(
                self.config,
                self.definition,
                host,
                self.device,
                self.log or print,
                keep_indexes=self.keep_indexes,
            )
        return self._search

    def dataset(self, host, reference: str):
        """The dataset ``reference`` names (``open_dataset``: a BEIR folder or
        ``SOURCE:ARGUMENT``; the last one is kept)."""
        if self._dataset is None or self._dataset[0] != reference:
            self._dataset = (reference, open_dataset(host, reference))
        return self._dataset[1]

    def __call__(self, cell: Cell) -> CellResult:
        nested = None
        if self.worker_executor is not None and current_executor() is None:
            nested = make_executor(*self.worker_executor)
        try:
            with use_executor(nested or current_executor()):
                return self._compute(cell)
        finally:
            if nested is not None:
                nested.close()

    def _compute(self, cell: Cell) -> CellResult:
        from ..core.host import plugin_manager

        started = time.perf_counter()
        host = self.host or plugin_manager()
        dataset = self.dataset(host, cell.dataset)
        queries = None
        run = cell.run
        if run is None:
            view = cell.view or View()
            queries = dataset.queries(self.config.split)
            if view.queries is not None:
                queries = Queries.from_dict(view.queries)
            searched = dataset
            if view.changed:
                searched = PatchedDataset(dataset, view.changed, view.variant or "patched")
            search = self.searcher(host)
            run = search.run(cell.system, searched, queries, cell.inputs.__getitem__)
        results = None
        if cell.metrics:
            qrels = dataset.qrels(self.config.split)
            try:
                evaluation = evaluate(run, qrels, list(cell.metrics), host=host)
            except DataFormatError as exc:  # e.g. no query in common: say whose run it was
                what = f"{cell.system} on {dataset.name}/{self.config.split}: {exc.reason}"
                error = DataFormatError(exc.source, what) if exc.source else ParameterError(what)
                raise error from None
            results = evaluation.to_results(
                cell.system, dataset.name, self.config.split, run_id=cell.key
            )
        computed = run if cell.run is None else None
        return CellResult(computed, results, dataset.name, time.perf_counter() - started)


def cell_work(
    config: RunConfig,
    definition: RunConfig,
    executor: Executor,
    host,
    device: str | None,
    log,
    keep_indexes: bool = False,
) -> CellWork:
    """The ``CellWork`` for ``executor``: in-process cells use ``host`` and ``log``; remote
    ones build their own, see ``cuda`` (a worker's GPUs start at ``cuda:0``) and make the
    executor's worker handle current."""
    if not executor.remote:
        return CellWork(config, definition, device, host, log, keep_indexes)
    if device and device.startswith("cuda:"):
        device = "cuda"
    spec = getattr(executor, "worker_spec", lambda: None)()
    return CellWork(config, definition, device, None, None, keep_indexes, spec)


def system_uses_device(config: RunConfig, name: str, host) -> bool:
    """Whether system ``name`` itself runs a component that takes a ``device`` (torch work)."""
    system = config.systems[name]
    for key, _, kind in COMPONENTS:
        if key in system:
            spec = host.registry(kind).get(system[key])
            if "device" in {p.name for p in spec.parameters}:
                return True
    return False


def cell_resources(config: RunConfig, host, device: str | None) -> Callable[[Cell], Resources]:
    """What each cell declares: one CPU, and one GPU where the system runs torch work and the
    device hook reports a CUDA device (asked once, when the first such cell comes)."""
    gpu: list[bool] = []

    def resources(cell: Cell) -> Resources:
        uses_device = cell.run is None and system_uses_device(config, cell.system, host)
        if uses_device and not gpu:
            gpu.append(host.select_device(device).name.startswith("cuda"))
        return Resources(
            num_cpus=1, num_gpus=1 if uses_device and gpu[0] else 0, uses_device=uses_device
        )

    return resources
