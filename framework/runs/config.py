"""The run configuration: ``RunConfig``, read from TOML by ``load_config`` and checked
against the registries; ``system_key`` (a cached run's key) and ``system_waves`` (the order
fusions are computed in). See ``rankarena.runs.pipeline`` for the file format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.datasets import BEIR_SOURCE, check_reference, split_reference
from ..core.registry import check_parameters
from ..core.toml_config import read_toml, table, typed
from ..data.catalog import expand_suites, resolve_dataset
from ..errors import (
    DataFormatError,
    ParameterError,
    RankarenaError,
    did_you_mean,
    reject_unknown_keys,
)
from ..retrieval.executors import EXECUTORS
from ..retrieval.fusion import FUSION_METHODS

# (component key, its parameters key, its registry) of a system
COMPONENTS = (("retriever", "params", "retrievers"), ("reranker", "reranker_params", "rerankers"))

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
    """The dataset references of ``[run] datasets`` (``rankarena.core.datasets``): BEIR
    folder paths (relative to the config file) and dataset names become the folder they
    resolve to, as before, so run keys do not change (``beir:X`` is ``X``); ``suite:NAME``
    is replaced by its datasets; ``SOURCE:ARGUMENT`` of a dataset source plugin is kept as
    written (its source is checked when a runner gets the plugin host:
    ``check_datasets``)."""
    if not all(isinstance(item, str) for item in items):
        raise DataFormatError(path, "[run] datasets must be folder paths or dataset names")
    base = path.parent
    folders = []
    try:
        for item in expand_suites(items):
            source, argument = split_reference(item, base)
            if source != BEIR_SOURCE:
                folders.append(item)
            elif (base / argument).is_dir():
                absolute = Path(argument).is_absolute()
                folders.append(argument if absolute else str((base / argument).resolve()))
            else:
                folders.append(str(resolve_dataset(argument, base=base)))
    except RankarenaError as exc:
        raise DataFormatError(path, f"[run] datasets: {exc}") from None
    return folders


def system_key(config: RunConfig, name: str, dataset: str, content: str = "") -> str:
    """Cache key of one (system, dataset) run: its definition, inputs included, the
    ``dataset`` reference (a BEIR folder's absolute path, or ``SOURCE:ARGUMENT``) and
    ``content``, the digest of what the run reads (``rankarena.core.datasets.
    dataset_content``: the corpus and the split's queries), so an edited corpus or query
    file, or another content behind the same reference, is a new key.

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


def check_datasets(config: RunConfig, host) -> None:
    """Every ``SOURCE:ARGUMENT`` of ``[run] datasets`` names a registered dataset source
    (one-line error listing them otherwise); nothing is opened."""
    for reference in config.datasets:
        try:
            check_reference(host, reference)
        except RankarenaError as exc:
            raise ParameterError(f"{exc} (in [run] datasets of the run config)") from None


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
