"""Rank fusion equals ranx's fuse; the hybrid retriever fuses real retrievers."""

from __future__ import annotations

import numpy as np
import pytest
import ranx

import rankarena
from rankarena import Run
from rankarena.errors import ParameterError
from rankarena.retrieval.fusion import fuse


def random_runs(seed: int, n_runs: int = 3) -> list[Run]:
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_runs):
        q, d, s = [], [], []
        for query in range(5):
            docs = rng.choice(40, size=int(rng.integers(5, 25)), replace=False)
            q += [f"q{query}"] * len(docs)
            d += [f"d{x}" for x in docs]
            s += rng.normal(size=len(docs)).tolist()  # continuous: no ties
        runs.append(Run.from_arrays(q, d, s))
    return runs


@pytest.mark.parametrize(
    ("ours", "theirs", "norm", "params"),
    [
        ({"method": "rrf", "k": 60}, "rrf", None, {"k": 60}),
        ({"method": "rrf", "k": 10}, "rrf", None, {"k": 10}),
        ({"method": "combsum", "norm": "min-max"}, "sum", "min-max", {}),
        ({"method": "combmnz", "norm": "min-max"}, "mnz", "min-max", {}),
        ({"method": "combsum", "norm": "z-score"}, "sum", "zmuv", {}),
        ({"method": "combsum", "norm": "none"}, "sum", None, {}),
    ],
)
def test_fusion_equals_ranx(ours, theirs, norm, params):
    runs = random_runs(3)
    fused = fuse(runs, **ours).to_dict()
    expected = ranx.fuse(
        [ranx.Run(r.to_dict()) for r in runs], norm=norm, method=theirs, params=params
    ).to_dict()
    assert set(fused) == set(expected)
    for qid, docs in expected.items():
        assert set(fused[qid]) == set(docs)
        for doc, score in docs.items():
            assert fused[qid][doc] == pytest.approx(score, abs=1e-9), (qid, doc)


def test_weights_and_depth():
    runs = random_runs(4, n_runs=2)
    weighted = fuse(runs, "rrf", weights=[2.0, 0.0]).to_dict()
    alone = fuse(runs[:1], "rrf").to_dict()
    for qid, docs in alone.items():
        for doc, score in docs.items():
            assert weighted[qid][doc] == pytest.approx(2 * score)
    shallow = fuse(runs, "rrf", depth=3)
    assert shallow.table.column("rank").to_numpy().max() <= 6


def test_bad_fusion_parameters():
    runs = random_runs(5, n_runs=2)
    with pytest.raises(ParameterError, match=r"unknown fusion method 'rff' \(did you mean 'rrf'"):
        fuse(runs, "rff")
    with pytest.raises(ParameterError, match="unknown normalization 'minmax'"):
        fuse(runs, "combsum", norm="minmax")
    with pytest.raises(ParameterError, match="1 weights given for 2 runs"):
        fuse(runs, weights=[1.0])


def test_hybrid_bm25_and_dense_equals_fusing_their_runs(scifact):
    host = rankarena.plugin_manager()
    corpus = rankarena.Corpus(scifact.corpus.table.slice(0, 300))
    queries = rankarena.Queries(scifact.queries("test").table.slice(0, 20))
    hybrid = host.retrievers.create(
        "hybrid",
        fusion="combmnz",
        weights=[1.0, 2.0],
        depth=50,
        params={"bm25": {"k1": 1.2}, "dense": {"device": "cpu"}},
    )
    assert [type(m).__name__ for m in hybrid.members] == ["BM25Retriever", "DenseRetriever"]
    run = hybrid.index(corpus).search(queries, k=10)
    bm25, dense = (m.search(queries, k=50) for m in hybrid.members)
    assert run == fuse([bm25, dense], "combmnz", weights=[1.0, 2.0]).top(10)
    with pytest.raises(ParameterError, match="params for retrievers not fused: dense"):
        host.retrievers.create("hybrid", retrievers=["bm25"], params={"dense": {}})


def test_per_query_weights_multiply_each_querys_share():
    runs = random_runs(6, n_runs=2)
    first = {"q0": 0.25, "q3": 3.0}  # queries missing from the mapping weigh 1
    fused = fuse(runs, "rrf", weights=[first, 0.5]).to_dict()
    parts = [fuse(runs[:1], "rrf").to_dict(), fuse(runs[1:], "rrf").to_dict()]
    for qid, docs in fused.items():
        for doc, score in docs.items():
            expected = first.get(qid, 1.0) * parts[0][qid].get(doc, 0.0)
            expected += 0.5 * parts[1][qid].get(doc, 0.0)
            assert score == pytest.approx(expected)


