"""Built-in samplers on real SciFact data: parity with sentence-transformers' miner, the
positive-aware filters, determinism, and that no positive is ever mined as a negative."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import Corpus, ParameterError, Queries
from rankarena.data.training_examples import TrainingExamples
from rankarena.errors import DataFormatError
from rankarena.retrieval.models import resolve_model
from rankarena.training.mining import MiningContext

HOST = rankarena.plugin_manager()


@pytest.fixture(scope="module")
def subset(scifact):
    """120 train queries, their judged documents and 400 others: a small real collection."""
    qrels = scifact.qrels("train")
    queries = Queries(scifact.queries("train").table.slice(0, 120))
    wanted = set(queries.ids)
    judged = {r["doc_id"] for r in qrels.table.to_pylist() if r["query_id"] in wanted}
    ids = scifact.corpus.ids
    rows = [i for i, d in enumerate(ids) if d in judged]
    rows += [i for i, d in enumerate(ids) if d not in judged][:400]
    corpus = Corpus(scifact.corpus.table.take(pa.array(sorted(rows))))
    return corpus, queries, qrels


@pytest.fixture(scope="module")
def dense(tmp_path_factory) -> dict:
    """Dense retriever parameters with one embedding cache for the module: the subset is
    encoded once (MiniLM, ~14 documents/s here), then reused."""
    return {"cache_dir": str(tmp_path_factory.mktemp("embeddings"))}


@pytest.fixture(scope="module")
def context(subset):
    corpus, queries, qrels = subset
    return MiningContext(corpus, queries, qrels, holdout=1.0, seed=3)


def negatives_by_query(examples: TrainingExamples) -> dict[str, list[str]]:
    return {r["query_id"]: r["negative_ids"] for r in examples.table.to_pylist()}


def test_positive_aware_selects_what_sentence_transformers_selects(subset, dense, tmp_path):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    corpus, queries, qrels = subset
    context = MiningContext(corpus, queries, qrels)
    texts = dict(zip(corpus.ids, corpus.texts(), strict=True))
    query_texts = dict(zip(queries.ids, queries.table.column("text").to_pylist(), strict=True))
    pairs = [(q, d) for q in context.queries.ids for d in context.positives[q]]
    dataset = Dataset.from_dict(
        {"query": [query_texts[q] for q, _ in pairs], "positive": [texts[d] for _, d in pairs]}
    )
    model = SentenceTransformer(resolve_model("minilm").location, device="cpu")
    for settings_ in [
        {"range_min": 0, "range_max": 20, "relative_margin": 0.05},
        {"range_min": 2, "range_max": 30, "relative_margin": 0.1},
    ]:
        theirs = mine_hard_negatives(
            dataset, model, corpus=corpus.texts(), num_negatives=4, sampling_strategy="top",
            output_format="n-tuple", output_scores=True, batch_size=32, verbose=False,
            cache_folder=str(tmp_path / "st"), **settings_,
        )  # fmt: skip
        # both sides encode once and reuse the embeddings for the second settings
        sampler = HOST.samplers.create(
            "positive-aware", retriever="dense", params=dense, **settings_
        )
        mined = sampler.sample(context, 4)
        ours = negatives_by_query(mined)
        our_scores = {r["query_id"]: r["negative_scores"] for r in mined.table.to_pylist()}
        expected = {}
        for row in theirs:
            negatives = [row[f"negative_{k}"] for k in range(1, 5)]
            expected.setdefault(row["query"], (negatives, row["scores"][1:]))
        # sentence-transformers merges queries with the same text (and their positives);
        # compare the others. Equal scores may come in either order: compare as sets.
        counts: dict[str, int] = {}
        for query in context.queries.ids:
            counts[query_texts[query]] = counts.get(query_texts[query], 0) + 1
        # Equal scores may be cut in a different order: the scores must agree everywhere,
        # the documents wherever no tie sits at a cut.
        compared = same = 0
        for query, negatives in ours.items():
            text = query_texts[query]
            if text in expected and counts[text] == 1 and len(negatives) == 4:
                documents, scores = expected[text]
                np.testing.assert_allclose(our_scores[query], scores, atol=1e-5)
                compared += 1
                same += {texts[d] for d in negatives} == set(documents)
        assert compared >= 0.8 * len(expected) and compared > 50
        assert same >= compared - 2


def test_positive_aware_mines_fewer_held_out_positives(context, dense):
    from rankarena.training.negative_stats import heldout_counts

    assert sum(len(v) for v in context.heldout.values()) >= 10
    plain = HOST.samplers.create("retriever-topk", retriever="dense", params=dense, range_max=40)
    aware = HOST.samplers.create("positive-aware", retriever="dense", params=dense, range_max=40)
    _, plain_mined = heldout_counts(plain.sample(context, 8), context)
    _, aware_mined = heldout_counts(aware.sample(context, 8), context)
    assert aware_mined < plain_mined


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("random", {}),
        ("in-batch", {}),
        ("retriever-topk", {"retriever": "bm25"}),
        ("retriever-topk", {"retriever": "bm25", "sampling": "random-in-window", "range_max": 30}),
        ("positive-aware", {"retriever": "bm25", "absolute_margin": 1.0}),
        ("positive-aware", {"retriever": "bm25", "adaptive": 0.5}),
    ],
)
def test_deterministic_and_never_a_positive(context, name, params):
    first = HOST.samplers.create(name, **params).sample(context, 5)
    again = HOST.samplers.create(name, **params).sample(context, 5)
    assert negatives_by_query(first) == negatives_by_query(again)  # (random's scores are NaN)
    first.check_against(context.positives)
    for row in first.table.to_pylist():
        assert len(row["negative_ids"]) <= 5 and len(set(row["negative_ids"])) == len(
            row["negative_ids"]
        )
        assert row["in_batch"] == (name == "in-batch")


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 12), start=st.integers(0, 5))
def test_window_sampling_never_returns_a_positive(context, seed, k, start):
    mined = MiningContext(context.corpus, context.queries, context.qrels, seed=seed)
    sampler = HOST.samplers.create(
        "retriever-topk", retriever="bm25", range_min=start, range_max=start + 3 * k,
        sampling="random-in-window",
    )  # fmt: skip
    examples = sampler.sample(mined, k)
    examples.check_against(mined.all_positives)  # holdout 0: every label is shown


def test_margins_follow_the_positive_score(context, dense):
    aware = HOST.samplers.create(
        "positive-aware", retriever="dense", params=dense, relative_margin=0.1
    )
    examples = aware.sample(context, 6)
    for row in examples.table.to_pylist():
        if row["negative_scores"]:
            assert max(row["negative_scores"]) <= 0.9 * row["positive_score"] + 1e-9 or (
                row["positive_score"] < 0
            )


def test_training_examples_reject_a_positive_among_negatives():
    with pytest.raises(DataFormatError, match="has its positive 'd1' among its negatives"):
        TrainingExamples.from_rows(
            [{"query_id": "q", "positive_id": "d1", "negative_ids": ["d1"], "negative_scores": [1]}]
        )


def test_bad_sampler_parameters_are_one_line():
    with pytest.raises(ParameterError, match="sampling must be one of top, random-in-window"):
        HOST.samplers.create("retriever-topk", sampling="best")
    with pytest.raises(ParameterError, match="need 0 <= range_min < range_max"):
        HOST.samplers.create("retriever-topk", range_min=5, range_max=3)
    with pytest.raises(
        ParameterError, match="'positive-aware': relative_margin must be a finite number >= 0"
    ):
        HOST.samplers.create("positive-aware", relative_margin=-1.0)


def test_ntuples_match_sentence_transformers_format(context):
    examples = HOST.samplers.create("retriever-topk", retriever="bm25").sample(context, 3)
    rows = examples.to_ntuples(context.corpus, context.queries)
    assert rows and set(rows[0]) == {"anchor", "positive", "negative_1", "negative_2", "negative_3"}
    assert np.all([isinstance(v, str) for v in rows[0].values()])
