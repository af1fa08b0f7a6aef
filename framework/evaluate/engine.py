"""``evaluate(run, qrels, metrics)``: per-query and mean values of any registered metrics."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rankarena.data.qrels import Qrels
from rankarena.data.results import Results
from rankarena.data.run import Run
from rankarena.errors import ParameterError
from rankarena.evaluate.judged import JudgedRun
from rankarena.evaluate.metric import MetricLike, parse_metric_name


@dataclass
class Evaluation:
    """Per-query values (``per_query[name]`` aligned with ``query_ids``) and their means.

    The mean of a metric is the arithmetic mean over the evaluated queries (0 if none).
    """

    query_ids: list[str]
    per_query: dict[str, np.ndarray]
    metrics: list[str] = field(default_factory=list)

    @property
    def mean(self) -> dict[str, float]:
        """``{metric: mean over queries}``."""
        return {
            name: float(values.mean()) if len(values) else 0.0
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
        names, values, queries = [], [], []
        means = self.mean
        for name in self.metrics:
            names.append(name)
            values.append(means[name])
            queries.append(None)
            if per_query:
                names.extend([name] * len(self.query_ids))
                values.extend(self.per_query[name].tolist())
                queries.extend(self.query_ids)
        n = len(names)
        table = pa.table(
            {
                "system": [system] * n,
                "dataset": [dataset] * n,
                "split": [split] * n,
                "variant": [variant] * n,
                "metric": names,
                "value": pa.array(values, pa.float64()),
                "query_id": pa.array(queries, pa.string()),
                "run_id": [run_id] * n,
                "created_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            }
        )
        return Results(table)


def resolve_metrics(metrics: Sequence[str | MetricLike], host: Any = None) -> list[MetricLike]:
    """Turn names like ``"ndcg@10"`` into metric objects from the metrics registry."""
    resolved: list[MetricLike] = []
    for item in metrics:
        if isinstance(item, str):
            if host is None:
                from rankarena.host import plugin_manager

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
    """
    resolved = resolve_metrics(metrics, host)
    judged = JudgedRun(
        run,
        qrels,
        relevance_level=relevance_level,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
    )
    per_query = {}
    for metric in resolved:
        values = np.asarray(metric.per_query(judged), dtype=np.float64)
        if values.shape != (judged.n_queries,):
            raise ParameterError(
                f"metric {metric.name!r} returned shape {values.shape}, "
                f"expected ({judged.n_queries},)"
            )
        per_query[metric.name] = values
    return Evaluation(judged.query_ids.to_pylist(), per_query, [m.name for m in resolved])