def test_adaptive_lexical_weight_follows_the_formula():
    import math

    from rankarena.retrieval.adaptive_fusion import TermStatistics

    texts = ["apple banana", "apple cherry", "apple durian", "apple banana cherry"]
    stats = TermStatistics(texts, stemmer=None)
    assert stats.idf("apple") == pytest.approx(math.log(4 / 5))
    assert stats.idf("durian") == pytest.approx(math.log(4 / 2))
    assert stats.idf("unseen") == pytest.approx(math.log(4))
    mean_idf = (math.log(4 / 2) + math.log(4 / 3)) / 2  # "durian banana"
    sigma = 1 / (1 + math.exp(-2 * (mean_idf - math.log(4) / 2)))
    assert stats.lexical_weight("durian banana") == pytest.approx(0.1 + 0.5 * sigma)
    assert stats.lexical_weight("x") == 0.4  # no term of two or more characters
    assert stats.lexical_weight(" ".join(["banana"] * 51)) == 0.1  # long query
    # rarer terms, more weight on the keyword run
    assert stats.lexical_weight("durian") > stats.lexical_weight("apple")


def test_hybrid_adaptive_rrf_weights_each_query(scifact):
    from rankarena.retrieval.adaptive_fusion import adaptive_weights

    host = rankarena.plugin_manager()
    corpus = rankarena.Corpus(scifact.corpus.table.slice(0, 200))
    queries = rankarena.Queries(scifact.queries("test").table.slice(0, 10))
    hybrid = host.retrievers.create(
        "hybrid", fusion="adaptive-rrf", depth=40, params={"dense": {"device": "cpu"}}
    )
    run = hybrid.index(corpus).search(queries, k=10)
    bm25, dense = (m.search(queries, k=40) for m in hybrid.members)
    lexical, semantic = adaptive_weights(corpus, queries)
    assert all(0.1 <= w <= 0.6 for w in lexical.values())
    assert run == fuse([bm25, dense], "rrf", weights=[lexical, semantic]).top(10)
    with pytest.raises(ParameterError, match="adaptive-rrf fuses exactly two retrievers"):
        host.retrievers.create("hybrid", retrievers=["bm25"], fusion="adaptive-rrf")
    with pytest.raises(ParameterError, match="lexical 'bm42' is not fused"):
        host.retrievers.create("hybrid", fusion="adaptive-rrf", lexical="bm42")


# the resolved parameters every hybrid system hashed before ``rrf_k`` was renamed ``k``
HYBRID_DEFAULTS = {
    "retrievers": None,
    "fusion": "rrf",
    "rrf_k": 60.0,
    "norm": "min-max",
    "weights": None,
    "depth": 1000,
    "params": None,
    "lexical": None,
    "stemmer": "porter",
}


def test_hybrid_k_is_rrf_k_renamed_and_existing_run_keys_stay(tmp_path):
    """``k`` (the name ``fuse`` and a run config's ``fusion_params`` use) and its former name
    ``rrf_k`` set the same constant; a config that gives neither or ``rrf_k`` keeps the
    cache key it had, and a given ``k`` makes a key of its own."""
    from rankarena.runs.config import RunConfig, resolve_defaults, system_key

    host = rankarena.plugin_manager()
    assert host.retrievers.create("hybrid", retrievers=["bm25"], k=30).k == 30.0
    assert host.retrievers.create("hybrid", retrievers=["bm25"], rrf_k=30).k == 30.0
    assert host.retrievers.create("hybrid", retrievers=["bm25"]).k == 60.0
    with pytest.raises(ParameterError, match="give k or rrf_k"):
        host.retrievers.create("hybrid", retrievers=["bm25"], k=30, rrf_k=10)
    with pytest.raises(ParameterError, match="retriever 'hybrid': k must be a finite number"):
        host.retrievers.create("hybrid", retrievers=["bm25"], k=-1.0)

    def config(params: dict) -> RunConfig:
        system = {"retriever": "hybrid", "params": params}
        return RunConfig("t", ["d"], "test", ["mrr"], 10, tmp_path, {"s": system})

    def key(params: dict) -> str:
        return system_key(resolve_defaults(config(params), host), "s", "d")

    for given in ({}, {"rrf_k": 30}, {"fusion": "combsum", "depth": 50}):
        before = config({**HYBRID_DEFAULTS, **given})  # as resolve_defaults filled it in
        assert key(given) == system_key(before, "s", "d")
    assert len({key({}), key({"k": 30}), key({"k": 10})}) == 3
