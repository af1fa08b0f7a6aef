"""Config-driven runs: datasets × systems → cached runs → metrics → a leaderboard.

A run config (TOML)::

    [run]
    name = "quickstart"
    datasets = ["scifact"]                   # BEIR folders, catalog names, suite:NAME,
                                             #   SOURCE:ARGUMENT of a dataset source plugin
    split = "test"
    metrics = ["ndcg@10", "recall@100"]
    k = 1000                                 # documents retrieved per query
    output = "runs/quickstart"               # cache of runs + results.parquet
    executor = "local"                       # or "ray" (the ray extra); --executor overrides

    [run.ray]                                # optional, for executor = "ray"
    address = "auto"                         # or "ray://HOST:10001"; default: RAY_ADDRESS,
    num_cpus = 8                             #   else a local Ray instance with num_cpus cores
    num_gpus_per_task = 0.5                  # GPUs per device-using cell (default 1 if the
    max_retries = 3                          #   device hook reports CUDA); retries of a cell
                                             #   whose worker died

    [systems.bm25]
    retriever = "bm25"
    params = { k1 = 0.9, b = 0.4 }

    [systems.minilm]
    retriever = "dense"
    params = { model = "minilm" }

    [systems.tuned]                           # a model folder: relative paths (starting
    retriever = "dense"                       # with ".") are relative to the config file
    params = { model = "../runs/finetune/infonce-positive-aware-s0" }

    [systems.hybrid]                          # fuses the runs of other systems
    inputs = ["bm25", "minilm"]
    fusion = "rrf"                            # combsum, combmnz, adaptive-rrf

Every (system, dataset) run is cached as Parquet under ``output/runs/`` with a key that
hashes the system's full definition (inputs included, component defaults filled in), the
dataset folder (or reference) and split, the digest of what the run reads (the corpus and
the split's queries: ``rankarena.core.datasets.dataset_content``), and ``k``; a cached run
is reused, so an interrupted
``rankarena run`` resumes where it stopped. Results are appended to
``output/results.parquet`` once per (run key, metric).

Each (system, dataset) pair is a *cell*, computed by an executor
(``rankarena.retrieval.executors``):
``local`` (default) computes the cells in this process, one after the other; ``ray`` makes
each cell a Ray task. Cells run in waves: systems without inputs first, then fusions whose
inputs are all done (the input runs travel with the fusion's cell). Whatever the executor,
the driver process writes each run file and appends its results as soon as the cell
finishes, so an interrupted run keeps every finished cell.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ..core.datasets import dataset_content, open_dataset
from ..core.observe import RunInfo
from ..core.recorder import ResultsRecorder
from ..data import Results, Run, store_exists
from ..data.locks import output_lock
from ..errors import (
    DataFormatError,
)
from ..evaluate import evaluation_key
from ..retrieval.executors import Executor, run_executor
from .cells import (
    Cell,
    CellResult,
    CellWork,
    View,
    cell_resources,
    cell_work,
    system_uses_device,
)
from .config import (
    RunConfig,
    check_datasets,
    check_systems,
    load_config,
    resolve_defaults,
    system_key,
    system_waves,
)
from .system_search import PatchedDataset, SystemSearch

__all__ = [
    "Cell",
    "CellResult",
    "CellWork",
    "PatchedDataset",
    "RunConfig",
    "Runner",
    "SystemSearch",
    "View",
    "load_config",
    "system_key",
    "system_uses_device",
]


class Runner:
    """Executes a ``RunConfig``, caching every run.

    :param host: the ``PluginHost`` whose registries build the components.
    :param device: ``--device``; passed to components that take a ``device`` parameter.
    :param log: a function printing progress lines.
    :param executor: ``"local"``, ``"ray"`` or an ``Executor`` (default: the config's
        ``[run] executor``, with ``[run.ray]`` as the Ray options); an executor built here
        is closed at the end of ``execute``.

    Components and parameters are checked before anything runs.
    """

    def __init__(
        self,
        config: RunConfig,
        host,
        device: str | None = None,
        log=print,
        executor: str | Executor | None = None,
    ):
        check_systems(config, host)
        check_datasets(config, host)
        self.definition = config
        config = resolve_defaults(config, host)
        self.config, self.host, self.device, self.log = config, host, device, log
        self.executor = config.executor if executor is None else executor
        self.run_dir = config.output / "runs"
        self.store = config.output / "results.parquet"
        self.computed = 0
        self.reused = 0
        self.waves = system_waves(config)
        self._content: dict[str, str] = {}
        self._eval_keys: dict[str, dict[str, str]] = {}
        self._dataset: tuple[str, object] | None = None  # the last one opened here

    def execute(self) -> Results:
        """Produce (or reuse) every run, evaluate what is not stored under the current
        evaluation keys, and return all results of this config.

        The output folder is locked for the whole call: a second ``rankarena run`` on the
        same folder waits, then reuses what this one computed (nothing is computed or
        stored twice)."""
        with output_lock(self.config.output, self.log):
            info = RunInfo("run", {"name": self.config.name, "config": str(self.config.output)})
            with ResultsRecorder(self.host, info, self.store) as recorder:
                done = self._stored_keys()
                with run_executor(self.executor, self.config.ray) as executor:
                    work = cell_work(
                        self.config, self.definition, executor, self.host, self.device, self.log
                    )
                    resources = cell_resources(self.config, self.host, self.device)
                    for wave in self.waves:
                        cells = self._cells(wave, done)
                        for cell, result in executor.map(work, cells, resources):
                            self._store(cell, result, recorder)
                all_results = self.results()
                recorder.close(all_results)  # observers get every result of the config
        return all_results

    def _cells(self, wave: list[str], done: set[tuple[str, str, str]]):
        """The cells of one wave still to compute or evaluate (a generator: a sequential
        executor loads each cell's input runs only when it gets to it)."""
        for dataset_path in self.config.datasets:
            eval_keys = self.eval_keys(dataset_path)
            for name in wave:
                key = self.key(name, dataset_path)
                path = self.run_dir / f"{key}.parquet"
                missing = tuple(
                    m for m in self.config.metrics if (key, m, eval_keys[m]) not in done
                )
                cached = self._readable_run(path)
                self.reused += cached is not None
                if cached is not None:
                    if missing:  # computed, but (some) results are missing: evaluate only
                        yield Cell(name, dataset_path, key, run=cached, metrics=missing)
                    continue
                inputs = {
                    source: Run.from_parquet(
                        self.run_dir / f"{self.key(source, dataset_path)}.parquet"
                    )
                    for source in self.config.systems[name].get("inputs", [])
                }
                yield Cell(name, dataset_path, key, inputs=inputs, metrics=missing)

    def _readable_run(self, path: Path) -> Run | None:
        """The cached run at ``path``; an unreadable one is discarded (and recomputed)."""
        if not path.exists():
            return None
        try:
            return Run.from_parquet(path)
        except DataFormatError as exc:
            warnings.warn(f"{exc}; discarding the cached run and computing it again", stacklevel=2)
            self.log(f"warning: {exc}; computing it again")
            path.unlink(missing_ok=True)
            return None

    def _store(self, cell: Cell, result: CellResult, recorder: ResultsRecorder) -> None:
        """Write a finished cell's run and record its results (in the driver process)."""
        if result.run is not None:
            result.run.to_parquet(self.run_dir / f"{cell.key}.parquet")
            self.computed += 1
            self.log(f"{cell.system} on {result.dataset}: done in {result.seconds:.1f} s")
        if result.results is not None:
            recorder.record(result.results)

    def results(self) -> Results:
        """The stored results of this config's runs under the current evaluation keys
        (the newest row of each; rows of other qrels or runs are history, not shown)."""
        if not store_exists(self.store):
            return Results.empty()
        wanted = {
            (self.key(name, d), metric, self.eval_keys(d)[metric])
            for name in self.config.systems
            for d in self.config.datasets
            for metric in self.config.metrics
        }
        table = Results.from_store(self.store, metric=self.config.metrics).table
        columns = [table.column(c).to_pylist() for c in ("run_id", "metric", "eval_key")]
        mask = [tuple(row) in wanted for row in zip(*columns, strict=True)]
        return Results(table.filter(mask))

    def key(self, name: str, dataset: str) -> str:
        """The cache key of system ``name`` on ``dataset`` (defaults resolved, content
        fingerprinted)."""
        return system_key(self.config, name, dataset, self.content(dataset))

    def dataset(self, reference: str):
        """The dataset ``reference`` (an entry of ``[run] datasets``) names, through the
        host's dataset sources (the last one opened is kept)."""
        if self._dataset is None or self._dataset[0] != reference:
            self._dataset = (reference, open_dataset(self.host, reference))
        return self._dataset[1]

    def content(self, dataset: str) -> str:
        """The fingerprint of what runs on ``dataset`` read (computed once per dataset)."""
        if dataset not in self._content:
            self._content[dataset] = dataset_content(self.dataset(dataset), self.config.split)
        return self._content[dataset]

    def eval_keys(self, dataset: str) -> dict[str, str]:
        """``{metric: evaluation key}`` of this config's metrics on ``dataset``'s qrels."""
        if dataset not in self._eval_keys:
            qrels = self.dataset(dataset).qrels(self.config.split)
            self._eval_keys[dataset] = {
                metric: evaluation_key(qrels, metric) for metric in self.config.metrics
            }
        return self._eval_keys[dataset]

    def _stored_keys(self) -> set[tuple[str, str, str]]:
        """``(run_id, metric, eval_key)`` of every mean stored for an unperturbed run."""
        if not store_exists(self.store):
            return set()
        table = Results.from_store(self.store, variant="", means_only=True).table
        columns = [table.column(c).to_pylist() for c in ("run_id", "metric", "eval_key")]
        return set(zip(*columns, strict=True))
