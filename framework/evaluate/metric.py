"""The metric interface and the ``NAME@K`` naming rule.

A metric is any object with a ``name`` and ``per_query(judged) -> ndarray``: the protocol
``MetricLike``, defined with the other component protocols in ``rankarena.core.protocols``
and re-exported here. ``Metric`` is an optional base class handling the cutoff ``k``;
plugins may subclass it.
"""

from __future__ import annotations

import ast
import re
from abc import abstractmethod
from typing import ClassVar

import numpy as np

from ..core.protocols import MetricLike
from ..errors import ParameterError
from .judged import JudgedRun

__all__ = [
    "IR_MEASURES_NAMES",
    "METRIC_SETS",
    "TREC_EVAL_CUTOFF_NAMES",
    "Metric",
    "MetricLike",
    "expand_metric_sets",
    "parse_metric_name",
    "split_top_level",
]


class Metric:
    """A metric with an optional rank cutoff ``k`` (``None``: the whole ranking).

    Subclasses set ``key`` (the registry name) and implement ``per_query``; set
    ``requires_k = True`` where a cutoff is mandatory (precision, success), ``pools_queries =
    True`` where a query's value depends on the other queries (the pooled ``auc``: never
    evaluated block by block), ``uses_scores = True`` where the value depends on the scores
    themselves, not only on the ranking they give (tied scores are then ties: the
    conformance kit checks ``monotone-scores`` instead of ``tie-order``), and ``summary``
    where the run's value is not the mean over queries (``"sum"``, ``"exp_mean"``: see
    ``rankarena.evaluate.engine.SUMMARIES``).

    ``bounds`` (the range of a per-query value) and ``higher_is_better`` are what the
    conformance kit (``rankarena.testing.check_metric``) holds the metric to: override them
    for a count (``bounds = (0.0, math.inf)``) or a measure where lower is better.
    """

    key: ClassVar[str] = ""
    requires_k: ClassVar[bool] = False
    summary: ClassVar[str] = "mean"
    pools_queries: ClassVar[bool] = False
    uses_scores: ClassVar[bool] = False
    bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    higher_is_better: ClassVar[bool] = True

    def __init__(self, k: int | None = None):
        if k is None and self.requires_k:
            raise ParameterError(f"metric {self.key!r} needs a cutoff: write {self.key}@K")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ParameterError(
                f"metric {self.key!r}: cutoff k must be a positive integer, got {k!r}"
            )
        self.k = k

    @property
    def name(self) -> str:
        """The printed name: ``key@k`` or ``key``."""
        return self.key if self.k is None else f"{self.key}@{self.k}"

    @abstractmethod  # a subclass without its own per_query fails the registration check
    def per_query(self, judged: JudgedRun) -> np.ndarray:  # pragma: no cover - abstract
        """One value per evaluated query of ``judged``, aligned with ``judged.query_ids``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<metric {self.name}>"


#: ir_measures' measure names (MacAvaney et al., ECIR 2022) and the registered metric each
#: is (same semantics, checked per query against ir_measures in tests/test_ir_measures.py).
IR_MEASURES_NAMES: dict[str, str] = {
    "AP": "map",  # trec_eval map; AP@k is map_cut.k
    "RR": "mrr",  # trec_eval recip_rank; RR@k on the run cut at k
    "R": "recall",  # trec_eval recall.k
    "P": "p",  # trec_eval P.k
    "nDCG": "ndcg",  # trec_eval ndcg / ndcg_cut.k (raw grades as gains)
    "Judged": "judged",
    "RBP": "rbp",
    "ERR": "err",
}

#: trec_eval's names with the cutoff in the name (``P_10``, as pytrec_eval prints them, or
#: ``P.10``, as ``trec_eval -m P.10`` takes them) and the registered metric each is.
TREC_EVAL_CUTOFF_NAMES: dict[str, str] = {
    "P": "p",
    "recall": "recall",
    "ndcg_cut": "ndcg",
    "map_cut": "map",
    "success": "success",
    "num_ret": "num_ret",
    "num_rel_ret": "num_rel_ret",
}
_TREC_EVAL_CUTOFF = re.compile(r"(" + "|".join(TREC_EVAL_CUTOFF_NAMES) + r")[_.]([0-9]+)")

#: Named sets of metrics, expanded where metric names are resolved (``--metrics trec``).
#: ``trec`` (also ``official``) is trec_eval's default output, ``trec_eval -m official``
#: (trec_eval 10.0 ``m_*.c`` measures flagged official), in its order: the counts, MAP,
#: GMAP, R-precision, bpref, reciprocal rank, interpolated precision at the 11 recall
#: levels and precision at its nine standard cutoffs.
METRIC_SETS: dict[str, tuple[str, ...]] = {
    "trec": (
        "num_ret",
        "num_rel",
        "num_rel_ret",
        "map",
        "gm_map",
        "r-precision",
        "bpref",
        "mrr",
        *(f"iprec_at_recall_{i / 10:.2f}" for i in range(11)),
        *(f"p@{k}" for k in (5, 10, 15, 20, 30, 100, 200, 500, 1000)),
    ),
}
METRIC_SETS["official"] = METRIC_SETS["trec"]


def expand_metric_sets(names: list[str]) -> list[str]:
    """Replace each set name of ``METRIC_SETS`` (any case) by its metrics, in place
    order; other names pass through."""
    expanded: list[str] = []
    for name in names:
        expanded.extend(METRIC_SETS.get(name.strip().lower(), (name,)))
    return expanded


_NAME = re.compile(r"([^()@]+?)\s*(?:\((.*)\))?\s*(?:@(.*))?", re.DOTALL)
_PARAM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)", re.DOTALL)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses and brackets (``RBP(p=0.8,rel=1)@10,
    nDCG@10`` → two parts); the parts are not stripped."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_params(text: str, inside: str) -> dict[str, object]:
    params: dict[str, object] = {}
    for part in split_top_level(inside):
        if not part.strip():
            continue
        match = _PARAM.fullmatch(part)
        if match is None:
            raise ParameterError(f"metric {text!r}: parameter {part.strip()!r} is not NAME=VALUE")
        key, value = match.group(1), match.group(2).strip()
        if key in params:
            raise ParameterError(f"metric {text!r}: parameter {key!r} given twice")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ParameterError(
                f"metric {text!r}: value {value!r} of {key!r} is not a number, string or "
                "True/False/None"
            ) from None
    return params


def parse_metric_name(text: str) -> tuple[str, dict[str, object]]:
    """Split a metric name into the registered name and its parameters.

    ``"ndcg@10"`` → ``("ndcg", {"k": 10})``; ``"map"`` → ``("map", {})``;
    ``"RBP(p=0.5,rel=2)@10"`` → ``("rbp", {"p": 0.5, "rel": 2, "k": 10})``: the form
    ``NAME(PARAM=VALUE,...)@K``, values read as Python literals. ir_measures' names
    (``IR_MEASURES_NAMES``: ``AP``, ``RR``, ``R``, ``P``, ``nDCG``, ``Judged``, ``RBP``,
    ``ERR``, case as ir_measures writes them) become the registered names; so do
    trec_eval's names with a cutoff (``P_10``, ``P.10``, ``ndcg_cut_10``, ``recall_100``:
    ``TREC_EVAL_CUTOFF_NAMES``); other names are lowercased (registry aliases such as
    ``recip_rank`` resolve when the metric is built).
    """
    text = text.strip()
    if not text:
        raise ParameterError("empty metric name")
    trec_eval_name = _TREC_EVAL_CUTOFF.fullmatch(text)
    if trec_eval_name is not None:
        name, cutoff = trec_eval_name.groups()
        text = f"{TREC_EVAL_CUTOFF_NAMES[name]}@{cutoff}"
    match = _NAME.fullmatch(text)
    if match is None:
        raise ParameterError(f"metric {text!r}: write NAME, NAME@K or NAME(PARAM=VALUE,...)@K")
    raw, inside, cutoff = match.groups()
    name = IR_MEASURES_NAMES.get(raw, raw.lower())
    params = _parse_params(text, inside) if inside is not None else {}
    if cutoff is None:
        return name, params
    try:
        k = int(cutoff)
    except ValueError:
        raise ParameterError(f"metric {text!r}: cutoff {cutoff!r} is not an integer") from None
    if k < 1:
        raise ParameterError(f"metric {text!r}: cutoff must be at least 1")
    if "k" in params:
        raise ParameterError(f"metric {text!r}: give the cutoff once, as @K or k=K")
    return name, {**params, "k": k}
