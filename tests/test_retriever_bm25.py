"""The built-in ``bm25`` retriever: scores equal the BM25 formula; real SciFact retrieval."""

from __future__ import annotations

import math
from collections import Counter

import pytest

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError

CORPUS = Corpus.from_dict(
    {
        "d1": {"title": "Cats", "text": "cats purr and cats sleep all day"},
        "d2": {"title": "Dogs", "text": "dogs bark at cats in the garden"},
        "d3": {"title": "", "text": "birds sing in the morning garden"},
        "d4": {"title": "Fish", "text": "fish swim"},
    }
)
QUERIES = Queries.from_dict({"q1": "sleeping cats", "q2": "garden birds", "q3": "zebra"})


def lucene_bm25(corpus_tokens, query_tokens, k1, b):
    """Lucene's BM25 written out (Kamphuis et al. 2020, "Lucene (default)"): Lucene's IDF
    and tf / (tf + k1 (1 - b + b |d| / avgdl)), without the constant (k1 + 1) factor."""
    n = len(corpus_tokens)
    avgdl = sum(len(t) for t in corpus_tokens) / n
    df = Counter(term for tokens in corpus_tokens for term in set(tokens))
    scores = []
    for tokens in corpus_tokens:
        tf = Counter(tokens)
        score = 0.0
        for term in set(query_tokens):
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                norm = tf[term] + k1 * (1 - b + b * len(tokens) / avgdl)
                score += idf * tf[term] / norm
        scores.append(score)
    return scores


@pytest.mark.parametrize(("k1", "b"), [(0.9, 0.4), (1.5, 0.75)])
def test_scores_equal_the_formula(k1, b):
    host = rankarena.plugin_manager()
    bm25 = host.retrievers.create("bm25", k1=k1, b=b).index(CORPUS)
    run = bm25.search(QUERIES, k=10).to_dict()
    corpus_tokens = bm25._tokenize(CORPUS.texts(), return_ids=False)
    for qid, text in QUERIES.to_dict().items():
        query_tokens = bm25._tokenize([text], return_ids=False)[0]
        expected = lucene_bm25(corpus_tokens, query_tokens, k1, b)
        want = {d: s for d, s in zip(CORPUS.ids, expected, strict=True) if s > 0}
        got = run.get(qid, {})
        assert set(got) == set(want), qid
        for doc, score in want.items():
            assert got[doc] == pytest.approx(score, rel=1e-5), (qid, doc)
    assert "q3" not in run  # no query term in the corpus: nothing retrieved
    assert list(run["q1"]) == ["d1", "d2"]  # "sleep"/"cats" stems match d1 twice


def test_parameters_are_checked():
    host = rankarena.plugin_manager()
    with pytest.raises(ParameterError, match=r"unknown method 'bm25x'.*valid: lucene"):
        host.retrievers.create("bm25", method="bm25x")
    with pytest.raises(ParameterError, match=r"unknown stemmer 'englsh' \(did you mean 'english'"):
        host.retrievers.create("bm25", stemmer="englsh")
    with pytest.raises(ParameterError, match="'k1' must be float"):
        host.retrievers.create("bm25", k1="high")
    with pytest.raises(RankarenaError, match="call index"):
        host.retrievers.create("bm25").search(QUERIES, k=5)


@pytest.mark.parametrize("method", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_every_variant_retrieves(method):
    run = rankarena.plugin_manager().retrievers.create("bm25", method=method).index(CORPUS)
    assert list(run.search(QUERIES, k=1).to_dict()["q2"]) == ["d3"]


def test_scifact_bm25(scifact):
    bm25 = rankarena.plugin_manager().retrievers.create("bm25").index(scifact.corpus)
    run = bm25.search(scifact.queries("test"), k=1000)
    result = rankarena.evaluate(run, scifact.qrels("test"), ["ndcg@10", "recall@100"])
    # BEIR (Thakur et al. 2021) reports BM25 nDCG@10 = 0.665 on SciFact; the defaults
    # (Porter stemming, Lucene stopwords, k1 0.9, b 0.4 as Anserini) measured 0.6713
    assert abs(result.mean["ndcg@10"] - 0.665) <= 0.01
    assert result.mean["ndcg@10"] == pytest.approx(0.6713, abs=5e-4)
    assert result.mean["recall@100"] == pytest.approx(0.9187, abs=5e-4)


def test_index_and_search_that_will_not_fit_are_refused_in_one_line(monkeypatch):
    host = rankarena.plugin_manager()
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "50M")  # below the index's fixed 100 MiB
    with pytest.raises(rankarena.RankarenaError) as caught:
        host.retrievers.create("bm25").index(CORPUS)
    assert str(caught.value).startswith(
        f"retriever 'bm25' needs 100.0 MiB to index {len(CORPUS)} documents (tokens and the "
        "sparse index); limit: 50.0 MiB (RANKARENA_MAX_MEMORY=50M); index a smaller corpus"
    )
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "1G")
    bm25 = host.retrievers.create("bm25").index(CORPUS)
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "100")  # 3 x 4 results x 340 + 4 x 8 = 4,112
    with pytest.raises(rankarena.RankarenaError, match=r"needs 4.0 KiB to search 3 queries at k=4"):
        bm25.search(QUERIES, k=1000)
