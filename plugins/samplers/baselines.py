"""Built-in samplers: ``random``, ``in-batch``, ``retriever-topk`` and ``positive-aware``.

A sampler has ``sample(context: MiningContext, num_negatives: int) -> TrainingExamples``
(``rankarena.training.mining``, ``rankarena.data.training_examples``). Negatives are never among the
positives the context shows the sampler.

* ``random`` — uniform draws from the corpus (Karpukhin et al., "Dense Passage Retrieval",
  EMNLP 2020, as a baseline).
* ``in-batch`` — no mined negatives: a marker (``in_batch``) telling the trainer to use the
  other positives of the batch (Henderson et al. 2017; DPR).
* ``retriever-topk`` — the top of any registered retriever's run: candidates ranked by the
  retriever, positives removed, the rank window [range_min, range_max) kept, then the first
  ``num_negatives`` (``sampling="top"``) or a uniform sample of the window
  (``sampling="random-in-window"``). Same semantics as
  ``sentence_transformers.util.mine_hard_negatives`` (range_min, range_max; the candidate pool
  is the top range_max + (most positives of a query)).
* ``positive-aware`` — ``retriever-topk`` after dropping candidates that score too close to
  the positive, the false-negative filters of NV-Retriever (Moreira et al., "NV-Retriever:
  Improving text embedding models with effective hard-negative mining", 2024), with p the
  lowest score of the query's positives: ``absolute_margin`` m drops s > p − m
  ("TopK-MarginPos"); ``relative_margin`` r drops s > p − |p|·r ("TopK-PercPos"; r = 0.05
  keeps negatives below 95% of the positive score: the documented faithful setting);
  ``adaptive`` drops s > p − k·σ_q, σ_q the standard deviation of the query's candidate
  scores: a margin of ours (LG-ANNA's report motivates an adaptive margin but does not give
  p − k·σ), labelled adapted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

import rankarena
from rankarena import ParameterError
from rankarena.api.checks import check_choice, non_negative_number
from rankarena.api.mining import MiningContext, TrainingExamples

SAMPLING = ("top", "random-in-window")


def example_rows(
    context: MiningContext,
    query: str,
    negatives: list[str],
    scores: list[float],
    positive_scores: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "query_id": query,
            "positive_id": positive,
            "positive_score": None if positive_scores is None else positive_scores[positive],
            "negative_ids": negatives,
            "negative_scores": scores,
        }
        for positive in context.positives[query]
    ]


class RandomNegatives:
    """exact: ``num_negatives`` documents drawn uniformly from the corpus (scores: NaN)."""

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Random negatives per query, seeded by the context."""
        rng = context.rng("random")
        n_docs = len(context.doc_ids)
        rows = []
        for query in context.queries.ids:
            shown = set(context.positives[query])
            if n_docs - len(shown) < num_negatives:
                raise ParameterError("sampler 'random': the corpus has too few documents")
            picked: list[str] = []
            while len(picked) < num_negatives:
                doc = context.doc_ids[int(rng.integers(n_docs))]
                if doc not in shown and doc not in picked:
                    picked.append(doc)
            rows += example_rows(context, query, picked, [float("nan")] * num_negatives)
        return TrainingExamples.from_rows(rows)


class InBatch:
    """exact: a marker set, each (query, positive) with ``in_batch`` and no mined negatives."""

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """One row per shown (query, positive); the trainer supplies the negatives."""
        rows = []
        for query in context.queries.ids:
            for row in example_rows(context, query, [], []):
                rows.append({**row, "in_batch": True})
        return TrainingExamples.from_rows(rows)


