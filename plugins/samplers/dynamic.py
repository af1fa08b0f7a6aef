"""Samplers that change during training: ``curriculum`` and ``dynamic``.

``curriculum`` — after MacAvaney, Nardini, Perego, Tonellotto, Goharian & Frieder, "Training
Curricula for Open Domain Answer Re-Ranking" (SIGIR 2020). It wraps any registered sampler
(``sampler``, ``sampler_params``), keeps its ``TrainingExamples`` (same schema, same rows
and negatives; only missing scores are filled, see below) and orders the rows from easy to
hard. Difficulty follows the paper's pairwise heuristics, computed from the mining scores in
the table: with h the heuristic value of a document for its query, a (query, positive,
negative) triple has the ease D = (h(d⁺) − h(d⁻) + 1) / 2 ∈ [0, 1], and a row (one positive,
several negatives) the ease of its hardest negative, D = minₙ D(d⁺, dₙ⁻) — as in the authors'
OpenNIR trainer. ``heuristic``:

* ``normscore`` (default; the paper's "normalised score"): h = the score min-max normalised
  over every score of the query in the table (its positives and negatives); so
  difficulty = 1 − D = (1 + max ĥ(d⁻) − ĥ(d⁺)) / 2, the hardest negative's score relative to
  the positive's.
* ``reciprank`` (the paper's "reciprocal rank"): h = 1 / rank of the document among the
  query's documents in the table, by score (ties: document id).

``difficulty(examples)`` returns 1 − D per row; rows without negatives (``in-batch``) get 0.
Missing scores — a null ``positive_score`` (``retriever-topk`` leaves it null) or NaN negative
scores (``random``) — are filled before ordering with ``scorer`` (default: the inner sampler's
own ``retriever`` with its ``params``, else ``dense``) through ``context.score_pairs``, and
written into the table. ``weights(step, total_steps)`` is the paper's curriculum weight

    W(D, i) = D + (i / m) · (1 − D)   if i < m,   1 otherwise,

with i the (0-based) training step and m = end_fraction · (total_steps − 1) the end of the
curriculum (the paper's "end of curriculum" iteration): difficult rows are down-weighted early,
every weight is non-decreasing in the step, and all weights are 1 from step m on — with the
default ``end_fraction = 1`` at the last step. ``rankarena train`` multiplies each step's
loss by the mean weight of its batch's rows (``rankarena.training.sampler_schedule``).

Checked against the authors' trainer (github.com/Georgetown-IR-Lab/OpenNIR,
``onir/trainers/pairwise_cl.py``): the ease per record is min over its negatives of
(h(d⁺) − h(d⁻) + 1)/2 (+1e-8), as here, and the batch loss is multiplied by the batch's mean
weight, as the trainer does here. *Adapted*: the authors' schedule moves once per epoch,
W = D·(1 − e/E) + e/E with e the epoch and E = ``eoc_epoch`` (20 by default), where this one
moves every step up to m; their ``reciprank`` uses the document's rank in the training run,
this one its rank among the query's documents in the mined table; and their ``normscore``
field is read from their data pipeline, not checked here (here: min–max over the table's
scores of the query).

``dynamic`` — ADORE, Zhan, Mao, Liu, Guo, Zhang & Ma, "Optimizing Dense Retrieval Model
Training with Hard Negatives" (SIGIR 2021): the document encoder and index stay fixed while
the query encoder trains, and the hard negatives are re-retrieved with the *current* query
encoder. Here the document index is the dense retriever's ``embeddings``, indexed once through
the context and then kept (never re-encoded). ``refresh(context, query_encoder,
num_negatives)`` encodes the mining queries (the retriever's ``query_prefix`` first) with the
trainer's current ``query_encoder`` (texts → [n, dim] array), searches the fixed document
embeddings exactly (``exact_search``), drops the shown positives and keeps the rank window
[range_min, range_max) as ``retriever-topk`` does (``top`` or ``random-in-window``);
``negative_scores`` and ``positive_score`` are the current encoder's inner products.
``sample(context, num_negatives)`` is ``refresh`` with the retriever's own encoder (its
current state). ADORE re-retrieves at every step (``every = 1``, the default); with
``every = N``, ``due(step)`` is true at steps 0, N, 2N, …: ``rankarena train`` re-mines the
batches of those steps and the others keep the negatives mined before training
(``rankarena.training.sampler_schedule``).

Checked against the authors' code (github.com/jingtaozhan/DRhard, ``adore/train.py``): at
every step the batch's queries are encoded by the model being trained and the fixed
(flat, inner-product) index returns each query's top ``neg_topk = 200``; the non-positives
among them are the negatives (the positives stay in the list as its relevant items, and are
appended when none was retrieved), and the loss is a pairwise logistic loss over every
(relevant, non-relevant) pair of the list, optionally weighted by |1/rank_i − 1/rank_j| cut
at ``metric_cut``. So the built-in is *adapted*: its window counts ranks after the positives
are removed (200 negatives, where ADORE has the non-positives of the top 200: fewer when a
positive was retrieved), and the loss is the trainer's choice. The closest setting:
``every=1``, ``range_max=200`` and ``num_negatives=200`` with a pairwise loss
(``pairwise-logistic``; ``lambdaloss`` for the rank-weighted variant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import rankarena
from rankarena import ParameterError
from rankarena.api.checks import check_choice
from rankarena.api.mining import MiningContext, TrainingExamples
from rankarena.api.retrieval import exact_search
from rankarena.plugins.samplers.baselines import RetrieverTopK, example_rows
from rankarena.plugins.samplers.clusters import as_params, embedding_retriever, query_texts

HEURISTICS = ("normscore", "reciprank")


def curriculum_weights(ease: np.ndarray, step: int, end_step: float) -> np.ndarray:
    """W(D, i) = D + (i/m)(1 − D) for i < m, else 1 (MacAvaney et al., SIGIR 2020).

    :param ease: D per row, in [0, 1] (1 = easiest).
    :param step: i, the 0-based training step.
    :param end_step: m, the step from which every weight is 1.
    """
    ease = np.clip(np.asarray(ease, dtype=np.float64), 0.0, 1.0)
    if step >= end_step:
        return np.ones_like(ease)
    progress = step / end_step
    return ease + progress * (1.0 - ease)


class Curriculum:
    """adapted: any sampler's rows ordered easy → hard, with curriculum weights (the module
    docstring says what differs from the authors' code).

    :param sampler: the registered sampler to wrap (default ``retriever-topk``).
    :param sampler_params: its parameters.
    :param heuristic: ``normscore`` or ``reciprank``.
    :param end_fraction: where the curriculum ends, as a share of the training steps (0, 1].
    :param scorer: the retriever that fills missing scores (default: the inner sampler's
        ``retriever``, else ``dense``).
    :param scorer_params: its parameters.
    """

    name = "curriculum"

    def __init__(
        self,
        sampler: str = "retriever-topk",
        sampler_params: dict | None = None,
        heuristic: str = "normscore",
        end_fraction: float = 1.0,
        scorer: str | None = None,
        scorer_params: dict | None = None,
    ):
        where = f"sampler {self.name!r}"
        check_choice(where, "heuristic", heuristic, HEURISTICS)
        if not 0.0 < end_fraction <= 1.0:
            raise ParameterError(f"{where}: end_fraction must be in (0, 1], got {end_fraction}")
        if sampler == self.name:
            raise ParameterError(f"{where}: cannot wrap itself; name another sampler")
        self.sampler = sampler
        self.sampler_params = as_params(sampler_params, "sampler_params", self.name)
        self.heuristic, self.end_fraction = heuristic, end_fraction
        self.scorer = scorer
        self.scorer_params = as_params(scorer_params, "scorer_params", self.name)
        self._ease: tuple[Any, np.ndarray] | None = None  # (an immutable Arrow table, D)
        self.examples: TrainingExamples | None = None

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """The inner sampler's examples, scores filled, rows ordered from easy to hard."""
        inner = context.host.samplers.create(self.sampler, **self.sampler_params)
        examples = self._fill_scores(context, inner, inner.sample(context, num_negatives))
        order = np.argsort(self.difficulty(examples), kind="stable")
        self.examples = TrainingExamples(examples.table.take(order))
        return self.examples

    def _scorer(self, inner: Any) -> tuple[str, dict[str, Any]]:
        if self.scorer is not None:
            return self.scorer, self.scorer_params
        if isinstance(getattr(inner, "retriever", None), str):
            return inner.retriever, dict(getattr(inner, "params", {}) or {})
        return "dense", {}

    def _fill_scores(
        self, context: MiningContext, inner: Any, examples: TrainingExamples
    ) -> TrainingExamples:
        rows = examples.table.to_pylist()
        queries: list[str] = []
        docs: list[str] = []
        for row in rows:
            if not row["negative_ids"]:
                continue  # nothing to rank against (in-batch rows): no score needed
            if row["positive_score"] is None or np.isnan(row["positive_score"]):
                queries.append(row["query_id"])
                docs.append(row["positive_id"])
            for doc, score in zip(row["negative_ids"], row["negative_scores"], strict=True):
                if np.isnan(score):
                    queries.append(row["query_id"])
                    docs.append(doc)
        if not queries:
            return examples
        name, params = self._scorer(inner)
        scored = context.score_pairs(name, params, queries, docs)
        found = dict(zip(zip(queries, docs, strict=True), scored.tolist(), strict=True))
        for row in rows:
            query = row["query_id"]
            if not row["negative_ids"]:
                continue
            if row["positive_score"] is None or np.isnan(row["positive_score"]):
                row["positive_score"] = found[(query, row["positive_id"])]
            row["negative_scores"] = [
                found[(query, d)] if np.isnan(s) else s
                for d, s in zip(row["negative_ids"], row["negative_scores"], strict=True)
            ]
        return TrainingExamples.from_rows(rows)

    def difficulty(self, examples: TrainingExamples) -> np.ndarray:
        """1 − D per row (0 = easiest, 1 = hardest) from the table's scores (module docstring)."""
        rows = examples.table.select(
            ["query_id", "positive_id", "positive_score", "negative_ids", "negative_scores"]
        ).to_pylist()
        scores: dict[str, dict[str, float]] = {}
        for number, row in enumerate(rows, start=1):
            if not row["negative_ids"]:
                continue  # nothing to rank against: difficulty 0
            pairs = [(row["positive_id"], row["positive_score"])]
            pairs += list(zip(row["negative_ids"], row["negative_scores"], strict=True))
            if any(s is None or np.isnan(s) for _, s in pairs):
                raise ParameterError(
                    f"sampler {self.name!r}: row {number} (query {row['query_id']!r}) has "
                    "unscored pairs; difficulty needs positive and negative scores"
                )
            known = scores.setdefault(row["query_id"], {})
            for doc, score in pairs:
                known.setdefault(doc, float(score))
        value = {query: self._heuristic(docs) for query, docs in scores.items()}
        out = np.zeros(len(rows), dtype=np.float64)
        for i, row in enumerate(rows):
            if not row["negative_ids"]:
                continue
            h = value[row["query_id"]]
            positive = h[row["positive_id"]]
            ease = min((positive - h[d] + 1.0) / 2.0 for d in row["negative_ids"])
            out[i] = 1.0 - min(max(ease, 0.0), 1.0)
        return out

    def _heuristic(self, scores: dict[str, float]) -> dict[str, float]:
        if self.heuristic == "reciprank":
            ranked = sorted(scores, key=lambda d: (-scores[d], d))
            return {doc: 1.0 / rank for rank, doc in enumerate(ranked, start=1)}
        low, high = min(scores.values()), max(scores.values())
        if high == low:
            return dict.fromkeys(scores, 0.5)
        return {doc: (s - low) / (high - low) for doc, s in scores.items()}

    def weights(
        self, step: int, total_steps: int, examples: TrainingExamples | None = None
    ) -> np.ndarray:
        """W(D, step) per row of ``examples`` (default: the last ``sample``'s rows).

        Curriculum ends at m = end_fraction · (total_steps − 1); see ``curriculum_weights``.
        """
        if total_steps < 1 or step < 0:
            raise ParameterError(
                f"sampler {self.name!r}: need step >= 0 and total_steps >= 1, got {step}, "
                f"{total_steps}"
            )
        examples = examples if examples is not None else self.examples
        if examples is None:
            raise ParameterError(f"sampler {self.name!r}: call sample() before weights()")
        if self._ease is None or self._ease[0] is not examples.table:  # once, not every step
            self._ease = (examples.table, 1.0 - self.difficulty(examples))
        return curriculum_weights(self._ease[1], step, self.end_fraction * (total_steps - 1))


