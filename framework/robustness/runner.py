"""Robustness runs: how much of each system's effectiveness survives perturbed input.

A robustness config is a run config (``rankarena.runs.pipeline``: ``[run]``, ``[systems.NAME]``)
with a ``[robustness]`` table, following the three dimensions of Wu et al. 2022, "Are Neural
Ranking Models Robust?" (ACM TOIS)::

    [robustness]
    seed = 0                 # perturbations are seeded by (seed, perturbation, intensity)
    bootstrap = 1000         # resamples of the queries for 95% intervals
    tau_k = 100              # depth of the Kendall τ between original and perturbed rankings

    [[robustness.perturbations]]          # registered perturbation plugins
    name = "typos"
    intensities = [0.1, 0.3]
    params = {}                            # other constructor parameters

    [[robustness.perturbations]]          # document perturbations patch the corpus
    name = "term-stuffing"
    intensities = [0.05]
    reference = "bm25"                     # stuff each query's terms into its top-``depth``
    depth = 10                             # non-relevant documents under this system

    [robustness.tuned_on]                  # out-of-distribution table: system -> its
    minilm-scifact = "scifact"             # training dataset (others are out of domain)

    [robustness.multiplicity]              # near-equal models: the same system, other seeds
    minilm-tuned = ["tuned-s0", "tuned-s1", "tuned-s2"]

For every system × dataset × perturbation × intensity the queries of the split are perturbed
(query perturbations) or the corpus is (document perturbations: only the changed documents
are re-encoded by retrievers that implement ``patched``, e.g. ``dense``), the system searches
(indexes are built once and reused), and every metric is evaluated. All systems see the same
perturbed text: the draw is seeded by (seed, perturbation, intensity, dataset).
Reported:

* **adversarial/perturbation dimension** — original and perturbed mean, absolute drop
  (original − perturbed), relative drop (drop / original), a paired bootstrap 95% interval
  of the drop (queries resampled), and the mean Kendall τ-b per query between the original
  and the perturbed top-``tau_k`` (``rankarena.leaderboard.rank_agreement``);
* **i.i.d. dimension** — for the unperturbed runs, the per-query standard deviation of each
  metric and bootstrap 95% intervals of its mean and of that standard deviation;
* **out-of-distribution dimension** — for systems with ``tuned_on``, the metric on the
  training domain and on every other dataset;
* **multiplicity** — for each group of near-equal systems (e.g. one recipe, several seeds):
  the spread (standard deviation) of the members' means, the mean per-query range of the
  metric across members, and the mean Jaccard overlap of the members' top-10 lists
  (predictive multiplicity: Marx, Calmon & Ustun, ICML 2020, for rankings).

Perturbed evaluations go into the results store (``OUTPUT/results.parquet``) with
``variant = "PERTURBATION@INTENSITY"`` (and a ``kendall-tau@K`` metric), so aggregators can
rank systems by robustness; the perturbed runs are cached (``OUTPUT/robustness/``), so an
interrupted run resumes.

Every run is a cell (``rankarena.runs.cells``: system × dataset × view) of the config's
executor (``[run] executor``; ``rankarena.retrieval.executors``): first the unperturbed runs, then
every perturbation's view (drawn once in the driver and shipped with its cells), then the
attacked corpus, each grid in waves so that fusions follow their inputs. The driver
evaluates and stores each run as it arrives.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.datasets import dataset_content, open_dataset
from ..core.observe import RunInfo
from ..core.recorder import ResultsRecorder
from ..core.registry import check_parameters
from ..core.toml_config import read_toml, table, typed
from ..data import Results, Run
from ..data.fingerprint import digest_json
from ..data.locks import output_lock
from ..errors import (
    DataFormatError,
    ParameterError,
    RankarenaError,
    reject_unknown_keys,
)
from ..evaluate import evaluate
from ..leaderboard.rank_agreement import per_query_tau, top_lists
from ..retrieval.executors import Executor, run_executor
from ..runs.cells import Cell, CellWork, View, cell_resources, cell_work
from ..runs.pipeline import (
    RunConfig,
    check_datasets,
    check_systems,
    load_config,
    resolve_defaults,
    system_key,
    system_waves,
)
from ..runs.system_search import SystemSearch
from .text_noise import query_terms
from .topic_attack import (
    AttackConfig,
    SurrogateOracle,
    attack_group,
    choose_target,
    ranks_in,
    success_rows,
    topic_groups,
)

ROBUSTNESS_KEYS = {
    "seed",
    "bootstrap",
    "tau_k",
    "perturbations",
    "tuned_on",
    "multiplicity",
    "attack",
}
PERTURBATION_KEYS = {"name", "intensities", "params", "reference", "depth"}


@dataclass(frozen=True)
class PerturbationSpec:
    """One ``[[robustness.perturbations]]`` entry."""

    name: str
    intensities: tuple[float, ...]
    params: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None  # term stuffing: whose run picks the documents to stuff
    depth: int = 10  # ... its top-``depth`` non-relevant documents of each query

    def variant(self, intensity: float) -> str:
        return f"{self.name}@{intensity:g}"


@dataclass
class RobustnessConfig:
    """A run config plus its ``[robustness]`` table (see the module docstring)."""

    run: RunConfig
    perturbations: list[PerturbationSpec]
    seed: int = 0
    bootstrap: int = 1000
    tau_k: int = 100
    tuned_on: dict[str, str] = field(default_factory=dict)
    multiplicity: dict[str, list[str]] = field(default_factory=dict)
    attack: AttackConfig | None = None


def load_robustness_config(path: str | Path) -> RobustnessConfig:
    """Read a run config with a ``[robustness]`` table; errors name the file and the key.
    Unknown keys are errors and every value is type-checked, as in ``load_config``."""
    path = Path(path)
    run = load_config(path)
    raw = read_toml(path).get("robustness")
    if not isinstance(raw, dict):
        raise DataFormatError(path, "missing [robustness] table")
    reject_unknown_keys(path, "[robustness]", raw, ROBUSTNESS_KEYS)
    seed = typed(path, "[robustness]", raw, "seed", int, 0)
    specs = []
    items = raw.get("perturbations", [])
    if not isinstance(items, list):
        raise DataFormatError(
            path, "[robustness] perturbations must be [[robustness.perturbations]]"
        )
    for number, item in enumerate(items, start=1):
        where = f"[[robustness.perturbations]] #{number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DataFormatError(path, f"{where} needs a name")
        reject_unknown_keys(path, where, item, PERTURBATION_KEYS)
        levels = item.get("intensities")
        if not isinstance(levels, list) or not levels:
            raise DataFormatError(path, f"{where} ({item['name']}) needs a list of intensities")
        if not all(_is_number(v) and 0 <= v <= 1 for v in levels):
            raise DataFormatError(path, f"{where} ({item['name']}): intensities must be in [0, 1]")
        reference = typed(path, where, item, "reference", str, None)
        if reference is not None and reference not in run.systems:
            raise DataFormatError(
                path, f"{where} reference {reference!r} is not a system: {', '.join(run.systems)}"
            )
        specs.append(
            PerturbationSpec(
                item["name"],
                tuple(float(v) for v in levels),
                dict(table(path, where, item, "params")),
                reference,
                typed(path, where, item, "depth", int, 10, minimum=1),
            )
        )
    tuned_on = table(path, "[robustness]", raw, "tuned_on")
    multiplicity = table(path, "[robustness]", raw, "multiplicity")
    for system in tuned_on:
        typed(path, "[robustness.tuned_on]", tuned_on, system, str)
    for group in multiplicity:
        typed(path, "[robustness.multiplicity]", multiplicity, group, list, items=str)
    for system in [*tuned_on, *itertools.chain(*multiplicity.values())]:
        if system not in run.systems:
            raise DataFormatError(
                path, f"[robustness] names system {system!r}; systems: {', '.join(run.systems)}"
            )
    for group, members in multiplicity.items():
        if len(members) < 2:
            raise DataFormatError(path, f"[robustness.multiplicity] {group} needs two systems")
    attack = _attack_config(path, raw, run, seed) if "attack" in raw else None
    return RobustnessConfig(
        run=run,
        attack=attack,
        perturbations=specs,
        seed=seed,
        bootstrap=typed(path, "[robustness]", raw, "bootstrap", int, 1000, minimum=0),
        tau_k=typed(path, "[robustness]", raw, "tau_k", int, 100, minimum=1),
        tuned_on={str(k): str(v) for k, v in tuned_on.items()},
        multiplicity={str(k): list(v) for k, v in multiplicity.items()},
    )


def _attack_config(path: Path, raw: dict[str, Any], run: RunConfig, seed: int) -> AttackConfig:
    """``[robustness.attack]``, checked: known keys, integer settings, a dense surrogate."""
    settings = dict(table(path, "[robustness]", raw, "attack"))
    names = set(AttackConfig.__dataclass_fields__)
    reject_unknown_keys(path, "[robustness.attack]", settings, names)
    surrogate = typed(path, "[robustness.attack]", settings, "surrogate", str)
    if surrogate not in run.systems:
        raise DataFormatError(path, f"[robustness.attack] surrogate {surrogate!r} is not a system")
    for name in names - {"surrogate"}:
        typed(path, "[robustness.attack]", settings, name, int, None)
    settings.setdefault("seed", seed)
    attack = AttackConfig(**settings)
    try:
        attack.check()
    except ParameterError as exc:
        raise DataFormatError(path, str(exc)) from None
    return attack


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_perturbations(config: RobustnessConfig, host) -> None:
    """Every perturbation is registered, has a known target and takes the given parameters;
    one that needs ``terms`` (term stuffing) names a ``reference`` system."""
    for spec in config.perturbations:
        try:
            component = host.perturbations.get(spec.name)
            check_parameters(component, {"intensity": 0.0, **spec.params})
        except RankarenaError as exc:
            raise ParameterError(f"{exc} (in [robustness] perturbations)") from None
        target = getattr(component.factory, "target", None)
        if target not in ("queries", "documents"):
            raise ParameterError(
                f"perturbation {spec.name!r} targets {target!r}; valid: queries, documents"
            )
        if _takes_terms(component.factory) and spec.reference is None:
            raise ParameterError(
                f"perturbation {spec.name!r} injects query terms: give reference = SYSTEM "
                "(its top-depth non-relevant documents per query are stuffed)"
            )


def _takes_terms(factory) -> bool:
    import inspect

    apply = getattr(factory, "apply", None)
    return apply is not None and "terms" in inspect.signature(apply).parameters


def perturbation_rng(seed: int, name: str, intensity: float, dataset: str) -> np.random.Generator:
    """The generator of one (perturbation, intensity, dataset) draw: the same for every
    system, so all systems see the same perturbed queries."""
    salt = zlib.crc32(f"{name}|{intensity:g}|{dataset}".encode())
    return np.random.default_rng([seed, salt])


def bootstrap_interval(
    values: np.ndarray, statistic, resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile 95% interval of ``statistic`` over query resamples (nan if none)."""
    if resamples == 0 or len(values) == 0:
        return math.nan, math.nan
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    stats = statistic(values[picks])
    return float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))


