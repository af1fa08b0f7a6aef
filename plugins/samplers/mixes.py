"""Built-in samplers that mix sources of negatives: ``star`` and ``disagreement``.

``star`` — static hard negatives plus random negatives, after STAR (Zhan et al.,
"Optimizing Dense Retrieval Model Training with Hard Negatives", SIGIR 2021), which trains
on a retriever's static hard negatives together with random negatives, the random ones
stabilising training that hard negatives alone make unstable. Of n negatives per query,
n_hard = ⌊hard_fraction · n + ½⌋ (rounded half up) are the ``retriever-topk`` negatives of
the given retriever (same parameters and semantics: the first n_hard of the rank window
[range_min, range_max) after removing the shown positives, or a seeded sample of it), and
the other n − n_hard are drawn uniformly from the corpus without replacement (seeded by the
context), never a shown positive nor one of the query's hard negatives. The hard negatives
come first, in the retriever's order and with its scores; the random ones follow with score
NaN (unscored), as the ``random`` sampler gives them.

Checked against the authors' code (github.com/jingtaozhan/DRhard: ``star/prepare_hardneg.py``,
``dataset.py``, ``model.py``): the static hard negatives are a warm-up dense model's top 200
non-positives per query (positives removed, then the first 200); each time a query is drawn
its ``per_query_hard_num`` hard negatives are a uniform sample of those 200, re-drawn every
epoch; the random negatives are the other documents of the batch (the other queries'
positives and hard negatives, relevant ones masked); the loss is a two-way softmax of the
positive against each negative, averaged over every (query, negative) pair of the batch. So
the built-in is *adapted*: its defaults take the first n_hard (``sampling="top"``), mine
once for all epochs, and draw explicit random documents. The faithful setting:
``retriever="dense"`` (the warm-up model), ``range_max=200``,
``sampling="random-in-window"``, ``hard_fraction=1`` (hard negatives only), trained with
in-batch negatives (the trainer's ``in-batch`` layout: STAR's random negatives) and the
``pairwise-logistic`` loss (the same two-way softmax, averaged per row and then over rows
where STAR averages over all pairs); the hard sample is still drawn once, not per epoch.

``disagreement`` — negatives where two retrievers disagree, after the hybrid-retrieval
disagreement signal of vstash (Steffens, "vstash: Local-First Hybrid Retrieval with
Adaptive Fusion for LLM Agents", arXiv:2604.15484, 2026), which compares a vector-heavy
(vec 0.95, fts 0.05) and a keyword-heavy (0.05 / 0.95) reciprocal-rank fusion of the same
two runs. Precisely, for retrievers A and B (default ``bm25`` and ``dense``), weights
(w_hi, w_lo) (default 0.95, 0.05), and each mining query q with shown positives P(q):

1. R_A, R_B: the runs of A and B to depth ``pool`` + (most shown positives of a query).
2. Two weighted RRF fusions (``rankarena.retrieval.fusion.fuse``, k = ``rrf_k``):
   F_A = w_hi·RRF(R_A) + w_lo·RRF(R_B) (A-heavy) and F_B = w_lo·RRF(R_A) + w_hi·RRF(R_B)
   (B-heavy): s(d) = Σ_i w_i / (k + rank_i(d)) over the runs that retrieved d.
3. With P(q) removed from each fused ranking (ties broken by document id), T_A and T_B are
   the top ``depth`` documents of F_A and F_B.
4. The disagreement negatives are D_A = T_A \\ T_B (documents only the A-heavy fusion ranks
   in its top ``depth``) and D_B = T_B \\ T_A; ``side`` picks D_A ∪ D_B (``both``, default),
   D_A (``first``) or D_B (``second``). With the defaults F_A is the BM25-heavy and F_B
   the dense-heavy fusion, vstash's pair.
5. Order: by the rank r(d) (1-based, positives removed) in the fusion whose top ``depth``
   holds d, then D_A before D_B at equal rank — which interleaves the two sides, the
   documents each fusion ranks highest first. The first n are the negatives, with
   the fused score of that fusion as ``negative_scores`` (F_A and F_B have the same scale).

A query on which the fusions agree yields fewer than n negatives (none where T_A = T_B).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import rankarena
from rankarena import ParameterError
from rankarena.api.checks import check_choice, positive_number
from rankarena.api.mining import MiningContext, TrainingExamples
from rankarena.api.retrieval import fuse
from rankarena.plugins.samplers.baselines import RetrieverTopK

SIDES = ("both", "first", "second")


def _rows(
    context: MiningContext, query: str, negatives: list[str], scores: list[float]
) -> list[dict[str, Any]]:
    return [
        {
            "query_id": query,
            "positive_id": positive,
            "positive_score": None,
            "negative_ids": negatives,
            "negative_scores": scores,
        }
        for positive in context.positives[query]
    ]


class _StarHard(RetrieverTopK):
    """``retriever-topk`` itself, under STAR's name in its messages."""

    name = "star"


