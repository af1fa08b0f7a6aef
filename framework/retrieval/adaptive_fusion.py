"""Adaptive RRF: per-query weights of a lexical and a dense run from the query terms' IDF.

After vstash (Steffens, "vstash: Local-First Hybrid Retrieval with Adaptive Fusion for LLM
Agents", arXiv:2604.15484, 2026): rare query terms make the keyword run worth more, common
ones make the embedding run worth more. For a corpus of N documents and a query q with
terms t (lower-cased words of two or more characters, Porter-stemmed, stopwords kept):

    IDF(t)     = ln(N / (df(t) + 1))        (ln N for a term no document contains)
    m(q)       = mean of IDF(t) over q's terms
    σ(q)       = 1 / (1 + exp(−α · (m(q) − ln(N) / 2))),   α = 2
    w_lex(q)   = 0.1 + 0.5 · σ(q),   w_dense(q) = 1 − w_lex(q)

Queries of more than 50 words get w_lex = 0.1; queries without terms get the paper's fixed
default w_lex = 0.4. The fused score is then weighted RRF (``rankarena.retrieval.fusion.fuse``):
s(d) = w_lex(q) / (k + rank_lex(d)) + w_dense(q) / (k + rank_dense(d)).
"""

from __future__ import annotations

import math

import numpy as np

from ..data import Corpus, Queries
from .stemming import load_stemmer

LONG_QUERY_WORDS = 50
ALPHA = 2.0
DEFAULT_LEXICAL_WEIGHT = 0.4


class TermStatistics:
    """Document frequencies of a corpus's terms, tokenised as the adaptive weights need.

    :param texts: the documents (as the lexical retriever indexed them).
    :param stemmer: a PyStemmer algorithm name, or None for no stemming.
    """

    def __init__(self, texts: list[str], stemmer: str | None = "porter"):
        import bm25s

        self._stemmer = load_stemmer(stemmer, "adaptive RRF")
        tokens = bm25s.tokenize(
            texts, stopwords=[], stemmer=self._stemmer, return_ids=True, show_progress=False
        )
        self.n_docs = len(texts)
        self.vocab: dict[str, int] = tokens.vocab
        doc_freq = np.zeros(len(self.vocab), dtype=np.int64)
        for ids in tokens.ids:
            doc_freq[np.unique(np.asarray(ids, dtype=np.int64))] += 1
        self.doc_freq = doc_freq

    def query_terms(self, text: str) -> list[str]:
        """The stemmed terms of ``text`` (stopwords kept, words of ≥ 2 characters)."""
        import bm25s

        return bm25s.tokenize(
            [text], stopwords=[], stemmer=self._stemmer, return_ids=False, show_progress=False
        )[0]

    def idf(self, term: str) -> float:
        """ln(N / (df + 1)); ln N for a term absent from the corpus."""
        index = self.vocab.get(term)
        if index is None:
            return math.log(self.n_docs)
        return math.log(self.n_docs / (self.doc_freq[index] + 1))

    def lexical_weight(self, text: str) -> float:
        """w_lex(q) of the module docstring."""
        if len(text.split()) > LONG_QUERY_WORDS:
            return 0.1
        terms = self.query_terms(text)
        if not terms or self.n_docs < 2:
            return DEFAULT_LEXICAL_WEIGHT
        mean_idf = sum(self.idf(t) for t in terms) / len(terms)
        signal = 1.0 / (1.0 + math.exp(-ALPHA * (mean_idf - math.log(self.n_docs) / 2)))
        return 0.1 + 0.5 * signal

    def weights(self, queries: Queries) -> tuple[dict[str, float], dict[str, float]]:
        """``({query_id: w_lex}, {query_id: w_dense})`` for every query."""
        texts = queries.table.column("text").to_pylist()
        lexical = {q: self.lexical_weight(t) for q, t in zip(queries.ids, texts, strict=True)}
        return lexical, {q: 1.0 - w for q, w in lexical.items()}


def adaptive_weights(
    corpus: Corpus,
    queries: Queries,
    *,
    stemmer: str | None = "porter",
    with_title: bool = True,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-query (lexical, dense) RRF weights for ``queries`` over ``corpus``."""
    return TermStatistics(corpus.texts(with_title=with_title), stemmer).weights(queries)
