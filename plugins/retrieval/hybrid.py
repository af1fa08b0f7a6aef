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
from rankarena.api.checks import check_choice, non_negative_number
from rankarena.api.retrieval import FUSION_METHODS, NORMALIZATIONS, TermStatistics, fuse

HYBRID_FUSIONS = (*FUSION_METHODS, "adaptive-rrf")
DEFAULT_K = 60.0  # RRF's k (Cormack et al. 2009), as ``fuse``'s default
_WHERE = "retriever 'hybrid'"


class HybridRetriever:
    """Index and search with several retrievers, then fuse their runs.

    :param retrievers: registered retriever names (default: ``bm25`` and ``dense``).
    :param fusion: ``rrf``, ``combsum``, ``combmnz``, or ``adaptive-rrf`` (two members:
        ``lexical`` and a dense one, weighted per query).
    :param k: the k of RRF (60, Cormack et al. 2009): ``fuse``'s ``k``, the same name as a
        run config's ``fusion_params.k``.
    :param norm: score normalisation for CombSUM/CombMNZ: ``min-max``, ``z-score``, ``none``.
    :param weights: one weight per retriever (default: all 1).
    :param depth: documents taken from each retriever before fusing.
    :param params: per-retriever parameters, e.g. ``{"bm25": {"k1": 1.2}}``.
    :param lexical: for ``adaptive-rrf``, the keyword member (default: the first).
    :param stemmer: for ``adaptive-rrf``, the stemmer of the query-term IDF statistics.
    :param rrf_k: the former name of ``k``, still accepted.
    """

    # ``k`` is the new name of ``rrf_k``. Run cache keys hash every parameter with its
    # default, so the keys of existing configs hold ``rrf_k`` (60.0 unless given) and no
    # ``k``: ``k`` stays out of the hashed parameters and, when given, enters the key through
    # ``run_key_content`` instead, so that existing keys do not change and a given ``k``
    # still makes its own key.
    not_in_run_key = frozenset({"k"})

    @staticmethod
    def run_key_content(params: dict[str, Any]) -> str:
        """What run cache keys add to the parameters: ``k`` when it is given (see above)."""
        k = params.get("k")
        return "" if k is None else f"k={k!r}"

    def __init__(
        self,
        retrievers: list[str] | None = None,
        fusion: str = "rrf",
        k: float | None = None,
        norm: str = "min-max",
        weights: list[float] | None = None,
        depth: int = 1000,
        params: dict | None = None,
        lexical: str | None = None,
        stemmer: str | None = "porter",
        rrf_k: float = DEFAULT_K,
    ):
        names = list(retrievers or ["bm25", "dense"])
        check_choice(_WHERE, "fusion", fusion, HYBRID_FUSIONS)
        check_choice(_WHERE, "norm", norm, NORMALIZATIONS)
        if k is None:
            k = non_negative_number(_WHERE, "rrf_k", rrf_k)
        elif rrf_k != DEFAULT_K:
            raise ParameterError(f"{_WHERE}: give k or rrf_k (its former name), not both")
        else:
            k = non_negative_number(_WHERE, "k", k)
        if weights is not None and len(weights) != len(names):
            raise ParameterError(f"{_WHERE}: {len(weights)} weights for {len(names)} retrievers")
        params = params or {}
        unknown = set(params) - set(names)
        if unknown:
            raise ParameterError(
                f"{_WHERE}: params for retrievers not fused: {', '.join(sorted(unknown))}"
            )
        if fusion == "adaptive-rrf":
            if len(names) != 2 or weights is not None:
                raise ParameterError(
                    f"{_WHERE}: adaptive-rrf fuses exactly two retrievers "
                    "(a lexical and a dense one) and sets the weights itself"
                )
            lexical = lexical or names[0]
            if lexical not in names:
                raise ParameterError(
                    f"{_WHERE}: lexical {lexical!r} is not fused; retrievers: {', '.join(names)}"
                )
        self.lexical, self.stemmer = lexical, stemmer
        self._terms: TermStatistics | None = None
        host = rankarena.plugin_manager()
        self.members: list[Any] = [host.retrievers.create(n, **params.get(n, {})) for n in names]
        self.names = names
        self.fusion, self.k, self.norm = fusion, k, norm
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
            fused = fuse(runs, self.fusion, k=self.k, norm=self.norm, weights=self.weights)
            return fused.top(k)
        if self._terms is None:
            raise RankarenaError(f"{_WHERE}: call index(corpus) before search()")
        lexical, dense = self._terms.weights(queries)
        weights = [lexical if n == self.lexical else dense for n in self.names]
        return fuse(runs, "rrf", k=self.k, weights=weights).top(k)


@rankarena.hookimpl
def register_retrievers(register) -> None:
    register("hybrid", HybridRetriever)
