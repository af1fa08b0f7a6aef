"""The ``bi-encoder`` reranker and the ``denoised`` sampler (RocketQA), on a SciFact subset.

The subset: 20 train queries with several positives, their judged documents, the BM25
top 20 of each in the full corpus (the realistic hard candidates) and 150 random others.
With every extra positive held out (``holdout=1.0``), held-out positives mined as
negatives measure the false-negative rate that denoising is meant to cut.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offline_components import save_tiny_cross_encoder

import rankarena
from rankarena import Corpus, ParameterError, PluginHost, Queries, Run, UnknownNameError
from rankarena.plugins.rerankers.cross_encoder import CrossEncoderReranker
from rankarena.plugins.rerankers.dense_reranker import BiEncoderReranker
from rankarena.plugins.retrieval.dense import BiEncoder
from rankarena.plugins.samplers.denoised import Denoised
from rankarena.training.mining import MiningContext

RERANKER = {"max_length": 64}  # title and opening of each abstract: keeps the test fast
N = 3
POOL = 12  # range_max: candidates the reranker rescores per query


@pytest.fixture(scope="module")
def host():
    return rankarena.plugin_manager()


@pytest.fixture(scope="module")
def data(scifact, host):
    qrels = scifact.qrels("train")
    judged = qrels.to_dict()
    chosen = sorted(q for q, docs in judged.items() if len(docs) >= 2)[:20]
    queries = scifact.queries("train").select(chosen)
    full = host.retrievers.create("bm25", show_progress=False).index(scifact.corpus)
    keep = set(full.search(queries, 20).table.column("doc_id").to_pylist())
    keep |= {d for q in chosen for d in judged[q]}
    ids = scifact.corpus.ids
    keep |= {ids[i] for i in np.random.default_rng(0).choice(len(ids), 150, replace=False)}
    table = scifact.corpus.table
    corpus = Corpus(table.filter(pc.is_in(table.column("_id"), pa.array(sorted(keep)))))
    return corpus, queries, qrels


@pytest.fixture(scope="module")
def context(data):
    corpus, queries, qrels = data
    return MiningContext(corpus, queries, qrels, holdout=1.0, device="cpu")


def denoised(host, **params) -> Denoised:
    params.setdefault("range_max", POOL)
    params.setdefault("reranker_params", RERANKER)
    return host.samplers.create("denoised", **params)


def heldout_mined(context: MiningContext, examples) -> int:
    """Held-out positives mined as negatives, counted once per query."""
    per_query = {}
    for row in examples.table.to_pylist():
        per_query[row["query_id"]] = set(row["negative_ids"])
    return sum(len(docs & context.heldout.get(q, set())) for q, docs in per_query.items())


def negatives_by_query(examples) -> dict[str, list[str]]:
    return {r["query_id"]: r["negative_ids"] for r in examples.table.to_pylist()}


# ---------------------------------------------------------------- the bi-encoder reranker


def test_bi_encoder_reranker_has_the_cross_encoder_interface(host):
    def public(cls):
        return {n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")}

    assert public(BiEncoderReranker) == public(CrossEncoderReranker) == {"score", "rerank"}
    for method in ("score", "rerank"):
        ours = inspect.signature(getattr(BiEncoderReranker, method)).parameters
        theirs = inspect.signature(getattr(CrossEncoderReranker, method)).parameters
        assert [(p.name, p.default) for p in ours.values()] == [
            (p.name, p.default) for p in theirs.values()
        ]
    spec = host.rerankers.get("bi-encoder")
    assert {p.name: p.default for p in spec.parameters}["model"] == "minilm"


def test_bi_encoder_scores_are_cosine_and_rerank_reorders(host, data):
    corpus, queries, _ = data
    reranker = host.rerankers.create("bi-encoder", device="cpu", batch_size=5, **RERANKER)
    small = Queries(queries.table.slice(0, 2))
    docs = Corpus(corpus.table.slice(0, 6))
    run = host.retrievers.create("bm25", show_progress=False).index(docs).search(small, 6)
    reranked = reranker.rerank(small, docs, run, k=4)
    assert isinstance(reranker.encoder, BiEncoder)  # the dense retriever's encoder
    q = reranker.encoder.encode(small.table.column("text").to_pylist())
    d = reranker.encoder.encode(docs.texts())
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    row = {doc: i for i, doc in enumerate(docs.ids)}
    top = run.top(4).to_dict()
    for i, query in enumerate(small.ids):
        got = reranked.to_dict()[query]
        assert set(got) == set(top[query])
        for doc, score in got.items():
            assert score == pytest.approx(float(q[i] @ d[row[doc]]), abs=1e-5)
        ranked = reranked.table.filter(pc.equal(reranked.table.column("query_id"), query))
        assert list(ranked.column("score").to_numpy()) == sorted(got.values(), reverse=True)
    pairs = [(small.to_dict()[small.ids[0]], text) for text in docs.texts()[:2]]
    expected = [float(q[0] @ d[0]), float(q[0] @ d[1])]
    assert reranker.score(pairs) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ParameterError) as error:
        reranker.rerank(small, docs, run, k=0)
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------- the denoised sampler


def test_never_a_shown_positive_and_labels_in_unit_interval(host, context):
    examples = denoised(host).sample(context, N)
    examples.check_against({q: set(p) for q, p in context.positives.items()})
    rows = examples.table.to_pylist()
    assert {r["query_id"] for r in rows} == set(context.queries.ids)
    for row in rows:
        assert row["positive_id"] in context.positives[row["query_id"]]
        assert 1 <= len(row["negative_ids"]) <= N
        assert len(set(row["negative_ids"])) == len(row["negative_ids"])
        assert all(0.0 <= x <= 1.0 for x in row["negative_labels"])
        assert row["negative_scores"] == sorted(row["negative_scores"], reverse=True)


def test_the_reranker_changes_the_selection_by_the_stated_rule(host, context, data):
    """Each negative passes the rule, and every pool candidate before it that is not a
    negative was dropped by it: scored above (weakest positive − 0.05) by the reranker."""
    sampler = denoised(host, labels="cosine")  # label = (s + 1) / 2: the score is readable
    examples = sampler.sample(context, N)
    chosen = negatives_by_query(examples)
    labels = {r["query_id"]: r["negative_labels"] for r in examples.table.to_pylist()}
    pool = negatives_by_query(
        host.samplers.create("retriever-topk", retriever="bm25", range_max=POOL).sample(
            context, POOL
        )
    )
    baseline = negatives_by_query(
        host.samplers.create("retriever-topk", retriever="bm25").sample(context, N)
    )
    assert sum(chosen[q] != baseline[q] for q in chosen) >= 5  # the reranker changed them
    # the reranker scores the positives and the dropped candidates anew
    corpus, queries, _ = data
    reranker = sampler.reranker_for(context)
    text = dict(zip(corpus.ids, corpus.texts(), strict=True))
    asked = queries.to_dict()
    checks, pairs = [], []
    for query, negatives in chosen.items():
        assert [d for d in pool[query] if d in negatives] == negatives  # retriever order
        last = pool[query].index(negatives[-1])
        dropped = [d for d in pool[query][: last + 1] if d not in negatives]
        checks.append((query, len(pairs), len(context.positives[query]), len(dropped)))
        pairs += [(asked[query], text[d]) for d in context.positives[query] + dropped]
    scores = reranker.score(pairs)  # one batch: positives and dropped candidates
    dropped_total = 0
    for query, start, n_positives, n_dropped in checks:
        weakest = scores[start : start + n_positives].min()
        dropped = scores[start + n_positives : start + n_positives + n_dropped]
        assert np.all(dropped > weakest - 0.05 - 1e-4)  # the rule dropped them
        kept = 2 * np.array(labels[query]) - 1
        assert np.all(kept <= weakest - 0.05 + 1e-4)  # and kept the negatives
        dropped_total += n_dropped
    assert dropped_total >= 5
    # the default labels are the calibrated sigmoid of the same scores
    rows = denoised(host).sample(context, N).table.to_pylist()
    sigmoid = {r["query_id"]: r["negative_labels"] for r in rows}
    for query, values in labels.items():
        scores = 2 * np.array(values) - 1
        expected = 1 / (1 + np.exp(-(scores - 0.74) / 0.10))
        assert np.allclose(sigmoid[query], expected, atol=1e-9)


def test_fewer_held_out_positives_mined_than_retriever_topk(host, context):
    """The false-negative estimate: at the same retriever, window start and number of
    negatives, denoising mines clearly fewer held-out positives than plain top-k."""
    assert sum(len(v) for v in context.heldout.values()) >= 20
    plain = heldout_mined(
        context, host.samplers.create("retriever-topk", retriever="bm25").sample(context, N)
    )
    cleaned = heldout_mined(context, denoised(host).sample(context, N))
    assert plain >= 10, "the subset must give plain top-k false negatives to remove"
    assert cleaned <= 0.7 * plain, (plain, cleaned)


def test_threshold_drops_every_candidate_above_it(host, context):
    sampler = denoised(host, threshold=0.45, labels="cosine")
    assert sampler.relative is None  # an explicit threshold replaces the default rule
    examples = sampler.sample(context, N)
    for row in examples.table.to_pylist():
        assert all(2 * x - 1 <= 0.45 + 1e-6 for x in row["negative_labels"])
    both = denoised(host, threshold=0.45, relative=0.05, labels="cosine").sample(context, N)
    for row, strict in zip(examples.table.to_pylist(), both.table.to_pylist(), strict=True):
        assert len(strict["negative_ids"]) <= N
        assert all(2 * x - 1 <= 0.45 + 1e-6 for x in strict["negative_labels"])
        assert row["query_id"] == strict["query_id"]
    assert denoised(host, labels="none").sample(context, N).table.column(
        "negative_labels"
    ).null_count == len(examples)


def test_deterministic_given_the_seed(host, data):
    corpus, queries, qrels = data
    small = Queries(queries.table.slice(0, 2))

    def mine(seed: int):
        context = MiningContext(corpus, small, qrels, seed=seed, device="cpu")
        sampler = denoised(host, sampling="random-in-window", range_max=6)
        return negatives_by_query(sampler.sample(context, N))

    first = mine(0)
    assert mine(0) == first
    assert mine(1) != first  # another seed draws other documents of the window


def test_any_registered_reranker_serves(host, context, data, tmp_path):
    """A cross-encoder (tiny random weights: none ship offline) and a plugin's reranker
    that only has ``rerank`` (a stand-in for an LLM judge) both plug in by name."""
    save_tiny_cross_encoder(tmp_path)
    cross = host.samplers.create(
        "denoised",
        range_max=POOL,
        reranker="cross-encoder",
        reranker_params={"model": str(tmp_path), "max_length": 64},
    )
    assert cross.relative == 0.0 and (cross.label_center, cross.label_temperature) == (0.0, 1.0)
    examples = cross.sample(context, N)
    examples.check_against({q: set(p) for q, p in context.positives.items()})
    assert all(
        0 < x < 1 for labels in examples.table.column("negative_labels").to_pylist() for x in labels
    )

    class OverlapJudge:
        """Scores by the share of query words in the document (``rerank`` only)."""

        def rerank(self, queries: Queries, corpus: Corpus, run: Run, k: int = 100) -> Run:
            asked = queries.to_dict()
            text = dict(zip(corpus.ids, corpus.texts(), strict=True))
            top = run.top(k).table
            qids = top.column("query_id").to_pylist()
            dids = top.column("doc_id").to_pylist()
            scores = []
            for q, d in zip(qids, dids, strict=True):
                words = set(asked[q].lower().split())
                scores.append(len(words & set(text[d].lower().split())) / len(words))
            return Run.from_arrays(qids, dids, scores)

    class JudgePlugin:
        @rankarena.hookimpl
        def register_rerankers(self, register):
            register("overlap-judge", OverlapJudge)

    plugin_host = PluginHost(entry_points=False)
    plugin_host.register(JudgePlugin(), name="judge")
    corpus, queries, qrels = data
    judged = MiningContext(corpus, queries, qrels, holdout=1.0, host=plugin_host)
    sampler = plugin_host.samplers.create(
        "denoised", range_max=POOL, reranker="overlap-judge", threshold=0.5, labels="none"
    )
    examples = sampler.sample(judged, N)
    asked = queries.to_dict()
    text = dict(zip(corpus.ids, corpus.texts(), strict=True))
    for row in examples.table.to_pylist():
        words = set(asked[row["query_id"]].lower().split())
        for doc in row["negative_ids"]:
            assert len(words & set(text[doc].lower().split())) / len(words) <= 0.5


def test_parameter_errors_are_one_line(host, context):
    bad = [
        {"labels": "probit"},
        {"label_temperature": 0.0},
        {"relative": math.inf},
        {"sampling": "bottom"},
        {"range_min": 5, "range_max": 5},
        {"reranker_params": "minilm"},
        {"rerankers": "bi-encoder"},
        {"threshold": "high"},
    ]
    for params in bad:
        with pytest.raises(ParameterError) as error:
            host.samplers.create("denoised", **params)
        assert "\n" not in str(error.value), params
    with pytest.raises(ParameterError) as error:
        host.samplers.create("denoised", range_max=4).sample(context, 5)
    assert "\n" not in str(error.value)
    with pytest.raises(UnknownNameError) as error:
        host.samplers.create("denoised", reranker="cross-encodr").sample(context, N)
    assert "\n" not in str(error.value) and "cross-encoder" in str(error.value)


# ---------------------------------------------------------------- the rule, property-based


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(-1, 1), min_size=1, max_size=30),
    positive=st.floats(-1, 1),
    relative=st.one_of(st.none(), st.floats(-0.5, 0.5)),
    threshold=st.one_of(st.none(), st.floats(-1, 1)),
)
def test_keep_rule_and_labels(scores, positive, relative, threshold):
    sampler = Denoised(relative=relative, threshold=threshold)
    values = np.array(scores)
    keep = sampler.keep(values, positive)
    for s, ok in zip(scores, keep, strict=True):
        rule_relative = sampler.relative is None or s <= positive - sampler.relative
        rule_threshold = threshold is None or s <= threshold
        assert ok == (rule_relative and rule_threshold)
    labels = np.array(sampler.soft_labels(values))
    assert np.all((labels >= 0) & (labels <= 1))
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(labels[order]) >= 0)  # monotone in the score
