"""Built-in reranker ``bi-encoder``: rescore a run's top k by bi-encoder cosine similarity.

The query and each document are embedded separately by a sentence-transformers bi-encoder
(``rankarena.retrieval.bi_encoder.BiEncoder``, as in the ``dense`` retriever: the model's own
pooling)
and a pair scores

    s(q, d) = cos(e(q), e(d)) = e(q) · e(d) / (‖e(q)‖ ‖e(d)‖)   ∈ [−1, 1]

(Reimers & Gurevych, "Sentence-BERT", EMNLP 2019). It is a cheap second-opinion scorer, not
a cross-encoder: it reads query and document apart, so it mostly re-expresses what a dense
retriever of the same model already knows, and adds most where the first stage was
something else (BM25, a fusion, another model). It exists because real cross-encoder
weights are not available offline here; it has the public interface of the
``cross-encoder`` reranker (``score(pairs)``, ``rerank(queries, corpus, run, k)``), so either
one can serve wherever a reranker is named, e.g. as the denoiser of the ``denoised``
sampler. Each distinct text of a call is encoded once.
"""

from __future__ import annotations

import sys

import numpy as np

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run
from rankarena.api.retrieval import BiEncoder


class BiEncoderReranker:
    """Rerank the top ``k`` documents of every query of a run by bi-encoder cosine.

    :param model: a local folder, a ``registries/models.toml`` alias (``minilm``) or a
        Hugging Face id of a sentence-transformers model.
    :param batch_size: texts per forward pass, sorted by length.
    :param max_length: tokens per text (default: the model's ``max_seq_length``).
    :param device: overrides the host's device choice.
    :param with_title: read ``title + " " + text`` for documents.
    :param query_prefix: text put before every query (e.g. ``"query: "`` for E5).
    :param doc_prefix: text put before every document (e.g. ``"passage: "``).
    :param show_progress: progress bar (default: when stderr is a terminal).

    Only the reranked top ``k`` is returned, ranked by cosine similarity.
    """

    def __init__(
        self,
        model: str = "minilm",
        batch_size: int = 32,
        max_length: int | None = None,
        device: str | None = None,
        with_title: bool = True,
        query_prefix: str = "",
        doc_prefix: str = "",
        show_progress: bool | None = None,
    ):
        if batch_size < 1 or (max_length is not None and max_length < 8):
            raise ParameterError("reranker 'bi-encoder': batch_size >= 1, max_length >= 8")
        device = device or rankarena.plugin_manager().select_device().name
        self.encoder = BiEncoder(model, device, max_length, batch_size)
        self.with_title = with_title
        self.query_prefix, self.doc_prefix = query_prefix, doc_prefix
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress

    def _embed(self, texts: list[str], prefix: str, label: str) -> tuple[np.ndarray, np.ndarray]:
        """(unit-norm embeddings of the distinct texts, row of each input text)."""
        distinct = list(dict.fromkeys(texts))
        row = {t: i for i, t in enumerate(distinct)}
        vectors = self.encoder.encode([prefix + t for t in distinct], self.show_progress, label)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        return vectors, np.fromiter((row[t] for t in texts), dtype=np.int64, count=len(texts))

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Cosine similarity of (query, document) text pairs, in input order."""
        if not pairs:
            return np.zeros(0, dtype=np.float64)
        queries, q_rows = self._embed([q for q, _ in pairs], self.query_prefix, "queries")
        docs, d_rows = self._embed([d for _, d in pairs], self.doc_prefix, "reranking")
        return np.einsum("ij,ij->i", queries[q_rows], docs[d_rows]).astype(np.float64)

    def rerank(self, queries: Queries, corpus: Corpus, run: Run, k: int = 100) -> Run:
        """The top ``k`` of ``run`` for each query, reordered by cosine similarity."""
        if k < 1:
            raise ParameterError(f"reranker 'bi-encoder': k must be at least 1, got {k}")
        top = run.top(k).table
        query_text = queries.to_dict()
        qids = top.column("query_id").to_pylist()
        dids = top.column("doc_id").to_pylist()
        missing = next((q for q in qids if q not in query_text), None)
        if missing is not None:
            raise RankarenaError(f"reranker 'bi-encoder': run query {missing!r} has no text")
        position = {d: i for i, d in enumerate(corpus.ids)}
        missing = next((d for d in dids if d not in position), None)
        if missing is not None:
            raise RankarenaError(f"reranker 'bi-encoder': run document {missing!r} not in corpus")
        wanted = list(dict.fromkeys(dids))
        texts = Corpus(corpus.table.take([position[d] for d in wanted])).texts(self.with_title)
        doc_text = dict(zip(wanted, texts, strict=True))
        scores = self.score([(query_text[q], doc_text[d]) for q, d in zip(qids, dids, strict=True)])
        return Run.from_arrays(qids, dids, scores)


@rankarena.hookimpl
def register_rerankers(register) -> None:
    register("bi-encoder", BiEncoderReranker)