class Star:
    """adapted: STAR's mix, a share of static ``retriever-topk`` hard negatives, the rest
    random (the module docstring says what differs from the authors' code and gives the
    faithful setting).

    :param retriever: the retriever of the hard negatives (``dense``, ``bm25``, ...).
    :param params: its parameters.
    :param range_min: hard candidates ranked above this (0-based, positives removed) are
        skipped.
    :param range_max: hard candidates from this rank on are not considered (default:
        range_min + the number of hard negatives).
    :param sampling: ``top`` or ``random-in-window`` for the hard part.
    :param hard_fraction: share of the negatives that are hard, in [0, 1]; the hard count
        is hard_fraction · num_negatives rounded half up.
    """

    name = "star"

    def __init__(
        self,
        retriever: str = "dense",
        params: dict | None = None,
        range_min: int = 0,
        range_max: int | None = None,
        sampling: str = "top",
        hard_fraction: float = 0.5,
    ):
        if not (math.isfinite(hard_fraction) and 0.0 <= hard_fraction <= 1.0):
            raise ParameterError(
                f"sampler 'star': hard_fraction must be in [0, 1], got {hard_fraction}"
            )
        self.hard = _StarHard(retriever, params, range_min, range_max, sampling)
        self.retriever, self.params = self.hard.retriever, self.hard.params
        self.range_min, self.range_max, self.sampling = range_min, range_max, sampling
        self.hard_fraction = hard_fraction

    def split(self, num_negatives: int) -> tuple[int, int]:
        """(hard, random) counts of ``num_negatives``."""
        hard = math.floor(self.hard_fraction * num_negatives + 0.5)
        return hard, num_negatives - hard

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Mine the hard part with ``retriever-topk``, then fill up with random documents."""
        n_hard, n_random = self.split(num_negatives)
        hard: dict[str, tuple[list[str], list[float]]] = {}
        if n_hard:
            for row in self.hard.sample(context, n_hard).table.to_pylist():
                hard.setdefault(row["query_id"], (row["negative_ids"], row["negative_scores"]))
        rng = context.rng(f"star:{self.hard_fraction}")
        n_docs = len(context.doc_ids)
        rows = []
        for query in context.queries.ids:
            negatives, scores = hard.get(query, ([], []))
            negatives, scores = list(negatives), list(scores)
            taken = set(context.positives[query]) | set(negatives)
            if n_docs - len(taken) < n_random:
                raise ParameterError("sampler 'star': the corpus has too few documents")
            drawn = 0
            while drawn < n_random:
                doc = context.doc_ids[int(rng.integers(n_docs))]
                if doc not in taken:
                    taken.add(doc)
                    negatives.append(doc)
                    scores.append(float("nan"))
                    drawn += 1
            rows += _rows(context, query, negatives, scores)
        return TrainingExamples.from_rows(rows)


class Disagreement:
    """unverified: negatives in the top ``depth`` of an A-heavy or a B-heavy fusion, not of
    both (vstash).

    Defined precisely in the module docstring.

    :param retrievers: the two retrievers A and B (default ``["bm25", "dense"]``).
    :param params: their parameters: a list aligned with ``retrievers`` or a mapping
        ``{retriever name: params}``.
    :param weights: (w_hi, w_lo): the A-heavy fusion weighs A by w_hi and B by w_lo, the
        B-heavy one the other way round (default ``[0.95, 0.05]``, vstash's).
    :param depth: the top-k window compared (default 10, vstash's top-10).
    :param pool: documents per retriever run that are fused (default 100).
    :param rrf_k: the RRF constant k.
    :param side: ``both``, ``first`` (only in the A-heavy top-k) or ``second``.
    """

    name = "disagreement"

    def __init__(
        self,
        retrievers: list[str] | None = None,
        params: list | dict | None = None,
        weights: list[float] | None = None,
        depth: int = 10,
        pool: int = 100,
        rrf_k: float = 60.0,
        side: str = "both",
    ):
        where = "sampler 'disagreement'"
        retrievers = ["bm25", "dense"] if retrievers is None else list(retrievers)
        if len(retrievers) != 2 or not all(isinstance(r, str) for r in retrievers):
            raise ParameterError(f"{where}: retrievers must name two retrievers, got {retrievers}")
        self.retrievers = retrievers
        self.params = self._per_retriever(params, retrievers, where)
        weights = [0.95, 0.05] if weights is None else list(weights)
        if (
            len(weights) != 2
            or not all(isinstance(w, (int, float)) and math.isfinite(w) for w in weights)
            or min(weights) < 0
            or weights[0] == weights[1]
        ):
            raise ParameterError(
                f"{where}: weights must be two different numbers >= 0 (w_hi, w_lo), got {weights}"
            )
        if depth < 1 or pool < depth:
            raise ParameterError(f"{where}: need 1 <= depth <= pool, got {depth}, {pool}")
        rrf_k = positive_number(where, "rrf_k", rrf_k)
        check_choice(where, "side", side, SIDES)
        self.weights = [float(w) for w in weights]
        self.depth, self.pool, self.rrf_k, self.side = depth, pool, rrf_k, side

    @staticmethod
    def _per_retriever(params: Any, retrievers: list[str], where: str) -> list[dict]:
        if params is None:
            return [{}, {}]
        if isinstance(params, Mapping):
            unknown = sorted(set(params) - set(retrievers))
            if unknown:
                raise ParameterError(
                    f"{where}: params keys must be retriever names ({', '.join(retrievers)}), "
                    f"got {', '.join(map(repr, unknown))}"
                )
            return [dict(params.get(r) or {}) for r in retrievers]
        if (
            isinstance(params, Sequence)
            and not isinstance(params, str)
            and len(params) == 2
            and all(p is None or isinstance(p, Mapping) for p in params)
        ):
            return [dict(p or {}) for p in params]
        raise ParameterError(
            f"{where}: params must be a list of two mappings or a mapping by retriever name, "
            f"got {params!r}"
        )

    def fused_tops(
        self, context: MiningContext
    ) -> tuple[dict[str, list[tuple[str, float]]], dict[str, list[tuple[str, float]]]]:
        """Per query, the top ``depth`` (doc, fused score) of F_A and of F_B, positives removed."""
        most = max((len(p) for p in context.positives.values()), default=0)
        runs = [
            context.candidates(name, params, self.pool + most)
            for name, params in zip(self.retrievers, self.params, strict=True)
        ]
        high, low = self.weights
        tops = []
        for weights in ([high, low], [low, high]):
            fused = fuse(runs, "rrf", k=self.rrf_k, weights=weights).to_dict()
            top = {}
            for query in context.queries.ids:
                shown = set(context.positives[query])
                ranked = sorted(fused.get(query, {}).items(), key=lambda item: (-item[1], item[0]))
                top[query] = [(d, s) for d, s in ranked if d not in shown][: self.depth]
            tops.append(top)
        return tops[0], tops[1]

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Mine up to ``num_negatives`` disagreement negatives per query."""
        most = 2 * self.depth if self.side == "both" else self.depth
        if num_negatives > most:
            raise ParameterError(
                f"sampler 'disagreement': cannot mine {num_negatives} negatives from a depth "
                f"{self.depth} disagreement (at most {most} documents)"
            )
        top_a, top_b = self.fused_tops(context)
        rows = []
        for query in context.queries.ids:
            a, b = top_a[query], top_b[query]
            in_a, in_b = {d for d, _ in a}, {d for d, _ in b}
            found: list[tuple[int, int, str, float]] = []
            if self.side in ("both", "first"):
                found += [(r, 0, d, s) for r, (d, s) in enumerate(a, 1) if d not in in_b]
            if self.side in ("both", "second"):
                found += [(r, 1, d, s) for r, (d, s) in enumerate(b, 1) if d not in in_a]
            chosen = sorted(found)[:num_negatives]
            rows += _rows(
                context, query, [d for _, _, d, _ in chosen], [s for _, _, _, s in chosen]
            )
        return TrainingExamples.from_rows(rows)


@rankarena.hookimpl
def register_samplers(register) -> None:
    register("star", Star)
    register("disagreement", Disagreement)