@dataclass
class RobustnessReport:
    """The tables of one robustness run (lists of dicts; see the module docstring)."""

    drops: list[dict[str, Any]]
    iid: list[dict[str, Any]]
    ood: list[dict[str, Any]]
    multiplicity: list[dict[str, Any]]
    attack: list[dict[str, Any]] = field(default_factory=list)


class RobustnessRunner:
    """Executes a ``RobustnessConfig`` (see the module docstring).

    :param executor: ``"local"``, ``"ray"`` or an ``Executor`` (default: the config's
        ``[run] executor``); an executor built here is closed at the end of ``execute``.
    """

    def __init__(
        self,
        config: RobustnessConfig,
        host,
        device: str | None = None,
        log=print,
        executor: str | Executor | None = None,
    ):
        check_systems(config.run, host)
        check_datasets(config.run, host)
        check_perturbations(config, host)
        self.config, self.host, self.device, self.log = config, host, device, log
        self.definition = config.run
        self.run_config = resolve_defaults(config.run, host)
        self.executor = config.run.executor if executor is None else executor
        self.waves = system_waves(self.run_config)
        self.cache = config.run.output / "robustness"
        self.store = config.run.output / "results.parquet"
        self.computed = 0
        self.reused = 0
        self._content: dict[str, str] = {}
        self._view_digests: dict[tuple[str, str], str] = {}
        self._datasets: dict[str, Any] = {}
        self._recorder: ResultsRecorder | None = None

    def execute(self) -> RobustnessReport:
        """Compute (or reuse) every run, store the evaluations, return the tables (the
        output folder is locked meanwhile, as by ``rankarena run``)."""
        info = RunInfo("robustness", {"config": str(self.config.run.output)})
        with (
            output_lock(self.config.run.output, self.log),
            ResultsRecorder(self.host, info, self.store) as self._recorder,
            run_executor(self.executor, self.run_config.ray) as executor,
        ):  # on_run_end, after the executor is closed, gets every result this run stored
            work = cell_work(
                self.run_config,
                self.definition,
                executor,
                self.host,
                self.device,
                self.log,
                keep_indexes=True,
            )
            resources = cell_resources(self.run_config, self.host, self.device)
            report = self._execute(_Grid(self, executor, work, resources), work)
        return report

    def dataset(self, reference: str):
        """The dataset ``reference`` (an entry of ``[run] datasets``) names, opened once
        through the host's dataset sources (``open_dataset``)."""
        if reference not in self._datasets:
            self._datasets[reference] = open_dataset(self.host, reference)
        return self._datasets[reference]

    def _execute(self, grid: _Grid, work: CellWork) -> RobustnessReport:
        metrics = self.config.run.metrics
        split = self.config.run.split
        systems = list(self.config.run.systems)
        paths = list(self.config.run.datasets)
        datasets = {path: self.dataset(path) for path in paths}

        # the unperturbed runs: every system on every dataset
        originals: dict[tuple[str, str], Run] = {}
        evaluated: dict[tuple[str, str], Any] = {}
        for name, path, _, run in grid.runs([(path, View()) for path in paths]):
            dataset = datasets[path]
            originals[name, path] = run
            evaluation = evaluate(run, dataset.qrels(split), metrics, host=self.host)
            key = self._key(name, path, "")
            self._store(evaluation.to_results(name, dataset.name, split, run_id=key))
            evaluated[name, path] = evaluation
        evaluations = {
            (name, datasets[path].name): (evaluated[name, path], originals[name, path])
            for path in paths
            for name in systems
        }
        iid = [
            row
            for path in paths
            for name in systems
            for row in self._iid_rows(name, datasets[path].name, evaluated[name, path])
        ]

        # every perturbation and intensity: one view per dataset, searched by every system
        jobs = []
        for path in paths:
            dataset = datasets[path]
            queries = dataset.queries(split)
            reference = {name: originals[name, path] for name in systems}
            for spec in self.config.perturbations:
                for intensity in spec.intensities:
                    view = self._view(spec, intensity, dataset, queries, reference)
                    self._view_digests[path, view.variant] = digest_json(
                        [view.queries, view.changed]
                    )
                    jobs.append((path, view))
        drops: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for name, path, variant, run in grid.runs(jobs):
            dataset = datasets[path]
            drops[path, variant, name] = self._drop_rows(
                name, dataset, path, variant, run, originals[name, path], evaluated[name, path]
            )
        ordered = [
            row
            for path, view in jobs
            for name in systems
            for row in drops[path, view.variant, name]
        ]

        attack = []
        if self.config.attack is not None:
            for path in paths:
                reference = {name: originals[name, path] for name in systems}
                attack.extend(self._attack(grid, work, datasets[path], path, reference))
        return RobustnessReport(
            drops=ordered,
            iid=iid,
            ood=self._ood_rows(evaluations),
            multiplicity=self._multiplicity_rows(evaluations),
            attack=attack,
        )

    def _view(self, spec: PerturbationSpec, intensity: float, dataset, queries, originals) -> View:
        """The view of one perturbation: perturbed query texts, or changed documents."""
        variant = spec.variant(intensity)
        perturbation = self.host.perturbations.create(spec.name, intensity=intensity, **spec.params)
        rng = perturbation_rng(self.config.seed, spec.name, intensity, dataset.name)
        if perturbation.target == "queries":
            texts = perturbation.apply(queries.to_dict(), rng)
            if list(texts) != list(queries.ids):
                raise ParameterError(f"perturbation {spec.name!r} changed the query ids")
            return View(variant, queries=dict(texts))
        documents = dict(
            zip(
                dataset.corpus.ids,
                dataset.corpus.table.column("text").to_pylist(),
                strict=True,
            )
        )
        if _takes_terms(type(perturbation)):
            terms = self._stuffing_terms(spec, dataset, queries, originals[spec.reference])
            chosen = {d: documents[d] for d in terms}
            changed = perturbation.apply(chosen, rng, terms=terms)
        else:
            changed = perturbation.apply(documents, rng)
        if set(changed) - set(documents):
            raise ParameterError(f"perturbation {spec.name!r} changed the document ids")
        return View(variant, changed={d: t for d, t in changed.items() if t != documents[d]})

    def _stuffing_terms(self, spec, dataset, queries, reference: Run) -> dict[str, list[str]]:
        """Each query's top-``depth`` non-relevant documents in the reference run get that
        query's terms (a document chosen by several queries: the first query's)."""
        judged = dataset.qrels(self.config.run.split).to_dict()
        texts = queries.to_dict()
        terms: dict[str, list[str]] = {}
        for query, docs in top_lists(reference, 10 * spec.depth).items():
            relevant = {d for d, g in judged.get(query, {}).items() if g > 0}
            picked = [d for d in docs if d not in relevant][: spec.depth]
            for doc in picked:
                terms.setdefault(doc, query_terms(texts[query]))
        return terms

    # ------------------------------------------------------------------ runs
    def _key(self, name: str, dataset_path: str, variant: str) -> str:
        """A run's cache key: the system's key on the dataset (its content included) and,
        for a perturbed run, the perturbation and the digest of the view it searched (the
        perturbed texts: a view that depends on the qrels, like term stuffing, changes
        with them)."""
        if dataset_path not in self._content:
            source = self.dataset(dataset_path)
            self._content[dataset_path] = dataset_content(source, self.config.run.split)
        base = system_key(self.run_config, name, dataset_path, self._content[dataset_path])
        if not variant:
            return base
        spec = next(s for s in self.config.perturbations if variant.startswith(s.name + "@"))
        payload = json.dumps(
            [
                base,
                variant,
                spec.params,
                spec.reference,
                spec.depth,
                self.config.seed,
                self._view_digests[dataset_path, variant],
            ],
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    # ------------------------------------------------------------------ attack
    def _attack(
        self, grid: _Grid, work: CellWork, dataset, dataset_path: str, originals: dict[str, Run]
    ) -> list[dict]:
        """The topic-oriented attack on ``dataset`` (``rankarena.robustness.topic_attack``): planned
        in this process against the surrogate, then every system searches the attacked
        corpus (cells of the executor)."""
        config = self.config.attack
        split = self.config.run.split
        queries, qrels = dataset.queries(split), dataset.qrels(split).to_dict()
        search = work.searcher(self.host) if work.host is not None else None
        if search is None:  # the cells run elsewhere: index the surrogate here
            search = SystemSearch(
                self.run_config, self.definition, self.host, self.device, self.log, True
            )
        surrogate = search.retriever(config.surrogate, dataset)
        oracle = SurrogateOracle(surrogate, list(dataset.corpus.ids))
        rng = np.random.default_rng([config.seed, zlib.crc32(dataset.name.encode())])
        texts = queries.to_dict()
        ids = list(texts)
        vectors = surrogate.encode_queries([texts[q] for q in ids])
        groups = topic_groups(vectors, config.groups, config.group_size, rng)
        documents = {row["_id"]: row for row in dataset.corpus.table.to_pylist()}
        changed, plan = {}, []
        for number, rows in enumerate(groups, start=1):
            group = [ids[i] for i in rows]
            group_texts = [texts[q] for q in group]
            scores = oracle.set_queries(group_texts)
            judged = {d for q in group for d, g in qrels.get(q, {}).items() if g > 0}
            target = choose_target(scores, oracle.doc_ids, judged | set(changed), config, rng)
            if target is None:
                self.log(f"attack group {number}: no target in the rank window; skipped")
                continue
            doc = documents[target]
            prefix = surrogate.doc_prefix + (
                doc.get("title", "") + " " if surrogate.with_title and doc.get("title") else ""
            )
            result = attack_group(oracle, group_texts, target, doc["text"], config, rng, prefix)
            changed[target] = result["text"]
            plan.append((number, group, target, result))
            rose = float(np.mean(result["after"] < result["before"]))
            self.log(
                f"attack group {number} ({len(group)} queries), target {target}: "
                f"{result['edits']} edits, surrogate ranks {result['before'].tolist()} -> "
                f"{result['after'].tolist()} (rose for {rose:.0%})"
            )
        if not plan:
            return []
        attacked = [q for _, group, _, _ in plan for q in group]
        view = View("topic-attack", queries={q: texts[q] for q in attacked}, changed=changed)
        runs = {name: run for name, _, _, run in grid.runs([(dataset_path, view)], cached=False)}
        rows, depth = [], self.config.run.k
        pairs = [(q, target) for _, group, target, _ in plan for q in group]
        for name in self.config.run.systems:
            ranks_before = ranks_in(originals[name], pairs, depth)
            ranks_after = ranks_in(runs[name], pairs, depth)
            for number, group, target, _ in plan:
                before = {q: ranks_before[q, target] for q in group}
                after = {q: ranks_after[q, target] for q in group}
                row = success_rows(name, number, target, before, after, config.top_k)
                row.update(dataset=dataset.name, surrogate=name == config.surrogate)
                rows.append(row)
        self._store_attack(rows, dataset.name, dataset_path)
        return rows

    def _store_attack(self, rows: list[dict], dataset: str, dataset_path: str) -> None:
        out = []
        for name in self.config.run.systems:
            mine = [r for r in rows if r["system"] == name]
            key = self._key(name, dataset_path, "") + "-attack"
            for metric, field_name in (
                (f"attack-top{self.config.attack.top_k}", "entered_top_k"),
                ("attack-promoted", "promoted"),
            ):
                out.append(
                    {
                        "system": name,
                        "dataset": dataset,
                        "split": self.config.run.split,
                        "variant": "topic-attack",
                        "metric": metric,
                        "value": float(np.mean([r[field_name] for r in mine])),
                        "query_id": None,
                        "run_id": key,
                    }
                )
        self._store(Results.from_rows(out))

    # ------------------------------------------------------------------ tables
    def _rng(self, *parts: str) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, zlib.crc32("|".join(parts).encode())])

    def _store(self, results: Results) -> None:
        """Record into the store (``ResultsRecorder``: observers see each row, then rows of
        the same run, metric and evaluation key replace the stored ones), so a rerun never
        duplicates and a changed qrels file or metric is stored anew."""
        if self._recorder is None:
            raise RuntimeError("RobustnessRunner stores results only during execute()")
        self._recorder.record(results)

    def _iid_rows(self, name: str, dataset: str, evaluation) -> list[dict[str, Any]]:
        rows = []
        for metric, values in evaluation.per_query.items():
            rng = self._rng("iid", name, dataset, metric)
            rows.append(
                {
                    "system": name,
                    "dataset": dataset,
                    "metric": metric,
                    "mean": float(values.mean()),
                    "mean_ci": bootstrap_interval(
                        values, lambda v: v.mean(axis=1), self.config.bootstrap, rng
                    ),
                    "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "std_ci": bootstrap_interval(
                        values, lambda v: v.std(axis=1, ddof=1), self.config.bootstrap, rng
                    ),
                    "queries": len(values),
                }
            )
        return rows

    def _drop_rows(self, name, dataset, dataset_path, variant, run, original_run, original):
        metrics = self.config.run.metrics
        split = self.config.run.split
        perturbed = evaluate(run, dataset.qrels(split), metrics, host=self.host)
        key = self._key(name, dataset_path, variant)
        results = perturbed.to_results(
            name, dataset.name, split, variant, per_query=True, run_id=key
        )
        query_ids = perturbed.query_ids
        tau = per_query_tau(original_run, run, self.config.tau_k, query_ids)
        tau_name = f"kendall-tau@{self.config.tau_k}"
        tau_rows = Results.from_rows(
            [
                {
                    "system": name,
                    "dataset": dataset.name,
                    "split": split,
                    "variant": variant,
                    "metric": tau_name,
                    "value": float(tau.mean()) if len(tau) else math.nan,
                    "query_id": None,
                    "run_id": key,
                }
            ]
        )
        self._store(results.concat(tau_rows))
        position = {q: i for i, q in enumerate(original.query_ids)}
        perturbed_position = {q: i for i, q in enumerate(query_ids)}
        rows = []
        perturbation, _, level = variant.rpartition("@")
        for metric in metrics:
            before = original.per_query[metric]
            after = perturbed.per_query[metric]
            # pair by query id (a perturbed query with no results is evaluated as absent)
            common = [q for q in query_ids if q in position]
            a = before[[position[q] for q in common]]
            b = after[[perturbed_position[q] for q in common]]
            diff = a - b
            rng = self._rng("drop", name, dataset.name, variant, metric)
            base = float(before.mean())
            after_mean = float(after.mean()) if len(after) else 0.0
            rows.append(
                {
                    "system": name,
                    "dataset": dataset.name,
                    "perturbation": perturbation,
                    "intensity": float(level),
                    "metric": metric,
                    "original": base,
                    "perturbed": after_mean,
                    "drop": base - after_mean,
                    "relative_drop": (base - after_mean) / base if base else math.nan,
                    "drop_ci": bootstrap_interval(
                        diff, lambda v: v.mean(axis=1), self.config.bootstrap, rng
                    ),
                    "kendall_tau": float(tau.mean()) if len(tau) else math.nan,
                }
            )
        return rows

    def _ood_rows(self, evaluations) -> list[dict[str, Any]]:
        rows = []
        for system, home in self.config.tuned_on.items():
            for (name, dataset), (evaluation, _) in evaluations.items():
                if name != system:
                    continue
                for metric, value in evaluation.mean.items():
                    rows.append(
                        {
                            "system": system,
                            "tuned_on": home,
                            "dataset": dataset,
                            "in_domain": dataset == home,
                            "metric": metric,
                            "value": value,
                        }
                    )
        return rows

    def _multiplicity_rows(self, evaluations) -> list[dict[str, Any]]:
        rows = []
        datasets = list(dict.fromkeys(d for _, d in evaluations))
        for group, members in self.config.multiplicity.items():
            for dataset in datasets:
                found = [evaluations[(m, dataset)] for m in members if (m, dataset) in evaluations]
                if len(found) < 2:
                    continue
                lists = [top_lists(run, 10) for _, run in found]
                queries = found[0][0].query_ids
                overlap = []
                for q in queries:
                    sets = [set(lst.get(q, [])) for lst in lists]
                    for x, y in itertools.combinations(sets, 2):
                        union = x | y
                        overlap.append(len(x & y) / len(union) if union else 1.0)
                for metric in self.config.run.metrics:
                    means = [ev.mean[metric] for ev, _ in found]
                    per_query = np.stack([_aligned(ev, metric, queries) for ev, _ in found])
                    rows.append(
                        {
                            "group": group,
                            "dataset": dataset,
                            "metric": metric,
                            "members": len(found),
                            "mean": float(np.mean(means)),
                            "std_of_means": float(np.std(means, ddof=1)),
                            "mean_query_range": float(np.ptp(per_query, axis=0).mean()),
                            "top10_jaccard": float(np.mean(overlap)) if overlap else math.nan,
                        }
                    )
        return rows


