"""The evaluation engine: trec_eval semantics, vectorised over all queries."""

from rankarena.evaluate.engine import Evaluation, evaluate, evaluation_key, resolve_metrics
from rankarena.evaluate.judged import JudgedRun
from rankarena.evaluate.metric import Metric, MetricLike, parse_metric_name

__all__ = [
    "Evaluation",
    "JudgedRun",
    "Metric",
    "MetricLike",
    "evaluate",
    "evaluation_key",
    "parse_metric_name",
    "resolve_metrics",
]
