"""Config-driven runs: datasets × systems → cached runs → metrics → a leaderboard.

A run config (TOML)::

    [run]
    name = "quickstart"
    datasets = ["scifact"]                   # BEIR folders, catalog names, suite:NAME
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
dataset folder and split, and ``k``; a cached run is reused, so an interrupted
``rankarena run`` resumes where it stopped. Results are appended to
``output/results.parquet`` once per (run key, metric).

Each (system, dataset) pair is a *cell*, computed by an executor (``rankarena.executors``):
``local`` (default) computes the cells in this process, one after the other; ``ray`` makes
each cell a Ray task. Cells run in waves: systems without inputs first, then fusions whose
inputs are all done (the input runs travel with the fusion's cell). Whatever the executor,
the driver process writes each run file and appends its results as soon as the cell
finishes, so an interrupted run keeps every finished cell.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from rankarena.catalog import expand_suites, resolve_dataset
from rankarena.cells import (
    COMPONENTS,
    Cell,
    CellResult,
    CellWork,
    View,
    cell_resources,
    cell_work,
    system_uses_device,
)
from rankarena.data import Results, Run
from rankarena.data.fingerprint import dataset_fingerprint
from rankarena.data.locks import output_lock
from rankarena.errors import (
    DataFormatError,
    ParameterError,
    RankarenaError,
    did_you_mean,
    reject_unknown_keys,
)
from rankarena.evaluate import evaluation_key
from rankarena.executors import EXECUTORS, Executor, run_executor
from rankarena.fusion import FUSION_METHODS
from rankarena.observe import RunInfo
from rankarena.registry import check_parameters
from rankarena.system_search import PatchedDataset, SystemSearch
from rankarena.toml_config import read_toml, table, typed

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

CONFIG_FUSIONS = (*FUSION_METHODS, "adaptive-rrf")
FUSION_PARAMS = {"k", "norm", "weights", "depth"}

SYSTEM_KEYS = {
    "retriever",
    "params",
    "inputs",
    "fusion",
    "fusion_params",
    "reranker",
    "reranker_params",
    "rerank_k",
}
TOP_LEVEL_KEYS = {"run", "systems", "robustness"}  # [robustness]: rankarena robustness
RUN_KEYS = {"name", "datasets", "split", "metrics", "k", "output", "executor", "ray"}
RAY_KEYS = {
    "address": str,
    "num_cpus": int,
    "num_cpus_per_task": (int, float),
    "num_gpus_per_task": (int, float),
    "max_retries": int,
}


@dataclass
class RunConfig:
    """A parsed run config (see the module docstring)."""

    name: str
    datasets: list[str]
    split: str
    metrics: list[str]
    k: int
    output: Path
    systems: dict[str, dict[str, Any]] = field(default_factory=dict)
    executor: str = "local"
    ray: dict[str, Any] = field(default_factory=dict)


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run config; errors name the file and the offending key.

    Strict: an unknown key anywhere is an error that lists the valid keys, and every value
    is type-checked (``k`` an integer >= 1, never rounded).
    """
    path = Path(path)
    raw = read_toml(path)
    reject_unknown_keys(path, "config:", raw, TOP_LEVEL_KEYS)
    run = raw.get("run")
    if not isinstance(run, dict):
        raise DataFormatError(path, "missing [run] table")
    reject_unknown_keys(path, "[run]", run, RUN_KEYS)
    for key in ("datasets", "metrics"):
        typed(path, "[run]", run, key, list, items=str)
    systems = raw.get("systems")
    if not isinstance(systems, dict) or not systems:
        raise DataFormatError(path, "no [systems.NAME] tables")
    for name, system in systems.items():
        _check_system(path, name, system, systems)
    base = path.parent
    for system in systems.values():  # model folders are relative to the config file too
        model = (system.get("params") or {}).get("model")
        if isinstance(model, str) and model.startswith(".") and (base / model).is_dir():
            system["params"] = {**system["params"], "model": str((base / model).resolve())}
    name = typed(path, "[run]", run, "name", str, path.stem)
    output = Path(typed(path, "[run]", run, "output", str, f"runs/{name}"))
    output = output if output.is_absolute() else (base / output).resolve()
    if output.exists() and not output.is_dir():
        raise DataFormatError(path, f"[run] output {str(output)!r} is a file, not a folder")
    executor, ray = _config_executor(path, run)
    return RunConfig(
        name=name,
        datasets=_config_datasets(path, run["datasets"]),
        split=typed(path, "[run]", run, "split", str, "test"),
        metrics=list(run["metrics"]),
        k=typed(path, "[run]", run, "k", int, 1000, minimum=1),
        output=output,
        systems=systems,
        executor=executor,
        ray=ray,
    )