class _Grid:
    """Every system's run of each (dataset path, view) job, in waves (fusions after their
    inputs), computed by the executor; runs of unperturbed and perturbed datasets are cached
    under ``OUTPUT/robustness/runs``."""

    def __init__(self, runner: RobustnessRunner, executor: Executor, work: CellWork, resources):
        self.runner, self.executor, self.work, self.resources = runner, executor, work, resources

    def runs(self, jobs: list[tuple[str, View]], cached: bool = True):
        """``(system, dataset path, variant, run)`` for every system and job, as runs finish."""
        runner = self.runner
        systems = runner.run_config.systems
        done: dict[tuple[str, str, str], Run] = {}
        for wave in runner.waves:
            cells = []
            for path, view in jobs:
                for name in wave:
                    file = self._file(name, path, view.variant) if cached else None
                    if file is not None and file.exists():
                        runner.reused += 1
                        done[name, path, view.variant] = run = Run.from_parquet(file)
                        yield name, path, view.variant, run
                        continue
                    inputs = {
                        source: done[source, path, view.variant]
                        for source in systems[name].get("inputs", [])
                    }
                    key = runner._key(name, path, view.variant) if cached else ""
                    cells.append(Cell(name, path, key, inputs, view=view))
            for cell, result in self.executor.map(self.work, cells, self.resources):
                variant = cell.view.variant
                run = result.run
                if cached:
                    run.to_parquet(self._file(cell.system, cell.dataset, variant))
                runner.computed += 1
                label = variant or "original"
                runner.log(f"{cell.system} on {result.dataset} ({label}): {result.seconds:.1f} s")
                done[cell.system, cell.dataset, variant] = run
                yield cell.system, cell.dataset, variant, run

    def _file(self, name: str, path: str, variant: str) -> Path:
        return self.runner.cache / "runs" / f"{self.runner._key(name, path, variant)}.parquet"


def _aligned(evaluation, metric: str, query_ids: list[str]) -> np.ndarray:
    position = {q: i for i, q in enumerate(evaluation.query_ids)}
    values = evaluation.per_query[metric]
    return np.array([values[position[q]] if q in position else 0.0 for q in query_ids])
