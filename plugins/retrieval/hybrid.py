"""Built-in retriever ``hybrid``: fuse the runs of other registered retrievers.

Fusion formulas (RRF, CombSUM, CombMNZ) and normalisations are those of
``rankarena.retrieval.fusion.fuse``; ``adaptive-rrf`` weights a lexical and a dense member per query
from the IDF of the query's terms (``rankarena.retrieval.adaptive_fusion``, after vstash, Steffens
2026).
"""

from __future__ import annotations

from typing import Any

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run
from rankarena.api.retrieval import FUSION_METHODS, NORMALIZATIONS, TermStatistics, fuse

HYBRID_FUSIONS = (*FUSION_METHODS, "adaptive-rrf")


class HybridRetriever:
    """Index and search with several retrievers, then fuse their runs.

    :param retrievers: registered retriever names (default: ``bm25`` and ``dense``).
    :param fusion: ``rrf``, ``combsum``, ``combmnz``, or ``adaptive-rrf`` (two members:
        ``lexical`` and a dense one, weighted per query).
    :param rrf_k: the k of RRF (60, Cormack et al. 2009).
    :param norm: score normalisation for CombSUM/CombMNZ: ``min-max``, ``z-score``, ``none``.
    :param weights: one weight per retriever (default: all 1).
    :param depth: documents taken from each retriever before fusing.
    :param params: per-retriever parameters, e.g. ``{"bm25": {"k1": 1.2}}``.
    :param lexical: for ``adaptive-rrf``, the keyword member (default: the first).
    :param stemmer: for ``adaptive-rrf``, the stemmer of the query-term IDF statistics.
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
        lexical: str | None = None,
        stemmer: str | None = "porter",
    ):
        names = list(retrievers or ["bm25", "dense"])
        if fusion not in HYBRID_FUSIONS or norm not in NORMALIZATIONS:
            raise ParameterError(
                f"retriever 'hybrid': fusion must be one of {', '.join(HYBRID_FUSIONS)} and "
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
        if fusion == "adaptive-rrf":
            if len(names) != 2 or weights is not None:
                raise ParameterError(
                    "retriever 'hybrid': adaptive-rrf fuses exactly two retrievers "
                    "(a lexical and a dense one) and sets the weights itself"
                )
            lexical = lexical or names[0]
            if lexical not in names:
                raise ParameterError(
                    f"retriever 'hybrid': lexical {lexical!r} is not fused; "
                    f"retrievers: {', '.join(names)}"
                )
        self.lexical, self.stemmer = lexical, stemmer
        self._terms: TermStatistics | None = None
        host = rankarena.plugin_manager()
        self.members: list[Any] = [host.retrievers.create(n, **params.get(n, {})) for n in names]
        self.names = names
        self.fusion, self.rrf_k, self.norm = fusion, rrf_k, norm
        self.weights, self.depth = weights, depth

    def index(self, corpus: Corpus) -> HybridRetriever:
        """Index ``corpus`` with every member retriever."""
        for member in self.members:
            member.index(corpus)
        if self.fusion == "adaptive-rrf":
            self._terms = TermStatistics(corpus.texts(with_title=True), self.stemmer)
        return self

    def search(self, queries: Queries, k: int = 1000) -> Run:
        """Fuse the members' top-``depth`` runs and keep the top ``k``."""
        runs = [member.search(queries, k=self.depth) for member in self.members]
        if self.fusion != "adaptive-rrf":
            fused = fuse(runs, self.fusion, k=self.rrf_k, norm=self.norm, weights=self.weights)
            return fused.top(k)
        if self._terms is None:
            raise RankarenaError("retriever 'hybrid': call index(corpus) before search()")
        lexical, dense = self._terms.weights(queries)
        weights = [lexical if n == self.lexical else dense for n in self.names]
        return fuse(runs, "rrf", k=self.rrf_k, weights=weights).top(k)


@rankarena.hookimpl
def register_retrievers(register) -> None:
    register("hybrid", HybridRetriever)
