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
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
from rankarena.errors import (
    DataFormatError,
    ParameterError,
    RankarenaError,
    did_you_mean,
    reject_unknown_keys,
)
from rankarena.executors import EXECUTORS, Executor, run_executor
from rankarena.fusion import FUSION_METHODS
from rankarena.observe import RunInfo
from rankarena.registry import check_parameters
from rankarena.system_search import PatchedDataset, SystemSearch

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
    """Read and check a run config; errors name the file and the offending key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"invalid TOML ({exc})") from None
    run = raw.get("run")
    if not isinstance(run, dict):
        raise DataFormatError(path, "missing [run] table")
    for key in ("datasets", "metrics"):
        if not isinstance(run.get(key), list) or not run[key]:
            raise DataFormatError(path, f"[run] {key} must be a non-empty list")
    systems = raw.get("systems")
    if not isinstance(systems, dict) or not systems:
        raise DataFormatError(path, "no [systems.NAME] tables")
    for name, system in systems.items():
        reject_unknown_keys(path, f"[systems.{name}]", system, SYSTEM_KEYS)
        if ("retriever" in system) == ("inputs" in system):
            raise DataFormatError(path, f"[systems.{name}] needs either retriever or inputs")
        for source in system.get("inputs", []):
            if source not in systems or source == name:
                raise DataFormatError(
                    path,
                    f"[systems.{name}] input {source!r} is not another system; "
                    f"systems: {', '.join(systems)}",
                )
    base = path.parent
    for system in systems.values():  # model folders are relative to the config file too
        model = (system.get("params") or {}).get("model")
        if isinstance(model, str) and model.startswith(".") and (base / model).is_dir():
            system["params"] = {**system["params"], "model": str((base / model).resolve())}
    output = Path(run.get("output", f"runs/{run.get('name', path.stem)}"))
    executor, ray = _config_executor(path, run)
    return RunConfig(
        name=str(run.get("name", path.stem)),
        datasets=_config_datasets(path, run["datasets"]),
        split=str(run.get("split", "test")),
        metrics=[str(m) for m in run["metrics"]],
        k=int(run.get("k", 1000)),
        output=output if output.is_absolute() else (base / output).resolve(),
        systems=systems,
        executor=executor,
        ray=ray,
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


def system_key(config: RunConfig, name: str, dataset: str) -> str:
    """Cache key of one (system, dataset) run: its definition, inputs included.

    ``Runner`` keys runs by the definitions with every component default filled in and the
    parameters that do not change results left out (``resolve_defaults``), so that a
    changed default is a changed key and ``device`` or ``shards`` is not.
    """

    def definition(system_name: str) -> dict[str, Any]:
        system = dict(config.systems[system_name])
        system["inputs"] = [definition(i) for i in system.get("inputs", [])]
        return system

    payload = {"system": definition(name), "dataset": dataset, "split": config.split, "k": config.k}
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
    cache keys hash. Components are built from the config as written."""
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

    def execute(self) -> Results:
        """Produce (or reuse) every run, evaluate it, and return all results of this config."""
        info = RunInfo("run", {"name": self.config.name, "config": str(self.config.output)})
        self.host.notify_run_start(info)
        done = self._done_keys()
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

    def _cells(self, wave: list[str], done: set[str]):
        """The cells of one wave still to compute or evaluate (a generator: a sequential
        executor loads each cell's input runs only when it gets to it)."""
        for dataset_path in self.config.datasets:
            for name in wave:
                key = self.key(name, dataset_path)
                path = self.run_dir / f"{key}.parquet"
                cached = path.exists()
                self.reused += cached
                if key in done and cached:  # evaluated before: nothing to load
                    continue
                if cached:  # computed, but its results were lost: evaluate only
                    yield Cell(name, dataset_path, key, run=Run.from_parquet(path))
                    continue
                inputs = {
                    source: Run.from_parquet(
                        self.run_dir / f"{self.key(source, dataset_path)}.parquet"
                    )
                    for source in self.config.systems[name].get("inputs", [])
                }
                yield Cell(name, dataset_path, key, inputs=inputs, evaluate=key not in done)

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
        """The stored results of this config's runs."""
        if not self.store.exists():
            return Results.empty()
        keys = {
            system_key(self.config, name, d)
            for name in self.config.systems
            for d in self.config.datasets
        }
        table = Results.from_parquet(self.store).table
        mask = [run_id in keys for run_id in table.column("run_id").to_pylist()]
        return Results(table.filter(mask))

    def key(self, name: str, dataset: str) -> str:
        """The cache key of system ``name`` on ``dataset`` (defaults resolved)."""
        return system_key(self.config, name, dataset)

    def _done_keys(self) -> set[str]:
        if not self.store.exists():
            return set()
        return set(Results.from_parquet(self.store).table.column("run_id").to_pylist())


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
