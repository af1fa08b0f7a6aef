"""The ``star`` (STAR: static hard + random negatives) and ``disagreement`` (vstash) samplers,
on a SciFact subset: 12 train queries (4 with several positives), their judged documents,
the BM25 top 10 of each in the full corpus and 60 random others."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import Corpus, ParameterError
from rankarena.retrieval.fusion import fuse
from rankarena.training.mining import MiningContext

DENSE = {"max_length": 64}  # title and opening of each abstract: keeps the test fast
PARAMS = {"dense": DENSE}
PARAMS_BY_NAME = [("bm25", {}), ("dense", DENSE)]


@pytest.fixture(scope="module")
def host():
    return rankarena.plugin_manager()


@pytest.fixture(scope="module")
def data(scifact, host):
    qrels = scifact.qrels("train")
    judged = qrels.to_dict()
    multi = sorted(q for q, docs in judged.items() if len(docs) >= 2)
    single = sorted(q for q, docs in judged.items() if len(docs) == 1)
    chosen = multi[5:9] + single[10:18]
    queries = scifact.queries("train").select(chosen)
    full = host.retrievers.create("bm25", show_progress=False).index(scifact.corpus)
    keep = set(full.search(queries, 10).table.column("doc_id").to_pylist())
    keep |= {d for q in chosen for d in judged[q]}
    ids = scifact.corpus.ids
    keep |= {ids[i] for i in np.random.default_rng(1).choice(len(ids), 60, replace=False)}
    table = scifact.corpus.table
    corpus = Corpus(table.filter(pc.is_in(table.column("_id"), pa.array(sorted(keep)))))
    return corpus, queries, qrels


def make_context(data, seed: int = 0, holdout: float = 0.0) -> MiningContext:
    corpus, queries, qrels = data
    return MiningContext(corpus, queries, qrels, seed=seed, holdout=holdout, device="cpu")


@pytest.fixture(scope="module")
def context(data):
    context = make_context(data)
    context.candidates("bm25", {}, 120)  # every shallower run is cut from these
    return context


def rows_by_query(examples) -> dict[str, dict]:
    return {r["query_id"]: r for r in examples.table.to_pylist()}


def assert_no_shown_positive(context: MiningContext, examples) -> None:
    examples.check_against({q: set(p) for q, p in context.positives.items()})
    for row in examples.table.to_pylist():
        assert not set(row["negative_ids"]) & set(context.positives[row["query_id"]])
        assert len(set(row["negative_ids"])) == len(row["negative_ids"])


# ---------------------------------------------------------------- star


@settings(max_examples=25, deadline=None)
@given(hard_fraction=st.floats(0.0, 1.0), n=st.integers(1, 8))
def test_star_is_hard_then_random_in_the_stated_split(host, context, hard_fraction, n):
    examples = host.samplers.create("star", retriever="bm25", hard_fraction=hard_fraction).sample(
        context, n
    )
    assert_no_shown_positive(context, examples)
    n_hard = math.floor(hard_fraction * n + 0.5)
    hard = {}
    if n_hard:
        hard = rows_by_query(
            host.samplers.create("retriever-topk", retriever="bm25").sample(context, n_hard)
        )
    for query, row in rows_by_query(examples).items():
        assert len(row["negative_ids"]) == n
        expected = hard[query]["negative_ids"] if n_hard else []
        assert row["negative_ids"][:n_hard] == expected  # the static hard negatives first
        assert row["negative_scores"][:n_hard] == (hard[query]["negative_scores"] if n_hard else [])
        assert all(math.isnan(s) for s in row["negative_scores"][n_hard:])  # then random


def test_star_random_part_is_seeded_and_the_hard_part_static(host, data, context):
    def mine(context: MiningContext):
        sampler = host.samplers.create("star", retriever="bm25", hard_fraction=0.5)
        return {q: r["negative_ids"] for q, r in rows_by_query(sampler.sample(context, 6)).items()}

    first = mine(context)
    assert mine(make_context(data, seed=0)) == first  # same seed: same negatives
    other = mine(make_context(data, seed=1))
    assert all(other[q][:3] == first[q][:3] for q in first)  # hard: the same
    assert any(other[q][3:] != first[q][3:] for q in first)  # random: drawn anew
    # the random part is spread over the corpus, not the retriever's top
    top = rows_by_query(
        host.samplers.create("retriever-topk", retriever="bm25", range_max=30).sample(context, 30)
    )
    random_part = [(q, d) for q in first for d in first[q][3:]]
    in_top = sum(d in top[q]["negative_ids"] for q, d in random_part)
    assert in_top < len(random_part) / 2


def test_star_extremes(host, context):
    only_hard = host.samplers.create("star", retriever="bm25", hard_fraction=1.0)
    plain = host.samplers.create("retriever-topk", retriever="bm25")
    assert only_hard.sample(context, 4) == plain.sample(context, 4)
    only_random = host.samplers.create("star", retriever="bm25", hard_fraction=0.0)
    examples = only_random.sample(context, 4)
    assert_no_shown_positive(context, examples)
    assert all(
        math.isnan(s)
        for scores in examples.table.column("negative_scores").to_pylist()
        for s in scores
    )


# ---------------------------------------------------------------- disagreement


def fused_tops(context: MiningContext, runs, weights, depth):
    """Per query, the top ``depth`` documents (positives removed) of the two fusions."""
    tops = []
    for w in (weights, weights[::-1]):
        fused = fuse(runs, "rrf", k=60.0, weights=w).to_dict()
        top = {}
        for query in context.queries.ids:
            ranked = sorted(fused.get(query, {}).items(), key=lambda item: (-item[1], item[0]))
            top[query] = [d for d, _ in ranked if d not in context.positives[query]][:depth]
        tops.append(top)
    return tops


@pytest.fixture(scope="module")
def runs(context):
    most = max(len(p) for p in context.positives.values())
    return [
        context.candidates("bm25", {}, 100 + most),
        context.candidates("dense", DENSE, 100 + most),
    ]


@settings(max_examples=30, deadline=None)
@given(
    depth=st.integers(1, 12),
    side=st.sampled_from(["both", "first", "second"]),
    draw=st.data(),
)
def test_disagreement_negatives_are_in_one_top_k_and_not_the_other(
    host, context, runs, depth, side, draw
):
    most = 2 * depth if side == "both" else depth
    n = draw.draw(st.integers(1, most))
    sampler = host.samplers.create("disagreement", params=PARAMS, depth=depth, side=side)
    examples = sampler.sample(context, n)
    assert_no_shown_positive(context, examples)
    top_a, top_b = fused_tops(context, runs, [0.95, 0.05], depth)
    for query, row in rows_by_query(examples).items():
        a, b = top_a[query], top_b[query]
        only_a = [d for d in a if d not in b]
        only_b = [d for d in b if d not in a]
        wanted = {"both": only_a + only_b, "first": only_a, "second": only_b}[side]
        negatives = row["negative_ids"]
        assert len(negatives) == min(n, len(wanted))
        for doc in negatives:
            assert (doc in a) != (doc in b)  # in exactly one of the two top-k windows
            assert doc in wanted
        # order: by rank in the fusion holding it, the bm25-heavy side first at a tie
        keys = [(a.index(d), 0) if d in only_a else (b.index(d), 1) for d in negatives]
        assert keys == sorted(keys)
        everything = sorted((a.index(d), 0) if d in only_a else (b.index(d), 1) for d in wanted)
        assert keys == everything[: len(keys)]  # the best-ranked of each side are taken


def test_disagreement_with_pure_weights_compares_the_retrievers_themselves(host, context, runs):
    """With weights (1, 0) the fusions are the retrievers' own rankings: the negatives are
    the documents of one retriever's top k that the other's top k misses."""
    sampler = host.samplers.create(
        "disagreement", params=PARAMS, weights=[1.0, 0.0], depth=10, side="first"
    )
    examples = rows_by_query(sampler.sample(context, 10))
    bm25, dense = (run.to_dict() for run in runs)
    checked = 0
    for query, row in examples.items():
        shown = set(context.positives[query])

        def top(run, query=query, shown=shown):
            ranked = sorted(run[query].items(), key=lambda item: (-item[1], item[0]))
            return [d for d, _ in ranked if d not in shown][:10]

        lexical, semantic = top(bm25), top(dense)
        assert row["negative_ids"] == [d for d in lexical if d not in semantic]
        checked += len(row["negative_ids"])
    assert checked > 0


def test_disagreement_finds_disagreement_and_is_deterministic(host, data, context):
    sampler = host.samplers.create("disagreement", params=PARAMS)
    examples = sampler.sample(context, 8)
    counts = [len(r["negative_ids"]) for r in examples.table.to_pylist()]
    assert sum(c > 0 for c in counts) >= len(counts) // 2  # as vstash: most queries disagree
    again = host.samplers.create("disagreement", params=PARAMS).sample(make_context(data), 8)
    assert again == examples


def test_disagreement_params_as_a_list_for_two_variants_of_one_retriever(host, context):
    variants = [{}, {"stemmer": None, "stopwords": None, "k1": 1.5, "b": 0.9}]
    sampler = host.samplers.create("disagreement", retrievers=["bm25", "bm25"], params=variants)
    examples = sampler.sample(context, 6)
    assert_no_shown_positive(context, examples)
    assert sum(len(r["negative_ids"]) for r in examples.table.to_pylist()) > 0


def test_parameter_errors_are_one_line(host, context):
    bad = [
        ("star", {"hard_fraction": 1.5}),
        ("star", {"hard_fraction": "half"}),
        ("star", {"sampling": "bottom"}),
        ("star", {"range_min": 3, "range_max": 2}),
        ("disagreement", {"retrievers": ["bm25"]}),
        ("disagreement", {"retrievers": ["bm25", "dense", "hybrid"]}),
        ("disagreement", {"weights": [0.5, 0.5]}),
        ("disagreement", {"weights": [0.9, -0.1]}),
        ("disagreement", {"weights": [1.0]}),
        ("disagreement", {"depth": 0}),
        ("disagreement", {"depth": 20, "pool": 10}),
        ("disagreement", {"side": "left"}),
        ("disagreement", {"rrf_k": 0}),
        ("disagreement", {"params": {"splade": {}}}),
        ("disagreement", {"params": [{}]}),
        ("disagreement", {"weight": [0.9, 0.1]}),
    ]
    for name, params in bad:
        with pytest.raises(ParameterError) as error:
            host.samplers.create(name, **params)
        assert "\n" not in str(error.value), (name, params)
    with pytest.raises(ParameterError) as error:
        host.samplers.create("disagreement", depth=3).sample(context, 7)
    assert "\n" not in str(error.value) and "at most 6" in str(error.value)
    with pytest.raises(ParameterError) as error:
        host.samplers.create("star", retriever="bm25", range_max=2).sample(context, 8)
    assert "\n" not in str(error.value) and "'star'" in str(error.value)