class RetrieverTopK:
    """exact: negatives from the top of a registered retriever's run (module docstring).

    :param retriever: a registered retriever (``bm25``, ``dense``, ``hybrid``, a plugin's).
    :param params: its parameters, e.g. ``{"model": "minilm"}``.
    :param range_min: candidates ranked above this (0-based, after removing positives) are
        skipped.
    :param range_max: candidates from this rank on are not considered (default:
        range_min + num_negatives, or range_min + 10·num_negatives with a margin filter).
    :param sampling: ``top`` or ``random-in-window``.
    """

    name = "retriever-topk"

    def __init__(
        self,
        retriever: str = "dense",
        params: dict | None = None,
        range_min: int = 0,
        range_max: int | None = None,
        sampling: str = "top",
    ):
        check_choice(f"sampler {self.name!r}", "sampling", sampling, SAMPLING)
        if range_min < 0 or (range_max is not None and range_max <= range_min):
            raise ParameterError(
                f"sampler {self.name!r}: need 0 <= range_min < range_max, got {range_min}, "
                f"{range_max}"
            )
        self.retriever, self.params = retriever, dict(params or {})
        self.range_min, self.range_max, self.sampling = range_min, range_max, sampling

    def _default_range_max(self, num_negatives: int) -> int:
        return self.range_min + num_negatives

    def window(self, num_negatives: int) -> int:
        """range_max, checked to leave ``num_negatives`` candidates."""
        range_max = self.range_max or self._default_range_max(num_negatives)
        if num_negatives > range_max - self.range_min:
            raise ParameterError(
                f"sampler {self.name!r}: cannot mine {num_negatives} negatives from the window "
                f"[{self.range_min}, {range_max})"
            )
        return range_max

    def _positive_scores(self, context: MiningContext) -> dict[tuple[str, str], float] | None:
        return None

    def _keep(self, scores: np.ndarray, positive: float | None) -> np.ndarray:
        return np.ones(len(scores), dtype=bool)

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Mine ``num_negatives`` per query from the retriever's candidates."""
        range_max = self.window(num_negatives)
        most = max((len(p) for p in context.positives.values()), default=0)
        run = context.candidates(self.retriever, self.params, range_max + most)
        pair_scores = self._positive_scores(context)
        rng = context.rng(f"{self.name}:{self.range_min}:{range_max}")
        by_query = run.to_dict()
        rows = []
        for query in context.queries.ids:
            ranked = sorted(by_query.get(query, {}).items(), key=lambda item: (-item[1], item[0]))
            shown = set(context.positives[query])
            ranked = [(d, s) for d, s in ranked if d not in shown]
            scores = np.array([s for _, s in ranked], dtype=np.float64)
            positive = None
            per_positive = None
            if pair_scores is not None:
                per_positive = {d: pair_scores[(query, d)] for d in context.positives[query]}
                positive = min(per_positive.values())
            keep = self._keep(scores, positive)
            ranked = [item for item, ok in zip(ranked, keep, strict=True) if ok]
            window = ranked[self.range_min : range_max]
            if self.sampling == "top":
                chosen = window[:num_negatives]
            else:
                picks = rng.choice(len(window), size=min(num_negatives, len(window)), replace=False)
                chosen = sorted((window[i] for i in picks), key=lambda item: (-item[1], item[0]))
            negatives = [d for d, _ in chosen]
            rows += example_rows(context, query, negatives, [s for _, s in chosen], per_positive)
        return TrainingExamples.from_rows(rows)


class PositiveAware(RetrieverTopK):
    """exact with ``relative_margin=0.05`` (NV-Retriever's TopK-PercPos: below 95% of the
    positive's score, the faithful setting); adapted: ``adaptive`` (p − k·σ) is ours, not
    from the LG-ANNA report. ``retriever-topk`` with positive-aware false-negative filters.

    :param absolute_margin: drop candidates scoring above (positive − margin).
    :param relative_margin: drop candidates scoring above (positive − |positive| · margin);
        default 0.05 (NV-Retriever's TopK-PercPos at 95%) when no other filter is given.
    :param adaptive: k of the adaptive margin: drop candidates above (positive − k · σ_q).
    """

    name = "positive-aware"

    def __init__(
        self,
        retriever: str = "dense",
        params: dict | None = None,
        range_min: int = 0,
        range_max: int | None = None,
        sampling: str = "top",
        absolute_margin: float | None = None,
        relative_margin: float | None = None,
        adaptive: float | None = None,
    ):
        super().__init__(retriever, params, range_min, range_max, sampling)
        if absolute_margin is None and relative_margin is None and adaptive is None:
            relative_margin = 0.05
        for label, value in (
            ("absolute_margin", absolute_margin),
            ("relative_margin", relative_margin),
            ("adaptive", adaptive),
        ):
            if value is not None:
                non_negative_number("sampler 'positive-aware'", label, value)
        self.absolute_margin, self.relative_margin = absolute_margin, relative_margin
        self.adaptive = adaptive

    def _default_range_max(self, num_negatives: int) -> int:
        return self.range_min + 10 * num_negatives

    def _positive_scores(self, context: MiningContext) -> dict[tuple[str, str], float]:
        queries, docs = context.positive_pairs()
        scores = context.score_pairs(self.retriever, self.params, queries, docs)
        return dict(zip(zip(queries, docs, strict=True), scores.tolist(), strict=True))

    def _keep(self, scores: np.ndarray, positive: float | None) -> np.ndarray:
        keep = np.ones(len(scores), dtype=bool)
        if positive is None:
            return keep
        if self.absolute_margin is not None:
            keep &= ~(scores + self.absolute_margin > positive)
        if self.relative_margin is not None:
            keep &= ~(scores > positive - abs(positive) * self.relative_margin)
        if self.adaptive is not None and len(scores) > 1:
            keep &= ~(scores > positive - self.adaptive * float(np.std(scores)))
        return keep


@rankarena.hookimpl
def register_samplers(register) -> None:
    register("random", RandomNegatives)
    register("in-batch", InBatch)
    register("retriever-topk", RetrieverTopK)
    register("positive-aware", PositiveAware)