class DynamicNegatives(RetrieverTopK):
    """adapted: ADORE's negatives re-mined with the current query encoder (the module
    docstring says what differs from the authors' code and gives the closest setting).

    :param retriever: a registered retriever with document embeddings (default ``dense``):
        its index is the fixed document index.
    :param params: its parameters.
    :param every: the trainer re-mines the batches of steps 0, N, 2N, … (1: ADORE's every
        step; the other steps keep the negatives mined before training).
    :param range_min: candidates ranked above this (0-based, positives removed) are skipped.
    :param range_max: candidates from this rank on are not considered (default:
        range_min + num_negatives).
    :param sampling: ``top`` or ``random-in-window``.
    """

    name = "dynamic"

    def __init__(
        self,
        retriever: str = "dense",
        params: dict | None = None,
        every: int = 1,
        range_min: int = 0,
        range_max: int | None = None,
        sampling: str = "top",
    ):
        params = as_params(params, "params", self.name)
        super().__init__(retriever, params, range_min, range_max, sampling)
        if every < 1:
            raise ParameterError(f"sampler {self.name!r}: every must be >= 1, got {every}")
        self.every = every
        self._fixed: tuple[MiningContext, Any, np.ndarray] | None = None

    def due(self, step: int) -> bool:
        """Whether the trainer should call ``refresh`` at (0-based) ``step``: 0, N, 2N, …"""
        if step < 0:
            raise ParameterError(f"sampler {self.name!r}: step must be >= 0, got {step}")
        return step % self.every == 0

    def _index(self, context: MiningContext) -> tuple[Any, np.ndarray]:
        if self._fixed is None or self._fixed[0] is not context:
            model = embedding_retriever(context, self.retriever, self.params, self.name)
            self._fixed = (context, model, model.embeddings)
        return self._fixed[1], self._fixed[2]

    def document_index(self, context: MiningContext) -> np.ndarray:
        """The fixed document embeddings [docs, dim] (corpus order), indexed once."""
        return self._index(context)[1]

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Negatives mined with the retriever's own (current) query encoder."""
        model, _ = self._index(context)
        return self.refresh(context, model.encoder.encode, num_negatives)

    def refresh(
        self,
        context: MiningContext,
        query_encoder: Callable[[list[str]], np.ndarray],
        num_negatives: int,
        query_ids: Sequence[str] | None = None,
    ) -> TrainingExamples:
        """Re-mine with ``query_encoder`` against the fixed document index.

        :param query_encoder: the trainer's current query encoder: texts → [n, dim] array.
        :param query_ids: the queries to re-mine (default: every mining query), e.g. a batch's.
        """
        range_max = self.window(num_negatives)
        model, documents = self._index(context)
        ids = list(context.queries.ids if query_ids is None else query_ids)
        unknown = [q for q in ids if q not in context.positives]
        if unknown:
            raise ParameterError(
                f"sampler {self.name!r}: {len(unknown)} query id(s) are not mining queries, "
                f"e.g. {unknown[0]!r}"
            )
        if not ids:
            return TrainingExamples.from_rows([])
        encoded = np.asarray(query_encoder(query_texts(model, context, ids)), dtype=np.float32)
        if encoded.shape != (len(ids), documents.shape[1]):
            raise ParameterError(
                f"sampler {self.name!r}: query_encoder returned shape {encoded.shape}, expected "
                f"({len(ids)}, {documents.shape[1]}) to match the document index"
            )
        most = max(len(context.positives[q]) for q in ids)
        device = str(getattr(model.encoder, "device", "cpu"))
        scores, index = exact_search(encoded, documents, range_max + most, device=device)
        rng = context.rng(f"{self.name}:{self.range_min}:{range_max}")
        rows = []
        for i, query in enumerate(ids):
            shown = context.positives[query]
            ranked = [
                (context.doc_ids[j], float(s))
                for j, s in zip(index[i].tolist(), scores[i].tolist(), strict=True)
                if j >= 0 and context.doc_ids[j] not in shown
            ]
            window = ranked[self.range_min : range_max]
            if self.sampling == "top":
                chosen = window[:num_negatives]
            else:
                picks = rng.choice(len(window), size=min(num_negatives, len(window)), replace=False)
                chosen = sorted((window[p] for p in picks), key=lambda item: (-item[1], item[0]))
            rows_of = [context.doc_index[d] for d in shown]
            positive = np.asarray(documents[rows_of], dtype=np.float32) @ encoded[i]
            per_positive = dict(zip(shown, positive.astype(np.float64).tolist(), strict=True))
            rows += example_rows(
                context, query, [d for d, _ in chosen], [s for _, s in chosen], per_positive
            )
        return TrainingExamples.from_rows(rows)


@rankarena.hookimpl
def register_samplers(register) -> None:
    register("curriculum", Curriculum)
    register("dynamic", DynamicNegatives)
