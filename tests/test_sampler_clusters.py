"""The ``cluster-aware`` sampler on a real SciFact subset (train queries, their judged documents
and some others) with the offline MiniLM encoder; and its NumPy k-means."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import ParameterError
from rankarena.plugins.samplers.clusters import (
    ClusterAware,
    _round_robin,
    cluster_means,
    default_clusters,
    kmeans,
)
from rankarena.training.mining import MiningContext

N_QUERIES, N_OTHERS, NEGATIVES = 24, 120, 6


@pytest.fixture(scope="module")
def subset(scifact_subset):
    return scifact_subset(N_QUERIES, N_OTHERS)


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    # short inputs keep the CPU encoding quick; the cache lets later contexts skip it
    return {"max_length": 64, "cache_dir": str(tmp_path_factory.mktemp("embeddings"))}


def make_context(subset, seed: int = 7) -> MiningContext:
    return MiningContext(*subset, seed=seed, device="cpu")


@pytest.fixture(scope="module")
def context(subset):
    return make_context(subset)


def create(**kwargs) -> ClusterAware:
    return rankarena.plugin_manager().samplers.create("cluster-aware", **kwargs)


def dense_scores(context: MiningContext, params) -> np.ndarray:
    """e(q) · e(d) for every (mining query, document), computed independently."""
    model = context.retriever("dense", params)
    texts = context.queries.table.column("text").to_pylist()
    return model.encoder.encode(texts) @ np.asarray(model.embeddings).T


def test_local_then_broad_hardest_first(context, params):
    sampler = create(params=params)
    examples = sampler.sample(context, NEGATIVES)
    examples.check_against({q: set(p) for q, p in context.positives.items()})
    scores = dense_scores(context, params)
    query_row = {q: i for i, q in enumerate(context.queries.ids)}
    labels = np.array([sampler.labels[d] for d in context.doc_ids])
    assert len(sampler.pool_ids) == len(context.doc_ids)  # small corpus: clustered whole
    assert len(sampler.centroids) == default_clusters(len(context.doc_ids)) == 9
    n_local = sampler.local_count(NEGATIVES)
    assert n_local == 3
    rows = examples.table.to_pylist()
    assert len(rows) == sum(len(p) for p in context.positives.values())
    for row, mask in zip(rows, sampler.local_mask(examples), strict=True):
        query, positive = row["query_id"], row["positive_id"]
        assert not set(row["negative_ids"]) & set(context.positives[query])
        s = scores[query_row[query]]
        cluster = sampler.labels[positive]
        eligible = np.array([d not in context.positives[query] for d in context.doc_ids])
        inside = np.flatnonzero(eligible & (labels == cluster))
        outside = np.flatnonzero(eligible & (labels != cluster))
        local = [context.doc_ids[i] for i in inside[np.argsort(-s[inside], kind="stable")]]
        broad = [context.doc_ids[i] for i in outside[np.argsort(-s[outside], kind="stable")]]
        take = min(n_local, len(local))
        # local: the hardest of the positive's cluster; broad: the hardest of the others
        assert row["negative_ids"] == local[:take] + broad[: NEGATIVES - take]
        assert mask.tolist() == [True] * take + [False] * (NEGATIVES - take)
        doc_row = [context.doc_index[d] for d in row["negative_ids"]]
        np.testing.assert_allclose(row["negative_scores"], s[doc_row], atol=1e-4)
        assert row["positive_score"] == pytest.approx(s[context.doc_index[positive]], abs=1e-4)


@pytest.mark.parametrize("broad", ["spread", "random"])
def test_broad_negatives_come_from_other_clusters(context, params, broad):
    sampler = create(params=params, broad=broad)
    examples = sampler.sample(context, NEGATIVES)
    again = create(params=params, broad=broad).sample(context, NEGATIVES)
    assert examples == again  # seeded by the context
    for row, mask in zip(examples.table.to_pylist(), sampler.local_mask(examples), strict=True):
        assert len(row["negative_ids"]) == NEGATIVES
        assert mask[:3].all() and not mask[3:].any()
        broad_clusters = [sampler.labels[d] for d in row["negative_ids"][3:]]
        if broad == "spread":  # one per cluster while other clusters have candidates left
            assert len(set(broad_clusters)) == len(broad_clusters)
        if broad == "random":  # drawn uniformly, listed by score
            assert row["negative_scores"][3:] == sorted(row["negative_scores"][3:], reverse=True)


@pytest.mark.parametrize(("fraction", "local"), [(1.0, NEGATIVES), (0.0, 0), (0.34, 2)])
def test_local_fraction(context, params, fraction, local):
    sampler = create(params=params, local_fraction=fraction)
    examples = sampler.sample(context, NEGATIVES)
    masks = sampler.local_mask(examples)
    cluster_sizes = np.bincount(list(sampler.labels.values()))
    for row, mask in zip(examples.table.to_pylist(), masks, strict=True):
        query = row["query_id"]
        same = [d for d in context.positives[query] if d in sampler.labels]
        room = cluster_sizes[sampler.labels[row["positive_id"]]] - sum(
            sampler.labels[d] == sampler.labels[row["positive_id"]] for d in same
        )
        assert int(mask.sum()) == min(local, room)
        assert not mask[int(mask.sum()) :].any()  # local ones first


def test_deterministic_given_the_seed(context, params, subset):
    first = create(params=params, clusters=6)
    examples = first.sample(context, NEGATIVES)
    other = make_context(subset, seed=7)  # a fresh context: same seed, embeddings from the cache
    second = create(params=params, clusters=6)
    assert second.sample(other, NEGATIVES) == examples
    assert other.retriever("dense", params).cache_hit
    assert second.labels == first.labels
    np.testing.assert_array_equal(second.centroids, first.centroids)


def test_union_pool_on_large_corpora(context, params):
    sampler = create(params=params, whole_corpus_up_to=0, pool_depth=5, clusters=4)
    examples = sampler.sample(context, 4)
    run = context.candidates("dense", params, 5).to_dict()
    expected = {d for docs in run.values() for d in docs}
    expected |= {d for docs in context.positives.values() for d in docs}
    assert set(sampler.pool_ids) == expected and len(expected) < len(context.doc_ids)
    assert len(sampler.centroids) == 4
    for row in examples.table.to_pylist():
        assert set(row["negative_ids"]) <= expected
        assert not set(row["negative_ids"]) & set(context.positives[row["query_id"]])


def test_needs_embeddings(context):
    with pytest.raises(ParameterError, match="no document embeddings") as error:
        create(retriever="bm25").sample(context, 3)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"local_fraction": 1.5},
        {"local_fraction": "half"},
        {"clusters": 1},
        {"broad": "wide"},
        {"pool_depth": 0},
        {"iterations": 0},
        {"locality": 0.5},
        {"params": "minilm"},
    ],
)
def test_parameter_errors_are_one_line(kwargs):
    with pytest.raises(ParameterError) as error:
        create(**kwargs)
    assert "\n" not in str(error.value) and "cluster-aware" in str(error.value)


def test_local_mask_needs_a_sample():
    with pytest.raises(ParameterError, match="sample"):
        ClusterAware().local_mask(None)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    dim=st.integers(1, 4),
    k=st.integers(1, 7),
    duplicates=st.booleans(),
)
def test_kmeans_is_a_fixed_point(seed, n, dim, k, duplicates):
    data = np.random.default_rng(seed)
    points = data.normal(size=(n, dim))
    if duplicates:  # repeated points: k-means++ must still give k non-empty clusters
        points = points[data.integers(0, max(1, n // 3), size=n)]
    centroids, labels = kmeans(points, k, np.random.default_rng(seed), iterations=200)
    again = kmeans(points, k, np.random.default_rng(seed), iterations=200)
    np.testing.assert_array_equal(again[1], labels)
    k = min(k, n)
    assert centroids.shape == (k, dim) and labels.shape == (n,)
    assert set(labels.tolist()) == set(range(k))  # no empty cluster
    np.testing.assert_allclose(centroids, cluster_means(points, labels, k), atol=1e-9)
    distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    own = distances[np.arange(n), labels]
    distinct = len(np.unique(points, axis=0))
    if distinct >= k:  # a converged Lloyd partition: every point sits at its nearest centre
        assert np.all(own <= distances.min(axis=1) + 1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_kmeans_recovers_separated_blobs(seed):
    data = np.random.default_rng(100 + seed)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=float)
    truth = np.repeat(np.arange(4), 25)
    points = centres[truth] + data.normal(scale=1.0, size=(100, 2))
    _, labels = kmeans(points, 4, np.random.default_rng(seed))
    for blob in range(4):  # each blob is exactly one cluster
        assert len(set(labels[truth == blob].tolist())) == 1
    assert len(set(labels.tolist())) == 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=30))
def test_round_robin_takes_each_cluster_in_turn(labels):
    labels = np.array(labels, dtype=np.int64)
    order = _round_robin(labels)
    assert sorted(order.tolist()) == list(range(len(labels)))
    seen: dict[int, int] = {}
    turns = []
    for i in order.tolist():
        turns.append(seen.get(int(labels[i]), 0))
        seen[int(labels[i])] = turns[-1] + 1
    assert turns == sorted(turns)  # every cluster's first, then every cluster's second, ...
    for cluster in set(labels.tolist()):  # score order kept within a cluster
        mine = [i for i in order.tolist() if labels[i] == cluster]
        assert mine == sorted(mine)
