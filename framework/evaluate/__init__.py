"""The evaluation engine: trec_eval semantics, vectorised over all queries."""

from .engine import Evaluation, evaluate, evaluation_key, resolve_metrics
from .judged import JudgedRun
from .metric import Metric, MetricLike, parse_metric_name

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
