"""Built-in retriever ``hybrid``: fuse the runs of other registered retrievers.

Fusion formulas (RRF, CombSUM, CombMNZ) and normalisations are those of
``rankarena.fusion.fuse``.
"""

from __future__ import annotations

from typing import Any

import rankarena
from rankarena import Corpus, ParameterError, Queries, Run
from rankarena.fusion import FUSION_METHODS, NORMALIZATIONS, fuse


class HybridRetriever:
    """Index and search with several retrievers, then fuse their runs.

    :param retrievers: registered retriever names (default: ``bm25`` and ``dense``).
    :param fusion: ``rrf``, ``combsum`` or ``combmnz``.
    :param rrf_k: the k of RRF (60, Cormack et al. 2009).
    :param norm: score normalisation for CombSUM/CombMNZ: ``min-max``, ``z-score``, ``none``.
    :param weights: one weight per retriever (default: all 1).
    :param depth: documents taken from each retriever before fusing.
    :param params: per-retriever parameters, e.g. ``{"bm25": {"k1": 1.2}}``.
    """

    def __init__(
        self,
        retrievers: list[str] | None = None,
        fusion: str = "rrf",
        rrf_k: float = 60.0,
        norm: str = "min-max",
        weights: list[float] | None = None,
        depth: int = 1000,
        params: dict | None = None,
    ):
        names = list(retrievers or ["bm25", "dense"])
        if fusion not in FUSION_METHODS or norm not in NORMALIZATIONS:
            raise ParameterError(
                f"retriever 'hybrid': fusion must be one of {', '.join(FUSION_METHODS)} and "
                f"norm one of {', '.join(NORMALIZATIONS)}; got {fusion!r}, {norm!r}"
            )
        if weights is not None and len(weights) != len(names):
            raise ParameterError(
                f"retriever 'hybrid': {len(weights)} weights for {len(names)} retrievers"
            )
        params = params or {}
        unknown = set(params) - set(names)
        if unknown:
            raise ParameterError(
                f"retriever 'hybrid': params for retrievers not fused: {', '.join(sorted(unknown))}"
            )
        host = rankarena.plugin_manager()
        self.members: list[Any] = [host.retrievers.create(n, **params.get(n, {})) for n in names]
        self.names = names
        self.fusion, self.rrf_k, self.norm = fusion, rrf_k, norm
        self.weights, self.depth = weights, depth

    def index(self, corpus: Corpus) -> HybridRetriever:
        """Index ``corpus`` with every member retriever."""
        for member in self.members:
            member.index(corpus)
        return self

    def search(self, queries: Queries, k: int = 1000) -> Run:
        """Fuse the members' top-``depth`` runs and keep the top ``k``."""
        runs = [member.search(queries, k=self.depth) for member in self.members]
        fused = fuse(runs, self.fusion, k=self.rrf_k, norm=self.norm, weights=self.weights)
        return fused.top(k)


@rankarena.hookimpl
def register_retrievers(register) -> None:
    register("hybrid", HybridRetriever)
