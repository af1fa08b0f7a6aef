"""Conformance rules of metrics (``register_metrics``), checked on runs over the kit's
sample judgements.

What a metric declares (``rankarena.Metric`` gives the defaults):

* ``bounds``: ``(low, high)``, the range of a per-query value (``(0.0, 1.0)`` for
  ``Metric``; a count declares ``(0.0, math.inf)``);
* ``higher_is_better``: ``True`` unless lower values mean a better ranking (RBP's
  residual).

Rules:

* ``one-value-per-query``: ``per_query`` returns one finite value per evaluated query;
* ``range``: every value, on random, perfect, reversed and empty runs, lies in ``bounds``;
* ``perfect-run``: the judged documents ranked by grade (best first) score at least as well
  as the same documents in reverse order, on every query;
* ``empty-run``: a query with no retrieved document (evaluated as trec_eval ``-c`` does)
  gets a value, no better than its perfect run's;
* ``tie-order``: documents with equal scores are ranked as trec_eval ranks them (score
  descending, then document id descending): a run with ties has the values of the same
  run with those ties broken explicitly in that order;
* ``monotone-scores``, instead of ``tie-order`` for a metric declaring ``uses_scores =
  True`` (its value depends on how scores compare, across queries too, not only on each
  query's ranking: the pooled ``auc``, where tied scores are ties, not an order): the
  values are unchanged when every score of the run, ties included, goes through the same
  strictly increasing function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from ..core.host import PluginHost
from ..data import Qrels, Run
from ..evaluate.judged import JudgedRun
from . import sample
from .components import Component, subject
from .rules import Checklist, broken, require


def _values(metric: Any, run: Run, qrels: Qrels, complete: bool = False) -> dict[str, float]:
    judged = JudgedRun(run, qrels, complete=complete)
    values = np.asarray(metric.per_query(judged), dtype=np.float64)
    require(
        values.shape == (judged.n_queries,),
        f"per_query returned shape {values.shape} for {judged.n_queries} evaluated queries",
    )
    ids = judged.query_ids.to_pylist()
    bad = [q for q, v in zip(ids, values, strict=True) if not math.isfinite(v)]
    require(not bad, f"query {bad[:1]}: value is not finite" if bad else "")
    return dict(zip(ids, values.tolist(), strict=True))


def _runs() -> dict[str, Run]:
    """The runs the rules evaluate: random, perfect, reversed."""
    rng = np.random.default_rng(0)
    docs = list(sample.DOCUMENTS)
    random: dict[str, dict[str, float]] = {}
    perfect: dict[str, dict[str, float]] = {}
    reverse: dict[str, dict[str, float]] = {}
    for query, judged in sample.QRELS.items():
        picked = list(dict.fromkeys([*judged, *rng.choice(docs, size=6, replace=False)]))
        random[query] = {d: float(s) for d, s in zip(picked, rng.random(len(picked)), strict=True)}
        ideal = sorted(judged, key=lambda d: (-judged[d], d))
        perfect[query] = {d: float(len(ideal) - i) for i, d in enumerate(ideal)}
        reverse[query] = {d: float(i + 1) for i, d in enumerate(ideal)}
    return {
        "random": Run.from_dict(random),
        "perfect": Run.from_dict(perfect),
        "reversed": Run.from_dict(reverse),
    }


def _tied() -> tuple[Run, Run]:
    """A run with tied scores, and the same ranking with the ties broken as trec_eval does
    (score descending, then document id descending)."""
    rng = np.random.default_rng(1)
    docs = list(sample.DOCUMENTS)
    tied: dict[str, dict[str, float]] = {}
    broken_ties: dict[str, dict[str, float]] = {}
    for query, judged in sample.QRELS.items():
        picked = list(dict.fromkeys([*judged, *rng.choice(docs, size=5, replace=False)]))
        scores = {d: float(rng.integers(0, 3)) for d in picked}  # three scores: many ties
        tied[query] = scores
        order = sorted(picked, key=lambda d: (scores[d], d.encode()), reverse=True)
        broken_ties[query] = {d: float(len(order) - i) for i, d in enumerate(order)}
    return Run.from_dict(tied), Run.from_dict(broken_ties)


def check_metric(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a metric against every rule above; returns the rules passed.

    :param component: a registered metric name (``"ndcg"``) or its factory.
    :param params: the metric's parameters (``{"k": 10}``).
    :raises ConformanceError: naming each broken rule.
    """
    who = subject("metrics", component, params, host)
    rules = Checklist(who.label)
    metric = who.make()
    qrels = sample.qrels()
    runs = _runs()
    values = rules.rule(
        "one-value-per-query", lambda: {k: _values(metric, r, qrels) for k, r in runs.items()}
    )
    if values is None:
        return rules.verdict()
    better = 1.0 if getattr(metric, "higher_is_better", True) else -1.0
    empty_run = Run.from_dict({q: d for q, d in runs["perfect"].to_dict().items() if q != "q-sea"})

    def in_range():
        bounds = getattr(metric, "bounds", None)
        if not (isinstance(bounds, tuple) and len(bounds) == 2 and bounds[0] <= bounds[1]):
            broken(f"declare bounds = (low, high), the range of a value (got {bounds!r})")
        low, high = bounds
        seen = dict(values)
        seen["empty"] = _values(metric, empty_run, qrels, complete=True)
        for name, per_query in seen.items():
            for query, value in per_query.items():
                require(
                    low - 1e-12 <= value <= high + 1e-12,
                    f"{value} on the {name} run (query {query!r}) is outside bounds {bounds}",
                )

    rules.rule("range", in_range)

    def perfect():
        for query, best in values["perfect"].items():
            worse = values["reversed"][query]
            require(
                better * (best - worse) >= -1e-12,
                f"query {query!r}: the perfect ranking scores {best}, its reverse {worse}",
            )

    rules.rule("perfect-run", perfect)

    def empty():
        got = _values(metric, empty_run, qrels, complete=True)
        require("q-sea" in got, "the query without retrieved documents got no value")
        best = values["perfect"]["q-sea"]
        require(
            better * (best - got["q-sea"]) >= -1e-12,
            f"retrieving nothing scores {got['q-sea']}, better than the perfect run's {best}",
        )

    rules.rule("empty-run", empty)

    def ties():
        tied, explicit = _tied()
        a, b = _values(metric, tied, qrels), _values(metric, explicit, qrels)
        for query in a:
            require(
                abs(a[query] - b[query]) <= 1e-9 * max(1.0, abs(b[query])),
                f"query {query!r}: {a[query]} with tied scores but {b[query]} with the ties "
                "broken as trec_eval breaks them (document id descending)",
            )

    def monotone_scores():
        tied, _ = _tied()
        table = tied.table
        score = table.column("score").to_numpy()
        moved = table.set_column(
            table.schema.get_field_index("score"), "score", pa.array(np.exp(3.0 * score) - 7.0)
        )
        a, b = _values(metric, tied, qrels), _values(metric, Run(moved), qrels)
        for query in a:
            require(
                abs(a[query] - b[query]) <= 1e-9 * max(1.0, abs(b[query])),
                f"query {query!r}: {a[query]} before and {b[query]} after the same increasing "
                "function of every score",
            )

    if getattr(metric, "uses_scores", False):
        rules.rule("monotone-scores", monotone_scores)
    else:
        rules.rule("tie-order", ties)
    return rules.verdict()
