"""Built-in retrievers: ``bm25`` (sparse lexical retrieval on bm25s).

BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond",
Foundations and Trends in IR 3(4), 2009), computed by bm25s (Lù, "BM25S: Orders of
magnitude faster lexical search via eager sparse scoring", 2024), which stores every
document's term scores in a sparse matrix at index time. With ``method="lucene"``
(Lucene's default, which drops the rank-neutral (k1 + 1) factor of the numerator):

    score(q, d) = Σ_{t ∈ q} IDF(t) · tf(t, d) / (tf(t, d) + k1 · (1 − b + b · |d| / avgdl))
    IDF(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))

``robertson``, ``atire``, ``bm25l`` and ``bm25+`` are the other variants bm25s offers
(Kamphuis et al., "Which BM25 Do You Mean? A Large-Scale Reproducibility Study of Scoring
Variants", ECIR 2020); ``delta`` is the shift of ``bm25l`` and ``bm25+``.
"""

from __future__ import annotations

import sys

import numpy as np

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run
from rankarena.api.checks import did_you_mean
from rankarena.api.memory import RUN_ROW_BYTES, require_memory
from rankarena.api.retrieval import load_stemmer

BM25_METHODS = ("lucene", "robertson", "atire", "bm25l", "bm25+")
INDEX_BYTES = 100 * 2**20
INDEX_BYTES_PER_CHAR = 6
"""Peak memory of indexing, besides the corpus: 100 MiB plus 6 bytes per character of
text (measured: 5.2 per character on 100,000 synthetic documents, 11.6 on SciFact's 5,183,
where the fixed part weighs more). A corpus whose estimate exceeds the memory limit is
refused before tokenising (``rankarena.api.memory``)."""
SEARCH_BYTES_PER_RESULT = RUN_ROW_BYTES + 40
"""Peak per (query, result): bm25s's index and score, their float64 and query-id copies
(40 bytes), then building the ``Run`` (``RUN_ROW_BYTES``). Measured: 299 bytes per result
for 1,000 queries at k = 1,000 on 10,000 synthetic documents (peak growth over the indexed
process)."""


