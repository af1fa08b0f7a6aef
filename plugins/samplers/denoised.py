"""Built-in sampler ``denoised``: hard negatives denoised and soft-labelled by a reranker.

After RocketQA's denoised hard negatives (Qu et al., "RocketQA: An Optimized Training
Approach to Dense Passage Retrieval for Open-Domain Question Answering", NAACL 2021): the
top of a retriever's run holds many unlabelled positives, so a second, stronger scorer
rescores the candidates and those it considers likely positives are not used as negatives.
The reranker's scores are also kept, mapped to [0, 1], as soft labels of the negatives that
remain (``negative_labels``), as judge-relabelling methods feed soft-label losses (ARHN,
Choi et al., "Answer-Centric Relabeling of Hard Negatives with Open-Source LLMs for Dense
Retrieval", 2026; UniME-V2, "MLLM-as-a-Judge for Universal Multimodal Embedding
Learning", 2025).

For each mining query q with shown positives P(q):

1. Pool: the ``retriever-topk`` candidates of rank [0, range_max) — the retriever's run
   with P(q) removed (``RetrieverTopK``; range_max defaults to range_min + 10·n, as
   ``positive-aware``'s).
2. Rescore every candidate c and every shown positive p with the reranker r (any registered
   reranker: one with ``score(pairs)`` of (query text, document text) pairs, such as
   ``bi-encoder`` and ``cross-encoder``, else ``rerank(queries, corpus, run, k)``). With
   p* = min over P(q) of r(q, p):

   * ``relative`` = m: drop c when r(q, c) > r(q, p*) − m (the reranker puts c within m of,
     or above, the weakest labelled positive);
   * ``threshold`` = t: drop c when r(q, c) > t (absolute, in the reranker's units).

   Both may be given (a candidate is dropped if either rule drops it). With neither, the
   default is ``relative`` = 0.05 for ``bi-encoder`` (cosine units; on SciFact train, BM25
   top-10 negatives mined with half the positives held out, this cut the held-out positives
   mined as negatives from 79 to 21 while dropping 18% of the top-20 candidates) and
   ``relative`` = 0 for any other reranker (drop what it scores above the positive: a rule
   free of the score's scale).
3. The remaining candidates keep the retriever's order; the window [range_min, range_max) of
   them is taken and the first n (``sampling="top"``) or a seeded uniform sample of the
   window (``"random-in-window"``) become the negatives, with the retriever's scores as
   ``negative_scores`` (``positive_score`` is null, as for ``retriever-topk``).

Soft labels (``labels``): ``sigmoid`` maps a score s to σ((s − c) / T); with the defaults
c = 0.74, T = 0.10 for ``bi-encoder`` (Platt scaling of MiniLM cosine on SciFact train:
labelled positives against the other BM25 top-20 documents of their queries, so a label
reads as P(relevant | cosine) among hard candidates) and c = 0, T = 1 for any other
reranker (σ of a logit: a one-label cross-encoder's probability). ``cosine`` maps the
cosine linearly, (s + 1) / 2, clipped to [0, 1] (uncalibrated: unrelated texts get ≈ 0.5);
``none`` leaves the labels null.
"""

from __future__ import annotations

import json
import weakref
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

import rankarena
from rankarena import Corpus, ParameterError, Run
from rankarena.api.checks import check_choice, finite_number, positive_number
from rankarena.api.mining import MiningContext, TrainingExamples
from rankarena.plugins.samplers.baselines import RetrieverTopK

LABELS = ("sigmoid", "cosine", "none")

# Per-reranker defaults (see the module docstring); GENERIC for every other reranker.
RERANKER_DEFAULTS: dict[str, dict[str, float]] = {
    "bi-encoder": {"relative": 0.05, "label_center": 0.74, "label_temperature": 0.10},
}
GENERIC_DEFAULTS: dict[str, float] = {
    "relative": 0.0,
    "label_center": 0.0,
    "label_temperature": 1.0,
}

# Rerankers built per plugin host and configuration, and the scores each configuration gave
# per mining context; both held weakly (dropped with the host or the context), so samplers
# that share a context score each pair once and load a model once.
_RERANKERS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_SCORES: weakref.WeakKeyDictionary[MiningContext, dict[str, dict[tuple[str, str], float]]] = (
    weakref.WeakKeyDictionary()
)


