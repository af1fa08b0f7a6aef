"""Exact chunked top-k search equals brute force; FAISS backends agree with it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankarena.errors import ParameterError
from rankarena.retrieval.vector_search import FaissIndex, check_backend, exact_search


def brute_force(queries: np.ndarray, docs: np.ndarray, k: int):
    scores = queries @ docs.T
    order = np.lexsort((np.broadcast_to(np.arange(len(docs)), scores.shape), -scores), axis=1)
    order = order[:, :k]
    return np.take_along_axis(scores, order, 1), order


@settings(max_examples=60, deadline=None)
@given(
    n_docs=st.integers(1, 60),
    n_queries=st.integers(1, 9),
    k=st.integers(1, 70),
    chunk_size=st.integers(1, 25),
    query_batch=st.integers(1, 5),
    levels=st.sampled_from([None, 3]),
    seed=st.integers(0, 2**16),
)
def test_exact_search_equals_brute_force(
    n_docs, n_queries, k, chunk_size, query_batch, levels, seed
):
    rng = np.random.default_rng(seed)
    if levels is None:
        docs = rng.standard_normal((n_docs, 8)).astype(np.float32)
    else:  # few distinct values: many tied scores
        docs = rng.integers(0, levels, (n_docs, 8)).astype(np.float32)
    queries = rng.integers(0, 2, (n_queries, 8)).astype(np.float32)
    scores, index = exact_search(queries, docs, k, chunk_size=chunk_size, query_batch=query_batch)
    expected_scores, expected_index = brute_force(queries, docs, min(k, n_docs))
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
    full = queries @ docs.T
    for row in range(n_queries):
        cut = expected_scores[row, -1]
        above = expected_scores[row] > cut  # exact above the k-th score ...
        np.testing.assert_array_equal(index[row, above], expected_index[row, above])
        tied = index[row, ~above]  # ... and at it, distinct documents with that score
        assert len(set(tied)) == len(tied)
        np.testing.assert_allclose(full[row, tied], cut)
        assert np.all(np.diff(tied) > 0)  # ties listed by document index


def test_exact_search_reads_a_memory_map_chunk_by_chunk(tmp_path):
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((500, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    np.save(tmp_path / "docs.npy", docs)
    mapped = np.load(tmp_path / "docs.npy", mmap_mode="r")
    seen = []
    queries = docs[:5]
    _, index = exact_search(queries, mapped, 3, chunk_size=128, on_chunk=seen.append)
    assert seen == [128, 128, 128, 116]
    np.testing.assert_array_equal(index[:, 0], np.arange(5))  # each query finds itself


@pytest.mark.parametrize("chunk_size", [64, 128, 500, 1000])
def test_float16_memory_map_equals_the_widened_float32_vectors(tmp_path, chunk_size):
    """A float16 memmap is converted chunk by chunk into two reused buffers, the next chunk
    on a second thread: the result is the float32 search of the same (widened) values, for
    one chunk, two (each buffer once) and more (each buffer reused)."""
    rng = np.random.default_rng(3)
    docs = rng.standard_normal((500, 16)).astype(np.float16)
    np.save(tmp_path / "docs.f16.npy", docs)
    mapped = np.load(tmp_path / "docs.f16.npy", mmap_mode="r")
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    seen = []
    scores, index = exact_search(queries, mapped, 20, chunk_size=chunk_size, on_chunk=seen.append)
    want_scores, want_index = exact_search(queries, docs.astype(np.float32), 20, chunk_size=500)
    assert sum(seen) == 500
    np.testing.assert_array_equal(index, want_index)
    np.testing.assert_array_equal(scores, want_scores)


def test_faiss_flat_equals_exact_and_hnsw_recalls_it():
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    docs = rng.standard_normal((2000, 32)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[:50] + 0.1 * rng.standard_normal((50, 32)).astype(np.float32)
    exact_scores, exact_index = exact_search(queries, docs, 10)
    flat_scores, flat_index = FaissIndex(docs, "flat").search(queries, 10)
    np.testing.assert_array_equal(flat_index, exact_index)
    np.testing.assert_allclose(flat_scores, exact_scores, atol=1e-5)
    _, hnsw_index = FaissIndex(docs, "hnsw", hnsw_m=16, ef_search=64).search(queries, 10)
    recall = np.mean(
        [len(set(a) & set(b)) / 10 for a, b in zip(hnsw_index, exact_index, strict=True)]
    )
    assert recall > 0.9


def test_bad_search_parameters_are_one_line():
    with pytest.raises(ParameterError, match=r"unknown search backend 'fais-flat'.*faiss-flat"):
        check_backend("fais-flat")
    with pytest.raises(ParameterError, match="must be >= 1"):
        exact_search(np.ones((1, 2), np.float32), np.ones((3, 2), np.float32), 0)
    with pytest.raises(ParameterError, match="flat or hnsw"):
        pytest.importorskip("faiss")
        FaissIndex(np.ones((3, 2), np.float32), "ivf")


@pytest.mark.parametrize("seed", range(4))
def test_partition_path_for_large_k_equals_brute_force(monkeypatch, seed):
    import rankarena.retrieval.vector_search as vector_search

    monkeypatch.setattr(vector_search, "PARTITION_MIN_K", 1)  # every k takes this path
    monkeypatch.setattr(vector_search, "PARTITION_ROWS", 3)  # many row slices, threaded
    rng = np.random.default_rng(seed)
    docs = rng.standard_normal((257, 12)).astype(np.float32)
    queries = rng.standard_normal((11, 12)).astype(np.float32)
    for k, chunk_size in [(1, 50), (40, 50), (50, 50), (300, 100)]:
        scores, index = exact_search(queries, docs, k, chunk_size=chunk_size, query_batch=4)
        expected_scores, expected_index = brute_force(queries, docs, min(k, len(docs)))
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(index, expected_index)  # continuous scores: no ties


@settings(max_examples=80, deadline=None)
@given(
    k=st.integers(1, 40),
    chunk_size=st.integers(5, 150),
    levels=st.sampled_from([None, 2]),
    floor=st.booleans(),
    large=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_top_k_through_group_maxima_equals_brute_force(k, chunk_size, levels, floor, large, seed):
    """Small k on wide blocks goes through group maxima, and once k scores are known only
    the groups reaching the k-th are kept (``floor``; constants shrunk so that small inputs
    take these paths, with columns left over past the last whole group): the same top k as
    brute force, ties at the k-th score included."""
    import rankarena.retrieval.vector_search as vector_search

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vector_search, "GROUPED_MIN_SHARE", 1)
        patch.setattr(vector_search, "FLOOR_MIN_GROUPS", 1 if floor else 10**9)
        if large:  # k above GROUPED_MAX_K: the floor only once enough documents were seen
            patch.setattr(vector_search, "GROUPED_MAX_K", 3)
            patch.setattr(vector_search, "FLOOR_MIN_SEEN", 1)
        patch.setattr(vector_search, "_group_size", lambda k: 3 if k <= 20 else 2)
        rng = np.random.default_rng(seed)
        if levels is None:
            docs = rng.standard_normal((150, 6)).astype(np.float32)
            queries = rng.standard_normal((7, 6)).astype(np.float32)
        else:  # many tied scores
            docs = rng.integers(0, levels, (150, 6)).astype(np.float32)
            queries = np.ones((7, 6), np.float32)
        scores, index = exact_search(queries, docs, k, chunk_size=chunk_size, query_batch=5)
    expected_scores, expected_index = brute_force(queries, docs, k)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)
    full = queries @ docs.T
    for row in range(len(queries)):
        cut = expected_scores[row, -1]
        above = expected_scores[row] > cut
        np.testing.assert_array_equal(index[row, above], expected_index[row, above])
        tied = index[row, ~above]
        assert len(set(tied)) == len(tied)
        np.testing.assert_allclose(full[row, tied], cut)
