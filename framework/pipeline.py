"""Config-driven runs: datasets × systems → cached runs → metrics → a leaderboard.

A run config (TOML)::

    [run]
    name = "quickstart"
    datasets = ["../shared/data/scifact"]   # BEIR folders
    split = "test"
    metrics = ["ndcg@10", "recall@100"]
    k = 1000                                 # documents retrieved per query
    output = "runs/quickstart"               # cache of runs + results.parquet

    [systems.bm25]
    retriever = "bm25"
    params = { k1 = 0.9, b = 0.4 }

    [systems.minilm]
    retriever = "dense"
    params = { model = "minilm" }

    [systems.hybrid]                          # fuses the runs of other systems
    inputs = ["bm25", "minilm"]
    fusion = "rrf"

Every (system, dataset) run is cached as Parquet under ``output/runs/`` with a key that
hashes the system's full definition (inputs included), the dataset folder and split, and
``k``; a cached run is reused, so an interrupted ``rankarena run`` resumes where it
stopped. Results are appended to ``output/results.parquet`` once per (run key, metric).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankarena.data import Results, Run
from rankarena.errors import DataFormatError, ParameterError
from rankarena.evaluate import evaluate
from rankarena.fusion import fuse
from rankarena.observe import RunInfo

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
        unknown = set(system) - SYSTEM_KEYS
        if unknown:
            raise DataFormatError(
                path,
                f"[systems.{name}] unknown key(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(sorted(SYSTEM_KEYS))}",
            )
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
    output = Path(run.get("output", f"runs/{run.get('name', path.stem)}"))
    return RunConfig(
        name=str(run.get("name", path.stem)),
        datasets=[
            str((base / d).resolve()) if not Path(d).is_absolute() else d for d in run["datasets"]
        ],
        split=str(run.get("split", "test")),
        metrics=[str(m) for m in run["metrics"]],
        k=int(run.get("k", 1000)),
        output=output if output.is_absolute() else (base / output).resolve(),
        systems=systems,
    )


def system_key(config: RunConfig, name: str, dataset: str) -> str:
    """Cache key of one (system, dataset) run: its definition, inputs included."""

    def definition(system_name: str) -> dict[str, Any]:
        system = dict(config.systems[system_name])
        system["inputs"] = [definition(i) for i in system.get("inputs", [])]
        return system

    payload = {"system": definition(name), "dataset": dataset, "split": config.split, "k": config.k}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


class Runner:
    """Executes a ``RunConfig`` locally, caching every run.

    :param host: the ``PluginHost`` whose registries build the components.
    :param device: ``--device``; passed to components that take a ``device`` parameter.
    :param log: a function printing progress lines.
    """

    def __init__(self, config: RunConfig, host, device: str | None = None, log=print):
        self.config, self.host, self.device, self.log = config, host, device, log
        self.run_dir = config.output / "runs"
        self.store = config.output / "results.parquet"
        self.computed = 0
        self.reused = 0

    def execute(self) -> Results:
        """Produce (or reuse) every run, evaluate it, and return all results of this config."""
        info = RunInfo("run", {"name": self.config.name, "config": str(self.config.output)})
        self.host.notify_run_start(info)
        done = self._done_keys()
        for dataset_path in self.config.datasets:
            dataset = self.host.datasets.create("beir", path=dataset_path)
            qrels = dataset.qrels(self.config.split)
            for name in self.config.systems:
                key = system_key(self.config, name, dataset_path)
                cached = (self.run_dir / f"{key}.parquet").exists()
                self.reused += cached
                if key in done and cached:  # evaluated before: nothing to load
                    continue
                run = self._run(name, dataset, dataset_path)
                if key in done:
                    continue
                evaluation = evaluate(run, qrels, self.config.metrics, host=self.host)
                results = evaluation.to_results(name, dataset.name, self.config.split, run_id=key)
                for row in results.table.to_pylist():
                    self.host.notify_result(row)
                results.append_to(self.store)
        all_results = self.results()
        self.host.notify_run_end(info, all_results)
        return all_results

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

    def _done_keys(self) -> set[str]:
        if not self.store.exists():
            return set()
        return set(Results.from_parquet(self.store).table.column("run_id").to_pylist())

    def _run(self, name: str, dataset, dataset_path: str) -> Run:
        key = system_key(self.config, name, dataset_path)
        path = self.run_dir / f"{key}.parquet"
        if path.exists():
            return Run.from_parquet(path)
        system = self.config.systems[name]
        queries = dataset.queries(self.config.split)
        if "inputs" in system:
            runs = [self._run(source, dataset, dataset_path) for source in system["inputs"]]
            params = dict(system.get("fusion_params", {}))
            run = fuse(runs, system.get("fusion", "rrf"), **params).top(self.config.k)
        else:
            self.log(f"{name} on {dataset.name}: indexing and searching")
            retriever = self._create("retrievers", system["retriever"], system.get("params", {}))
            run = retriever.index(dataset.corpus).search(queries, k=self.config.k)
        if "reranker" in system:
            self.log(f"{name} on {dataset.name}: reranking")
            reranker = self._create(
                "rerankers", system["reranker"], system.get("reranker_params", {})
            )
            run = reranker.rerank(queries, dataset.corpus, run, k=system.get("rerank_k", 100))
        run.to_parquet(path)
        self.computed += 1
        return run

    def _create(self, kind: str, name: str, params: dict[str, Any]):
        registry = self.host.registry(kind)
        params = dict(params)
        spec = registry.get(name)
        if self.device and "device" in {p.name for p in spec.parameters}:
            params.setdefault("device", self.device)
        try:
            return registry.create(name, **params)
        except ParameterError as exc:
            raise ParameterError(f"{exc} (in the run config)") from None
