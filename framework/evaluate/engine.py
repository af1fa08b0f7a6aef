"""``evaluate(run, qrels, metrics)``: per-query and mean values of any registered metrics.

Every value carries an *evaluation key* (``evaluation_key``): a digest of the qrels'
content, the metric's name and parameters and the evaluation options. Together with the
run's key it says exactly what a stored value was computed from, so a store reuses a value
only when none of these changed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.compute as pc

from ..data.fingerprint import digest_json, qrels_fingerprint
from ..data.qrels import Qrels
from ..data.results import Results
from ..data.run import Run
from ..data.table import table_from_columns
from ..errors import DataFormatError, ParameterError
from .judged import JudgedRun
from .metric import MetricLike, expand_metric_sets, parse_metric_name


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


#: How per-query values become a run's value, by a metric's ``summary`` (trec_eval's
#: ``calc_avg`` per measure): the arithmetic mean; the sum (trec_eval's ``num_ret``,
#: ``num_rel``, ``num_rel_ret``); exp of the mean (per-query values that are logarithms:
#: trec_eval's ``gm_map`` = exp((1/n) Σ ln max(AP, 10⁻⁵))). 0 over no query (1 for
#: ``exp_mean`` would claim a perfect run).
SUMMARIES: dict[str, Callable[[np.ndarray], float]] = {
    "mean": _mean,
    "sum": lambda values: float(values.sum()),
    "exp_mean": lambda values: float(np.exp(values.mean())) if len(values) else 0.0,
}


def summary_rule(metric: MetricLike) -> str:
    """The metric's ``summary`` (``"mean"`` when it has none), checked against
    ``SUMMARIES``."""
    rule = getattr(metric, "summary", "mean")
    if rule not in SUMMARIES:
        raise ParameterError(
            f"metric {metric.name!r}: summary {rule!r} is not one of {', '.join(SUMMARIES)}"
        )
    return rule


@dataclass
class Evaluation:
    """Per-query values (``per_query[name]`` aligned with ``query_ids``) and the run's value
    of each metric.

    The run's value (``mean``) is the arithmetic mean over the evaluated queries (0 if
    none), except for metrics whose ``summary`` says otherwise (``summaries[name]``, a key
    of ``SUMMARIES``), as trec_eval's summary line: the sum for ``num_ret``, ``num_rel``,
    ``num_rel_ret``; GMAP = exp(mean of the per-query ln AP) for ``gm_map``.
    ``keys[name]`` is the metric's evaluation key (``evaluation_key``).
    """

    query_ids: list[str]
    per_query: dict[str, np.ndarray]
    metrics: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)

    @property
    def mean(self) -> dict[str, float]:
        """``{metric: the run's value}``: the mean over queries, or the metric's own
        summary (trec_eval's "all" line)."""
        return {
            name: SUMMARIES[self.summaries.get(name, "mean")](values)
            for name, values in self.per_query.items()
        }

    def to_results(
        self,
        system: str,
        dataset: str,
        split: str,
        variant: str = "",
        per_query: bool = False,
        run_id: str | None = None,
    ) -> Results:
        """The means (and per-query values if asked) as a long ``Results`` table."""
        run_id = run_id or uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        names, values, queries, keys = [], [], [], []
        means = self.mean
        for name in self.metrics:
            count = 1 + (len(self.query_ids) if per_query else 0)
            names.extend([name] * count)
            keys.extend([self.keys.get(name)] * count)
            values.append(means[name])
            queries.append(None)
            if per_query:
                values.extend(self.per_query[name].tolist())
                queries.extend(self.query_ids)
        n = len(names)
        return Results(
            table_from_columns(
                Results.SCHEMA,
                system=[system] * n,
                dataset=[dataset] * n,
                split=[split] * n,
                variant=[variant] * n,
                metric=names,
                value=values,
                query_id=queries,
                run_id=[run_id] * n,
                created_at=[now] * n,
                eval_key=keys,
            )
        )


def evaluation_key(qrels: Qrels, metric: str | MetricLike, **options: Any) -> str:
    """What a metric's value depends on besides the run: a digest of the qrels' content,
    the metric (name and parameters, ``ndcg@10`` → ``ndcg``, ``{k: 10}``) and the
    evaluation options (``relevance_level``, ``complete``, ``ignore_identical_ids``).

    A name is first built into its metric, whose own name is used: an alias and the
    registered name (``AP@100``, ``ap@100``, ``map@100``; ``RBP(p=0.8)``, ``rbp``) give one
    key, as they give one stored metric name."""
    if isinstance(metric, str):
        resolved = resolve_metrics([metric])
        if len(resolved) != 1:  # a set name ("trec") is many metrics, each with its own key
            raise ParameterError(
                f"evaluation_key takes one metric; {metric!r} is a set of {len(resolved)}"
            )
        metric = resolved[0]
    name = metric.name
    settings = {"relevance_level": 1, "complete": False, "ignore_identical_ids": False}
    unknown = set(options) - set(settings)
    if unknown:
        raise ParameterError(f"unknown evaluation option(s): {', '.join(sorted(unknown))}")
    settings.update(options)
    key = {"qrels": qrels_fingerprint(qrels), "metric": parse_metric_name(name), **settings}
    rule = summary_rule(metric)
    if rule != "mean":  # the run's value is another number: never reuse a mean for it
        key["summary"] = rule
    return digest_json(key)


def resolve_metrics(metrics: Sequence[str | MetricLike], host: Any = None) -> list[MetricLike]:
    """Turn names like ``"ndcg@10"`` into metric objects from the metrics registry; a set
    name (``"trec"``: ``METRIC_SETS``) stands for its metrics."""
    resolved: list[MetricLike] = []
    items = [
        expanded
        for item in metrics
        for expanded in (expand_metric_sets([item]) if isinstance(item, str) else [item])
    ]
    for item in items:
        if isinstance(item, str):
            if host is None:
                from ..core.host import plugin_manager

                host = plugin_manager()
            name, params = parse_metric_name(item)
            resolved.append(host.metrics.create(name, **params))
        elif isinstance(item, MetricLike):
            resolved.append(item)
        else:
            raise ParameterError(f"not a metric name or metric object: {item!r}")
    names = [m.name for m in resolved]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ParameterError(f"metric(s) listed twice: {', '.join(sorted(dup))}")
    return resolved


def evaluate(
    run: Run,
    qrels: Qrels,
    metrics: Sequence[str | MetricLike],
    *,
    relevance_level: int = 1,
    complete: bool = False,
    ignore_identical_ids: bool = False,
    host: Any = None,
) -> Evaluation:
    """Evaluate ``run`` against ``qrels`` with trec_eval semantics.

    :param metrics: names (``"ndcg@10"``, ``"recall@100"``, ``"map"``) or metric objects.
    :param relevance_level: minimum grade that counts as relevant (trec_eval ``-l``).
    :param complete: evaluate every qrels query, scoring queries missing from the run as 0
        (trec_eval ``-c``); by default only queries in both are evaluated.
    :param ignore_identical_ids: drop retrieved documents whose id equals the query id
        (BEIR's option), before ranks are counted.
    :param host: the ``PluginHost`` whose metrics registry resolves names.

    A run none of whose queries is in the qrels (a split or id mismatch) is an error, not
    a score of 0: ``FILE: 0 of 300 run queries are in the qrels``.
    """
    resolved = resolve_metrics(metrics, host)
    summaries = {m.name: summary_rule(m) for m in resolved}
    judged = JudgedRun(
        run,
        qrels,
        relevance_level=relevance_level,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
    )
    if judged.n_queries == 0:
        raise _no_overlap(run, qrels)
    per_query = per_query_values(resolved, judged)
    options = {
        "relevance_level": relevance_level,
        "complete": complete,
        "ignore_identical_ids": ignore_identical_ids,
    }
    names = [m.name for m in resolved]
    keys = {m.name: evaluation_key(qrels, m, **options) for m in resolved}
    return Evaluation(judged.query_ids.to_pylist(), per_query, names, keys, summaries)


def per_query_values(metrics: Sequence[MetricLike], judged: JudgedRun) -> dict[str, np.ndarray]:
    """``{metric name: per-query values}`` on ``judged``, each checked to hold one float
    per evaluated query."""
    per_query = {}
    for metric in metrics:
        values = np.asarray(metric.per_query(judged), dtype=np.float64)
        if values.shape != (judged.n_queries,):
            raise ParameterError(
                f"metric {metric.name!r} returned shape {values.shape}, "
                f"expected ({judged.n_queries},)"
            )
        per_query[metric.name] = values
    return per_query


def _no_overlap(run: Run, qrels: Qrels) -> DataFormatError:
    """The error for an evaluation with no query in common."""
    if not len(run):
        return no_overlap_error(qrels, run.source, 0, None)
    queries = len(pc.unique(run.table.column("query_id")))
    return no_overlap_error(qrels, run.source, queries, run.table.column("query_id")[0].as_py())


def no_overlap_error(
    qrels: Qrels, run_source: object, run_queries: int, first_query: str | None
) -> DataFormatError:
    """The error for a run with no query in the qrels: ``0 of 300 run queries are in the
    qrels (first run query: ...)``, or an empty qrels or run named as such."""
    if not len(qrels):
        return DataFormatError(qrels.source, "the qrels hold no judgement")
    if not run_queries:
        return DataFormatError(run_source, "the run has no rows: nothing to evaluate")
    return DataFormatError(
        qrels.source,
        f"0 of {run_queries} run queries are in the qrels "
        f"(first run query: {first_query!r}); check the split and the query ids",
    )