def _check_system(path: Path, name: str, system: Any, systems: dict[str, Any]) -> None:
    """One ``[systems.NAME]`` table: known keys of the right types, retriever xor inputs."""
    where = f"[systems.{name}]"
    if not isinstance(system, dict):
        raise DataFormatError(
            path, f"{where} must be a table (e.g. [systems.{name}] retriever = ...), got {system!r}"
        )
    reject_unknown_keys(path, where, system, SYSTEM_KEYS)
    if ("retriever" in system) == ("inputs" in system):
        raise DataFormatError(path, f"{where} needs either retriever or inputs")
    for key in ("retriever", "fusion", "reranker"):
        typed(path, where, system, key, str, None)
    for key in ("params", "fusion_params", "reranker_params"):
        table(path, where, system, key)
    typed(path, where, system, "rerank_k", int, None, minimum=1)
    for source in typed(path, where, system, "inputs", list, [], items=str):
        if source not in systems or source == name:
            raise DataFormatError(
                path,
                f"{where} input {source!r} is not another system; systems: {', '.join(systems)}",
            )


def _config_executor(path: Path, run: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``[run] executor`` and the ``[run.ray]`` table, checked."""
    executor = run.get("executor", "local")
    if executor not in EXECUTORS:
        raise DataFormatError(
            path, f"[run] executor must be one of {', '.join(EXECUTORS)}, got {executor!r}"
        )
    ray = run.get("ray", {})
    if not isinstance(ray, dict):
        raise DataFormatError(path, "[run] ray must be a table ([run.ray])")
    for key, value in ray.items():
        if key not in RAY_KEYS:
            raise DataFormatError(
                path,
                f"[run.ray] unknown key {key!r}{did_you_mean(key, list(RAY_KEYS))}; "
                f"valid: {', '.join(RAY_KEYS)}",
            )
        if isinstance(value, bool) or not isinstance(value, RAY_KEYS[key]):
            raise DataFormatError(path, f"[run.ray] {key} has the wrong type: {value!r}")
    return executor, dict(ray)


def _config_datasets(path: Path, items: list[Any]) -> list[str]:
    """The BEIR folders of ``[run] datasets``: folder paths (relative to the config file;
    kept as before, so run keys do not change), dataset names and ``suite:NAME``."""
    if not all(isinstance(item, str) for item in items):
        raise DataFormatError(path, "[run] datasets must be folder paths or dataset names")
    base = path.parent
    folders = []
    try:
        for item in expand_suites(items):
            if (base / item).is_dir():
                folders.append(item if Path(item).is_absolute() else str((base / item).resolve()))
            else:
                folders.append(str(resolve_dataset(item, base=base)))
    except RankarenaError as exc:
        raise DataFormatError(path, f"[run] datasets: {exc}") from None
    return folders


def system_key(config: RunConfig, name: str, dataset: str, content: str = "") -> str:
    """Cache key of one (system, dataset) run: its definition, inputs included, and
    ``content``, the digest of what the run reads (``dataset_fingerprint``: the corpus and
    the split's queries), so an edited corpus or query file is a new key.

    ``Runner`` keys runs by the definitions with every component default filled in and the
    parameters that do not change results left out (``resolve_defaults``), so that a
    changed default is a changed key and ``device`` or ``shards`` is not; a component's
    ``run_key_content(params)`` (the digest of a model folder's weights, say) is part of
    its definition.
    """

    def definition(system_name: str) -> dict[str, Any]:
        system = dict(config.systems[system_name])
        system["inputs"] = [definition(i) for i in system.get("inputs", [])]
        return system

    payload = {"system": definition(name), "dataset": dataset, "split": config.split, "k": config.k}
    if content:
        payload["content"] = content
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


# parameters that change where or how visibly any component works, not what it returns;
# a component class adds its own in ``not_in_run_key`` (see ``register_retrievers``)
NOT_IN_KEY = frozenset({"device", "show_progress"})


def not_in_key(spec) -> frozenset[str]:
    """The parameters of component ``spec`` that run cache keys leave out."""
    return NOT_IN_KEY | frozenset(getattr(spec.factory, "not_in_run_key", ()))


def check_systems(config: RunConfig, host) -> None:
    """Check every component name and parameter before anything runs (one-line errors)."""
    for name, system in config.systems.items():
        for key, params_key, kind in COMPONENTS:
            if key not in system:
                continue
            try:
                spec = host.registry(kind).get(system[key])
                check_parameters(spec, dict(system.get(params_key, {})))
            except RankarenaError as exc:
                raise ParameterError(f"{exc} (in [systems.{name}] of the run config)") from None
        fusion = system.get("fusion", "rrf")
        if "inputs" in system and fusion not in CONFIG_FUSIONS:
            raise ParameterError(
                f"[systems.{name}] unknown fusion {fusion!r}{did_you_mean(fusion, CONFIG_FUSIONS)}"
                f"; valid: {', '.join(CONFIG_FUSIONS)}"
            )
        allowed = FUSION_PARAMS | ({"stemmer"} if fusion == "adaptive-rrf" else set())
        allowed -= {"weights"} if fusion == "adaptive-rrf" else set()
        unknown = sorted(set(system.get("fusion_params", {})) - allowed)
        if unknown:
            raise ParameterError(
                f"[systems.{name}] fusion {fusion!r} has no parameter(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(allowed))}"
            )
        if fusion == "adaptive-rrf" and len(system.get("inputs", [])) != 2:
            raise ParameterError(
                f"[systems.{name}] adaptive-rrf fuses two inputs: a lexical one, then a dense one"
            )


def resolve_defaults(config: RunConfig, host) -> RunConfig:
    """A copy of ``config`` whose component parameters include every default value and
    leave out the parameters that do not change results (``not_in_key``): the form that
    cache keys hash. A component class with ``run_key_content(params)`` adds what it
    returns (a digest of files it reads, such as a model folder) under
    ``<params key>_content``. Components are built from the config as written."""
    systems = {}
    for name, system in config.systems.items():
        system = dict(system)
        for key, params_key, kind in COMPONENTS:
            if key in system:
                spec = host.registry(kind).get(system[key])
                neutral = not_in_key(spec)
                defaults = {p.name: p.default for p in spec.parameters if not p.required}
                params = {**defaults, **system.get(params_key, {})}
                system[params_key] = {k: v for k, v in params.items() if k not in neutral}
                content = getattr(spec.factory, "run_key_content", None)
                if callable(content) and (digest := content(params)):
                    system[f"{params_key}_content"] = str(digest)
        systems[name] = system
    return replace(config, systems=systems)


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

    def execute(self) -> Results:
        """Produce (or reuse) every run, evaluate what is not stored under the current
        evaluation keys, and return all results of this config.

        The output folder is locked for the whole call: a second ``rankarena run`` on the
        same folder waits, then reuses what this one computed (nothing is computed or
        stored twice)."""
        with output_lock(self.config.output, self.log):
            info = RunInfo("run", {"name": self.config.name, "config": str(self.config.output)})
            self.host.notify_run_start(info)
            done = self._stored_keys()
            with run_executor(self.executor, self.config.ray) as executor:
                work = cell_work(
                    self.config, self.definition, executor, self.host, self.device, self.log
                )
                resources = cell_resources(self.config, self.host, self.device)
                for wave in self.waves:
                    cells = self._cells(wave, done)
                    for cell, result in executor.map(work, cells, resources):
                        self._store(cell, result)
            all_results = self.results()
            self.host.notify_run_end(info, all_results)
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

    def _store(self, cell: Cell, result: CellResult) -> None:
        """Write a finished cell's run and append its results (in the driver process)."""
        if result.run is not None:
            result.run.to_parquet(self.run_dir / f"{cell.key}.parquet")
            self.computed += 1
            self.log(f"{cell.system} on {result.dataset}: done in {result.seconds:.1f} s")
        if result.results is not None:
            for row in result.results.table.to_pylist():
                self.host.notify_result(row)
            result.results.append_to(self.store)

    def results(self) -> Results:
        """The stored results of this config's runs under the current evaluation keys
        (the newest row of each; rows of other qrels or runs are history, not shown)."""
        if not self.store.exists():
            return Results.empty()
        wanted = {
            (self.key(name, d), metric, self.eval_keys(d)[metric])
            for name in self.config.systems
            for d in self.config.datasets
            for metric in self.config.metrics
        }
        table = Results.from_parquet(self.store).deduplicated().table
        columns = [table.column(c).to_pylist() for c in ("run_id", "metric", "eval_key")]
        mask = [tuple(row) in wanted for row in zip(*columns, strict=True)]
        return Results(table.filter(mask))

    def key(self, name: str, dataset: str) -> str:
        """The cache key of system ``name`` on ``dataset`` (defaults resolved, content
        fingerprinted)."""
        return system_key(self.config, name, dataset, self.content(dataset))

    def content(self, dataset: str) -> str:
        """The fingerprint of what runs on ``dataset`` read (computed once per dataset)."""
        if dataset not in self._content:
            source = self.host.datasets.create("beir", path=dataset)
            self._content[dataset] = dataset_fingerprint(source, self.config.split)
        return self._content[dataset]

    def eval_keys(self, dataset: str) -> dict[str, str]:
        """``{metric: evaluation key}`` of this config's metrics on ``dataset``'s qrels."""
        if dataset not in self._eval_keys:
            qrels = self.host.datasets.create("beir", path=dataset).qrels(self.config.split)
            self._eval_keys[dataset] = {
                metric: evaluation_key(qrels, metric) for metric in self.config.metrics
            }
        return self._eval_keys[dataset]

    def _stored_keys(self) -> set[tuple[str, str, str]]:
        """``(run_id, metric, eval_key)`` of every mean stored for an unperturbed run."""
        if not self.store.exists():
            return set()
        table = Results.from_parquet(self.store).means().table
        table = table.filter(pc.equal(table.column("variant"), ""))
        columns = [table.column(c).to_pylist() for c in ("run_id", "metric", "eval_key")]
        return set(zip(*columns, strict=True))


def system_waves(config: RunConfig) -> list[list[str]]:
    """The systems in dependency order: systems without inputs, then fusions of those, ...
    (config order within a wave)."""
    level: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in seen:
            raise ParameterError(f"[systems.{name}] its inputs lead back to it (a cycle)")
        if name not in level:
            inputs = config.systems[name].get("inputs", [])
            level[name] = 1 + max((depth(s, (*seen, name)) for s in inputs), default=-1)
        return level[name]

    for name in config.systems:
        depth(name)
    return [
        [name for name in config.systems if level[name] == i]
        for i in range(max(level.values()) + 1)
    ]