class Denoised(RetrieverTopK):
    """adapted: ``retriever-topk`` candidates with a reranker's likely positives removed
    (RocketQA denoises with a cross-encoder; the default reranker here is a bi-encoder).

    :param retriever: the first-stage retriever (default ``bm25``: the default reranker is a
        MiniLM bi-encoder, the ``dense`` retriever's own model, whose second opinion on
        ``dense`` candidates would only repeat the first).
    :param params: the retriever's parameters.
    :param range_min: kept candidates ranked above this (0-based) are skipped.
    :param range_max: candidates from this retriever rank on are not considered (default
        range_min + 10·num_negatives).
    :param sampling: ``top`` or ``random-in-window``.
    :param reranker: a registered reranker (``bi-encoder``, ``cross-encoder``, a plugin's,
        e.g. an LLM judge).
    :param reranker_params: its parameters (``device``/``show_progress`` default to the
        mining context's).
    :param threshold: drop candidates the reranker scores above this (absolute).
    :param relative: drop candidates the reranker scores above (weakest positive − this);
        default 0.05 for ``bi-encoder``, 0 otherwise, when ``threshold`` is not given.
    :param labels: ``sigmoid``, ``cosine`` or ``none`` (soft labels; module docstring).
    :param label_center: c of the sigmoid (default 0.74 for ``bi-encoder``, else 0).
    :param label_temperature: T of the sigmoid (default 0.10 for ``bi-encoder``, else 1).
    """

    name = "denoised"

    def __init__(
        self,
        retriever: str = "bm25",
        params: dict | None = None,
        range_min: int = 0,
        range_max: int | None = None,
        sampling: str = "top",
        reranker: str = "bi-encoder",
        reranker_params: dict | None = None,
        threshold: float | None = None,
        relative: float | None = None,
        labels: str = "sigmoid",
        label_center: float | None = None,
        label_temperature: float | None = None,
    ):
        super().__init__(retriever, params, range_min, range_max, sampling)
        where = "sampler 'denoised'"
        check_choice(where, "labels", labels, LABELS)
        defaults = RERANKER_DEFAULTS.get(reranker, GENERIC_DEFAULTS)
        if threshold is None and relative is None:
            relative = defaults["relative"]
        center = defaults["label_center"] if label_center is None else label_center
        temperature = (
            defaults["label_temperature"] if label_temperature is None else label_temperature
        )
        for label, value in (
            ("threshold", threshold),
            ("relative", relative),
            ("label_center", center),
        ):
            if value is not None:
                finite_number(where, label, value)
        positive_number(where, "label_temperature", temperature)
        self.reranker = reranker
        self.reranker_params = dict(_check_mapping(reranker_params, "reranker_params"))
        self.threshold, self.relative = threshold, relative
        self.labels, self.label_center, self.label_temperature = labels, center, temperature

    def _default_range_max(self, num_negatives: int) -> int:
        return self.range_min + 10 * num_negatives

    # ------------------------------------------------------------------ the reranker

    def _key(self) -> str:
        return json.dumps([self.reranker, self.reranker_params], sort_keys=True, default=repr)

    def reranker_for(self, context: MiningContext):
        """The reranker, built once per plugin host and configuration (the context's device
        and progress choice filled in)."""
        spec = context.host.rerankers.get(self.reranker)
        names = {p.name for p in spec.parameters}
        params = dict(self.reranker_params)
        if context.device and "device" in names:
            params.setdefault("device", context.device)
        if "show_progress" in names:
            params.setdefault("show_progress", context.show_progress)
        key = json.dumps([self.reranker, params], sort_keys=True, default=repr)
        built = _RERANKERS.setdefault(context.host, {})
        if key not in built:
            built[key] = context.host.rerankers.create(self.reranker, **params)
        return built[key]

    def rerank_scores(
        self, context: MiningContext, query_ids: list[str], doc_ids: list[str]
    ) -> np.ndarray:
        """The reranker's scores of the pairs (query_ids[i], doc_ids[i]).

        Scores are kept for the life of the context, so that samplers sharing it and the
        reranker configuration (e.g. with other thresholds) score each pair once.
        """
        known = _SCORES.setdefault(context, {}).setdefault(self._key(), {})
        pairs = list(zip(query_ids, doc_ids, strict=True))
        missing = list(dict.fromkeys(p for p in pairs if p not in known))
        if missing:
            fresh = self._score_new(context, [q for q, _ in missing], [d for _, d in missing])
            known.update(zip(missing, fresh.tolist(), strict=True))
        return np.array([known[p] for p in pairs], dtype=np.float64)

    def _score_new(
        self, context: MiningContext, query_ids: list[str], doc_ids: list[str]
    ) -> np.ndarray:
        reranker = self.reranker_for(context)
        if hasattr(reranker, "score"):
            query_text = context.queries.to_dict()
            wanted = list(dict.fromkeys(doc_ids))
            rows = context.corpus.table.take([context.doc_index[d] for d in wanted])
            texts = Corpus(rows).texts(with_title=getattr(reranker, "with_title", True))
            doc_text = dict(zip(wanted, texts, strict=True))
            pairs = [(query_text[q], doc_text[d]) for q, d in zip(query_ids, doc_ids, strict=True)]
            scores = np.asarray(reranker.score(pairs), dtype=np.float64)
            if scores.shape != (len(pairs),):
                raise ParameterError(
                    f"sampler 'denoised': reranker {self.reranker!r} returned {scores.shape} "
                    f"scores for {len(pairs)} pairs"
                )
            return scores
        run = Run.from_arrays(query_ids, doc_ids, np.zeros(len(doc_ids)))
        depth = max(Counter(query_ids).values())
        reranked = reranker.rerank(context.queries, context.corpus, run, k=depth).to_dict()
        try:
            return np.array(
                [reranked[q][d] for q, d in zip(query_ids, doc_ids, strict=True)], np.float64
            )
        except KeyError as missing:
            raise ParameterError(
                f"sampler 'denoised': reranker {self.reranker!r} left out pair {missing}"
            ) from None

    def soft_labels(self, scores: np.ndarray) -> list[float] | None:
        """Reranker scores mapped to [0, 1] as ``labels`` says (None for ``none``)."""
        if self.labels == "none":
            return None
        if self.labels == "cosine":
            return np.clip((scores + 1.0) / 2.0, 0.0, 1.0).tolist()
        z = (scores - self.label_center) / self.label_temperature
        return (0.5 * (1.0 + np.tanh(z / 2.0))).tolist()  # σ(z), without overflow

    def keep(self, scores: np.ndarray, positive: float) -> np.ndarray:
        """Which candidates survive, from their reranker scores and the weakest positive's."""
        keep = np.ones(len(scores), dtype=bool)
        if self.relative is not None:
            keep &= ~(scores > positive - self.relative)
        if self.threshold is not None:
            keep &= ~(scores > self.threshold)
        return keep

    # ------------------------------------------------------------------ sampling

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Mine ``num_negatives`` denoised, soft-labelled negatives per query."""
        range_max = self.window(num_negatives)
        pool_sampler = RetrieverTopK(self.retriever, self.params, 0, range_max)
        pool: dict[str, tuple[list[str], list[float]]] = {}
        for row in pool_sampler.sample(context, range_max).table.to_pylist():
            pool.setdefault(row["query_id"], (row["negative_ids"], row["negative_scores"]))
        query_ids, doc_ids = [], []
        for query in context.queries.ids:
            for doc in [*pool[query][0], *context.positives[query]]:
                query_ids.append(query)
                doc_ids.append(doc)
        rescored = self.rerank_scores(context, query_ids, doc_ids)
        judged: dict[tuple[str, str], float] = dict(
            zip(zip(query_ids, doc_ids, strict=True), rescored.tolist(), strict=True)
        )
        rng = context.rng(f"{self.name}:{self.range_min}:{range_max}")
        rows = []
        for query in context.queries.ids:
            candidates, retriever_scores = pool[query]
            scores = np.array([judged[(query, d)] for d in candidates], dtype=np.float64)
            weakest = min(judged[(query, p)] for p in context.positives[query])
            kept = [
                (doc, score, rerank)
                for doc, score, rerank, ok in zip(
                    candidates, retriever_scores, scores, self.keep(scores, weakest), strict=True
                )
                if ok
            ]
            window = kept[self.range_min : range_max]
            if self.sampling == "top":
                chosen = window[:num_negatives]
            else:
                size = min(num_negatives, len(window))
                chosen = [window[i] for i in sorted(rng.choice(len(window), size, replace=False))]
            labels = self.soft_labels(np.array([r for _, _, r in chosen], dtype=np.float64))
            for positive in context.positives[query]:
                rows.append(
                    {
                        "query_id": query,
                        "positive_id": positive,
                        "positive_score": None,
                        "negative_ids": [d for d, _, _ in chosen],
                        "negative_scores": [s for _, s, _ in chosen],
                        "negative_labels": labels,
                    }
                )
        return TrainingExamples.from_rows(rows)


def _check_mapping(value: Any, label: str) -> Mapping[str, Any]:
    if value is not None and not isinstance(value, Mapping):
        raise ParameterError(f"sampler 'denoised': {label} must be a mapping, got {value!r}")
    return value or {}


@rankarena.hookimpl
def register_samplers(register) -> None:
    register("denoised", Denoised)