class BM25Retriever:
    """BM25 on bm25s sparse matrices, with PyStemmer stemming and stopword removal.

    :param k1: term-frequency saturation (0.9: Anserini's and BEIR's default).
    :param b: length normalisation (0.4: Anserini's and BEIR's default).
    :param method: one of ``lucene``, ``robertson``, ``atire``, ``bm25l``, ``bm25+``.
    :param delta: the shift of ``bm25l`` / ``bm25+`` (ignored by the others).
    :param stemmer: a PyStemmer algorithm (``"porter"``, as Anserini/Lucene's English
        analyser; ``"english"`` = Snowball English; ...); None or ``""`` for none.
    :param stopwords: a bm25s stopword list name (``"en"``: Lucene's English list); None or
        ``""`` for none.
    :param with_title: index ``title + " " + text`` (as BEIR does) instead of ``text``.
    :param show_progress: bm25s's progress bars for tokenising, indexing and searching
        (default: when stderr is a terminal).

    Documents that share no term with a query (score 0) are not returned.

    Cost: indexing is O(total tokens) time and memory (``INDEX_BYTES_PER_CHAR``); a search
    O(Σ postings of the query terms + N) per query. A corpus or a search whose memory
    estimate exceeds the limit is refused in one line before it starts.
    """

    def __init__(
        self,
        k1: float = 0.9,
        b: float = 0.4,
        method: str = "lucene",
        delta: float = 0.5,
        stemmer: str | None = "porter",
        stopwords: str | None = "en",
        with_title: bool = True,
        show_progress: bool | None = None,
    ):
        if method not in BM25_METHODS:
            raise ParameterError(
                f"retriever 'bm25': unknown method {method!r}{did_you_mean(method, BM25_METHODS)}"
                f"; valid: {', '.join(BM25_METHODS)}"
            )
        if k1 < 0 or not 0 <= b <= 1:
            raise ParameterError(f"retriever 'bm25': need k1 >= 0 and 0 <= b <= 1, got {k1}, {b}")
        self.k1, self.b, self.method, self.delta = k1, b, method, delta
        self.stopwords = stopwords
        self.with_title = with_title
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        self._stemmer = load_stemmer(stemmer, "retriever 'bm25'")
        self._model = None
        self._doc_ids: np.ndarray | None = None

    def _tokenize(self, texts: list[str], return_ids: bool):
        import bm25s

        return bm25s.tokenize(
            texts,
            stopwords=self.stopwords or [],
            stemmer=self._stemmer,
            return_ids=return_ids,
            show_progress=self.show_progress,
        )

    def index(self, corpus: Corpus) -> BM25Retriever:
        """Tokenise and index ``corpus``; returns ``self``."""
        import bm25s

        texts = corpus.texts(with_title=self.with_title)
        require_memory(
            "retriever 'bm25'",
            INDEX_BYTES + INDEX_BYTES_PER_CHAR * sum(map(len, texts)),
            f"to index {len(texts):,} documents (tokens and the sparse index)",
            "index a smaller corpus",
        )
        self._model = bm25s.BM25(k1=self.k1, b=self.b, delta=self.delta, method=self.method)
        tokens = self._tokenize(texts, return_ids=True)
        self._model.index(tokens, show_progress=self.show_progress)
        self._doc_ids = np.array(corpus.ids, dtype=object)
        return self

    def search(self, queries: Queries, k: int = 1000) -> Run:
        """The top ``k`` documents (score > 0) of every query."""
        if self._model is None or self._doc_ids is None:
            raise RankarenaError("retriever 'bm25': call index(corpus) before search()")
        if k < 1:
            raise ParameterError(f"retriever 'bm25': k must be at least 1, got {k}")
        k = min(k, len(self._doc_ids))
        require_memory(
            "retriever 'bm25'",
            SEARCH_BYTES_PER_RESULT * len(queries) * k + 8 * len(self._doc_ids),
            f"to search {len(queries):,} queries at k={k:,} (results and one score per document)",
            "lower k or search fewer queries at a time",
        )
        tokens = self._tokenize(queries.table.column("text").to_pylist(), return_ids=False)
        docs, scores = self._model.retrieve(
            tokens, k=k, show_progress=self.show_progress, n_threads=1
        )
        scores = scores.astype(np.float64)
        keep = (scores > 0).ravel()
        query_ids = np.repeat(np.array(queries.ids, dtype=object), k)
        return Run.from_arrays(
            query_ids[keep], self._doc_ids[docs.ravel()[keep]], scores.ravel()[keep]
        )

    def score_pairs(self, queries: Queries, query_ids: list[str], doc_ids: list[str]) -> np.ndarray:
        """BM25(q, d) for each pair (query_ids[i], doc_ids[i]) of the indexed corpus."""
        if self._model is None or self._doc_ids is None:
            raise RankarenaError("retriever 'bm25': call index(corpus) before score_pairs()")
        texts = dict(zip(queries.ids, queries.table.column("text").to_pylist(), strict=True))
        wanted = list(dict.fromkeys(query_ids))
        tokens = self._tokenize([texts[q] for q in wanted], return_ids=False)
        position = {d: i for i, d in enumerate(self._doc_ids.tolist())}
        none = np.zeros(len(self._doc_ids))  # a query with no term left matches nothing
        scores = {
            q: self._model.get_scores(t) if len(t) else none
            for q, t in zip(wanted, tokens, strict=True)
        }
        return np.array(
            [scores[q][position[d]] for q, d in zip(query_ids, doc_ids, strict=True)], np.float64
        )


@rankarena.hookimpl
def register_retrievers(register) -> None:
    register("bm25", BM25Retriever)
