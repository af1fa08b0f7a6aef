"""The built-in ``cross-encoder`` reranker, on a tiny randomly initialised BERT (no
cross-encoder weights ship offline); its scores are checked pair by pair."""

from __future__ import annotations

import pytest
import torch
from offline_components import save_tiny_cross_encoder
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import rankarena
from rankarena import Corpus, Queries, RankarenaError


@pytest.fixture(scope="module", params=[1, 2], ids=["one-label", "two-labels"])
def tiny_model(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"tiny-ce-{request.param}")
    return save_tiny_cross_encoder(folder, num_labels=request.param)


@pytest.fixture(scope="module")
def small(scifact):
    corpus = Corpus(scifact.corpus.table.slice(0, 200))
    queries = Queries(scifact.queries("test").table.slice(0, 8))
    run = rankarena.plugin_manager().retrievers.create("bm25").index(corpus).search(queries, 50)
    return corpus, queries, run


def test_rerank_scores_each_pair_as_the_model_does(tiny_model, small):
    corpus, queries, run = small
    reranker = rankarena.plugin_manager().rerankers.create(
        "cross-encoder", model=str(tiny_model), device="cpu", batch_size=7, max_length=64
    )
    reranked = reranker.rerank(queries, corpus, run, k=10)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    texts = dict(zip(corpus.ids, corpus.texts(), strict=True))
    top = run.top(10).to_dict()
    got = reranked.to_dict()
    assert set(got) == set(top)
    for qid, docs in top.items():
        assert set(got[qid]) == set(docs)
        for doc in docs:
            inputs = tokenizer(
                queries.to_dict()[qid],
                texts[doc],
                truncation="only_second",
                max_length=64,
                return_tensors="pt",
            )
            with torch.inference_mode():
                logits = model(**inputs).logits[0]
            expected = logits[0] if len(logits) == 1 else torch.log_softmax(logits, -1)[-1]
            assert got[qid][doc] == pytest.approx(float(expected), abs=1e-4)
        ranked = list(got[qid].values())
        assert ranked == sorted(ranked, reverse=True)


def test_rerank_errors(tiny_model, small):
    corpus, queries, run = small
    reranker = rankarena.plugin_manager().rerankers.create(
        "cross-encoder", model=str(tiny_model), device="cpu"
    )
    with pytest.raises(RankarenaError, match="not in corpus"):
        reranker.rerank(queries, Corpus(corpus.table.slice(0, 5)), run, k=10)
    with pytest.raises(RankarenaError, match="cannot load"):
        rankarena.plugin_manager().rerankers.create(
            "cross-encoder", model=str(tiny_model.parent / "nothing-here"), device="cpu"
        )
