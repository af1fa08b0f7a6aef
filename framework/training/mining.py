"""What a hard-negative sampler works from: ``MiningContext``.

A context holds the corpus, the queries and the qrels of one split, and gives samplers:

* ``positives`` — per query, the labelled positives (grade ≥ ``min_grade``) the sampler is
  *shown*. With ``holdout`` > 0, a share of the positives of queries that have several is
  hidden (seeded; one positive always stays shown): ``heldout`` lists them. Mining with some
  positives hidden and counting how often they come back as negatives estimates the
  false-negative rate of a strategy (``rankarena.training.negative_stats``).
* ``all_positives`` — every labelled positive. A sampler must never return a *shown*
  positive as a negative; hidden ones are unlabelled on purpose (that is the experiment), so
  mine with ``holdout=0`` (the default) for training data.
* ``retriever(name, params)`` — a registered retriever, indexed on the corpus once.
* ``candidates(name, params, depth)`` — its run on the mining queries, cached per depth.
* ``score_pairs(name, params, query_ids, doc_ids)`` — the retriever's score of given pairs
  (retrievers that can score arbitrary pairs implement ``score_pairs``; ``dense`` and ``bm25``
  do).
* ``rng(salt)`` — a generator seeded from the context's seed and a per-use salt.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data import Corpus, Qrels, Queries, Run
from ..errors import ParameterError


class MiningContext:
    """The data and shared, cached retrieval a sampler mines from (see the module docstring).

    :param holdout: share (0–1) of the extra positives of multi-positive queries to hide.
    :param min_grade: the smallest relevance grade that counts as positive.
    :param device: passed to retrievers that take a ``device`` parameter.
    """

    def __init__(
        self,
        corpus: Corpus,
        queries: Queries,
        qrels: Qrels,
        *,
        host=None,
        seed: int = 0,
        holdout: float = 0.0,
        min_grade: int = 1,
        device: str | None = None,
        show_progress: bool = False,
    ):
        from ..core.host import plugin_manager

        if not 0.0 <= holdout <= 1.0:
            raise ParameterError(f"holdout must be in [0, 1], got {holdout}")
        self.corpus, self.qrels, self.seed = corpus, qrels, seed
        self.host = host or plugin_manager()
        self.device, self.show_progress = device, show_progress
        self.doc_ids = list(corpus.ids)
        self.doc_index = {doc: i for i, doc in enumerate(self.doc_ids)}
        judged = qrels.to_dict()
        known = set(queries.ids)
        self.all_positives: dict[str, set[str]] = {
            q: {d for d, g in docs.items() if g >= min_grade and d in self.doc_index}
            for q, docs in judged.items()
            if q in known
        }
        self.all_positives = {q: p for q, p in self.all_positives.items() if p}
        self.positives, self.heldout = self._hold_out(holdout)
        keep = [q in self.positives for q in queries.ids]
        self.queries = Queries(queries.table.filter(keep))
        self._retrievers: dict[str, Any] = {}
        self._runs: dict[tuple[str, int], Run] = {}

    def _hold_out(self, share: float) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
        rng = self.rng("holdout")
        shown, hidden = {}, {}
        for query in sorted(self.all_positives):
            docs = sorted(self.all_positives[query])
            rng.shuffle(docs)
            extra = [d for d in docs[1:] if rng.random() < share]
            shown[query] = [d for d in docs if d not in extra]
            if extra:
                hidden[query] = set(extra)
        return shown, hidden

    def rng(self, salt: str) -> np.random.Generator:
        """A generator seeded by (seed, salt): reproducible and independent per use."""
        return np.random.default_rng([self.seed, zlib.crc32(salt.encode())])

    @staticmethod
    def _key(name: str, params: Mapping[str, Any]) -> str:
        return json.dumps([name, dict(params)], sort_keys=True, default=repr)

    def retriever(self, name: str, params: Mapping[str, Any] | None = None):
        """The registered retriever ``name`` built with ``params`` and indexed on the corpus."""
        params = dict(params or {})
        key = self._key(name, params)
        if key not in self._retrievers:
            spec = self.host.retrievers.get(name)
            names = {p.name for p in spec.parameters}
            if self.device and "device" in names:
                params.setdefault("device", self.device)
            if "show_progress" in names:
                params.setdefault("show_progress", self.show_progress)
            self._retrievers[key] = self.host.retrievers.create(name, **params).index(self.corpus)
        return self._retrievers[key]

    def candidates(self, name: str, params: Mapping[str, Any] | None, depth: int) -> Run:
        """The top ``depth`` documents of every mining query under the retriever."""
        key = (self._key(name, params or {}), depth)
        if key not in self._runs:
            deeper = [r for (k, d), r in self._runs.items() if k == key[0] and d >= depth]
            if deeper:
                self._runs[key] = deeper[0].top(depth)
            else:
                retriever = self.retriever(name, params)
                self._runs[key] = retriever.search(self.queries, k=depth)
        return self._runs[key]

    def score_pairs(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        query_ids: list[str],
        doc_ids: list[str],
    ) -> np.ndarray:
        """The retriever's scores of the pairs (query_ids[i], doc_ids[i])."""
        retriever = self.retriever(name, params)
        if not hasattr(retriever, "score_pairs"):
            raise ParameterError(
                f"retriever {name!r} cannot score given pairs (no score_pairs method); "
                "positive-aware mining needs positive scores: use dense or bm25"
            )
        return np.asarray(retriever.score_pairs(self.queries, query_ids, doc_ids), np.float64)

    def positive_pairs(self) -> tuple[list[str], list[str]]:
        """(query_ids, doc_ids) of every shown (query, positive) pair, in query order."""
        queries, docs = [], []
        for query in self.queries.ids:
            for doc in self.positives[query]:
                queries.append(query)
                docs.append(doc)
        return queries, docs
