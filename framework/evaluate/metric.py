"""The metric interface and the ``NAME@K`` naming rule.

A metric is any object with a ``name`` and ``per_query(judged) -> ndarray``: the protocol
``MetricLike``, defined with the other component protocols in ``rankarena.core.protocols``
and re-exported here. ``Metric`` is an optional base class handling the cutoff ``k``;
plugins may subclass it.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from ..core.protocols import MetricLike
from ..errors import ParameterError
from .judged import JudgedRun

__all__ = ["Metric", "MetricLike", "parse_metric_name"]


class Metric:
    """A metric with an optional rank cutoff ``k`` (``None``: the whole ranking).

    Subclasses set ``key`` (the registry name) and implement ``per_query``; set
    ``requires_k = True`` where a cutoff is mandatory (precision, success).
    """

    key: ClassVar[str] = ""
    requires_k: ClassVar[bool] = False

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


def parse_metric_name(text: str) -> tuple[str, dict[str, int]]:
    """Split ``"ndcg@10"`` into ``("ndcg", {"k": 10})``; ``"map"`` into ``("map", {})``."""
    text = text.strip()
    if not text:
        raise ParameterError("empty metric name")
    name, sep, cutoff = text.partition("@")
    name = name.strip().lower()
    if not sep:
        return name, {}
    try:
        k = int(cutoff)
    except ValueError:
        raise ParameterError(f"metric {text!r}: cutoff {cutoff!r} is not an integer") from None
    if k < 1:
        raise ParameterError(f"metric {text!r}: cutoff must be at least 1")
    return name, {"k": k}
