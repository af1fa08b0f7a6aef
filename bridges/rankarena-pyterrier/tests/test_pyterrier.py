"""Offline tests of rankarena-pyterrier on a tiny in-memory corpus (no Java, no downloads)."""

from __future__ import annotations

import sys

import pandas as pd
import pyterrier as pt
import pytest
from rankarena_pyterrier import PyTerrierRetriever, as_transformer

import rankarena
from rankarena import Corpus, ParameterError, Qrels, Queries, RankarenaError, Run

DOCS = {
    "d1": {"title": "Cats", "text": "cats purr and sleep all day"},
    "d2": {"title": "Dogs", "text": "dogs bark at the postman"},
    "d3": {"title": "", "text": "cats and dogs are pets"},
    "d4": {"title": "Fish", "text": "fish swim in water"},
}
QUERIES = {"q1": "sleeping cats", "q2": "barking dogs", "q3": "fish water"}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d4": 2}}


@pytest.fixture
def corpus() -> Corpus:
    return Corpus.from_dict(DOCS)


@pytest.fixture
def topics() -> pd.DataFrame:
    return pd.DataFrame({"qid": list(QUERIES), "query": list(QUERIES.values())})


def bm25():
    return rankarena.plugin_manager().retrievers.create("bm25")


def test_retriever_frame_and_experiment(corpus, topics):
    retriever = as_transformer("bm25", corpus, k=3)
    assert isinstance(retriever, pt.Transformer)
    out = retriever.transform(topics)
    assert list(out.columns) == ["qid", "query", "docno", "score", "rank"]
    assert out.groupby("qid")["rank"].apply(list).to_dict()["q1"][0] == 0
    assert out[out.qid == "q3"].docno.iloc[0] == "d4"
    # the same run as rankarena's, and the same nDCG@10 through pt.Experiment
    run = bm25().index(corpus).search(Queries.from_dict(QUERIES), 3)
    assert out.qid.tolist() == run.table.column("query_id").to_pylist()
    assert out.docno.tolist() == run.table.column("doc_id").to_pylist()
    qrels = pd.DataFrame(
        [(q, d, r) for q, docs in QRELS.items() for d, r in docs.items()],
        columns=["qid", "docno", "label"],
    )
    table = pt.Experiment([retriever], topics, qrels, eval_metrics=["ndcg_cut_10"])
    own = rankarena.evaluate(run, Qrels.from_dict(QRELS), ["ndcg@10"]).mean["ndcg@10"]
    assert table["ndcg_cut_10"].iloc[0] == pytest.approx(own, abs=1e-9)


def test_operators_and_reranker(corpus, topics):
    class Reverse:  # a rankarena reranker: the candidates in reverse order
        def rerank(self, queries, corpus, run, k):
            top = run.top(k).table
            return Run.from_arrays(
                top.column("query_id"), top.column("doc_id"), top.column("rank").to_numpy()
            )

    pipeline = as_transformer(bm25(), corpus) % 2 >> as_transformer(Reverse(), corpus)
    out = pipeline.transform(topics)
    first = (as_transformer(bm25(), corpus) % 2).transform(topics)
    for qid, group in out.groupby("qid"):
        assert group.docno.tolist() == first[first.qid == qid].docno.tolist()[::-1]
        assert group["rank"].tolist() == list(range(len(group)))
    assert "query" in out.columns
    with pytest.raises(ParameterError, match="a reranker needs the corpus"):
        as_transformer(Reverse())
    with pytest.raises(ParameterError, match="no registered retriever or reranker"):
        as_transformer("no-such", corpus)
    with pytest.raises(RankarenaError, match="lacks column"):
        as_transformer(bm25(), corpus).transform(pd.DataFrame({"qid": ["q1"]}))


def test_pyterrier_retriever(corpus, tmp_path, monkeypatch):
    (tmp_path / "tiny_pipes.py").write_text(
        "from rankarena_pyterrier import as_transformer\n"
        "def top2(corpus):\n"
        "    return as_transformer('bm25', corpus) % 2\n"
        "def not_a_transformer(corpus):\n"
        "    return 42\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    queries = Queries.from_dict(QUERIES)
    retriever = PyTerrierRetriever(pipeline="tiny_pipes:top2")
    run = retriever.index(corpus).search(queries, 1000)
    assert run.to_dict() == bm25().index(corpus).search(queries, 2).to_dict()
    assert run.top(1).table.num_rows == 3
    assert PyTerrierRetriever.run_key_content({"pipeline": "tiny_pipes:top2"})
    with pytest.raises(RankarenaError, match=r"returned a int, not a pt\.Transformer"):
        PyTerrierRetriever("tiny_pipes:not_a_transformer").index(corpus)
    sys.modules.pop("tiny_pipes", None)


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("no_colon", "bad pipeline 'no_colon'"),
        ("a b:c", "bad pipeline 'a b:c'"),
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("rankarena:no_such_attribute", "'rankarena' has no attribute 'no_such_attribute'"),
        ("rankarena:__version__", "is a str"),
    ],
)
def test_bad_pipeline(pipeline, message):
    with pytest.raises(ParameterError) as error:
        PyTerrierRetriever(pipeline)
    text = str(error.value)
    assert message in text and "\n" not in text
    assert "pipeline must be 'module:attribute'" in text


def test_pyterrier_retriever_passes_the_conformance_kit(tmp_path, monkeypatch):
    """rankarena's conformance kit on the ``pyterrier`` retriever: a pipeline of two
    rankarena retrievers fused by PyTerrier's ``+`` and cut by ``%``."""
    from rankarena.testing import check_retriever

    (tmp_path / "kit_pipes.py").write_text(
        "from rankarena_pyterrier import as_transformer\n"
        "def fused(corpus):\n"
        "    return (as_transformer('bm25', corpus) + as_transformer('bm25', corpus)) % 10\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "index-search-split" in check_retriever("pyterrier", {"pipeline": "kit_pipes:fused"})
    sys.modules.pop("kit_pipes", None)
