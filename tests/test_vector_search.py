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


@pytest.mark.parametrize(("k", "dtype"), [(7, np.float32), (120, np.float32), (120, np.float16)])
def test_queries_split_over_threads_give_the_single_thread_result(monkeypatch, k, dtype):
    """With several threads each scores its own slice of the queries (single-threaded BLAS)
    into its own rows of the running top k: the same result as one thread (scores up to
    BLAS's rounding, which depends on how many rows one call multiplies)."""
    import rankarena.retrieval.vector_search as vector_search

    rng = np.random.default_rng(5)
    docs = rng.standard_normal((3000, 16)).astype(dtype)
    queries = rng.standard_normal((37, 16)).astype(np.float32)
    monkeypatch.setattr(vector_search, "_search_threads", lambda: 1)
    one = exact_search(queries, docs, k, chunk_size=700, query_batch=5)
    monkeypatch.setattr(vector_search, "_search_threads", lambda: 3)
    monkeypatch.setattr(vector_search, "MIN_QUERIES_PER_THREAD", 4)
    seen = []
    three = exact_search(queries, docs, k, chunk_size=700, query_batch=5, on_chunk=seen.append)
    assert sum(seen) == 3000
    np.testing.assert_array_equal(three[1], one[1])
    np.testing.assert_allclose(three[0], one[0], rtol=1e-6)
    spoiled = docs.copy()
    spoiled[2500, 1] = np.nan
    with pytest.raises(ParameterError, match=r"document 2,500 \(0-based\)"):
        exact_search(queries, spoiled, k, chunk_size=700, query_batch=5)


def test_non_finite_embeddings_are_one_line_errors():
    """A NaN or infinite document would score NaN (never entering a top k, as in FAISS) or
    infinity: either is an error naming the document, as is a bad query, never a result."""
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((300, 8)).astype(np.float32)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    for bad in (np.nan, np.inf):
        spoiled = docs.copy()
        spoiled[217, 3] = bad
        for k in (5, 250):
            with pytest.raises(ParameterError, match=r"document 217 \(0-based\) scores NaN"):
                exact_search(queries, spoiled, k, chunk_size=100)
    spoiled = queries.copy()
    spoiled[2, 0] = np.nan
    with pytest.raises(ParameterError, match="query embeddings hold NaN or infinite values"):
        exact_search(spoiled, docs, 5)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 40),
    levels=st.sampled_from([None, 2, 5]),
    negative_zero=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_packed_sort_equals_lexsort(rows, cols, levels, negative_zero, seed):
    """``_sorted`` packs (score, index) into 64-bit keys: the same order as sorting by score
    descending, then index ascending, ties, negative scores and -0.0 included."""
    from rankarena.retrieval.vector_search import _sorted

    rng = np.random.default_rng(seed)
    if levels is None:
        scores = (rng.standard_normal((rows, cols)) * 10).astype(np.float32)
    else:
        scores = (rng.integers(-levels, levels, (rows, cols)) / 2).astype(np.float32)
    if negative_zero:
        scores[scores == 0] = -0.0
    index = np.stack([rng.permutation(10 * cols)[:cols] for _ in range(rows)]).astype(np.int64)
    got_scores, got_index = _sorted(scores, index)
    order = np.lexsort((index, -scores), axis=1)
    np.testing.assert_array_equal(got_index, np.take_along_axis(index, order, 1))
    np.testing.assert_array_equal(got_scores, np.take_along_axis(scores, order, 1))


def test_sorting_indices_past_32_bits_falls_back_to_lexsort():
    from rankarena.retrieval.vector_search import _sorted

    scores = np.array([[1.0, 2.0, 2.0]], np.float32)
    index = np.array([[2**40, 2**33 + 5, 3]], np.int64)
    got_scores, got_index = _sorted(scores, index)
    np.testing.assert_array_equal(got_index, [[3, 2**33 + 5, 2**40]])
    np.testing.assert_array_equal(got_scores, [[2.0, 2.0, 1.0]])


def test_exact_search_stays_within_its_memory_estimate():
    """``exact_search_bytes`` (what the dense retriever checks against the memory limit)
    bounds the allocations of a search, heap (k = 50) and reservoir (k = 700), float32 and
    widened float16 documents (tracemalloc sees NumPy's buffers)."""
    import tracemalloc

    from rankarena.retrieval.vector_search import exact_search_bytes

    rng = np.random.default_rng(0)
    queries = rng.standard_normal((1500, 32)).astype(np.float32)
    for dtype in (np.float32, np.float16):
        docs = rng.standard_normal((20_000, 32)).astype(dtype)
        for k in (50, 700):
            exact_search(queries[:2], docs[:3000], k)  # compiled and warm before measuring
            tracemalloc.start()
            exact_search(queries, docs, k, chunk_size=6000)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            bound = exact_search_bytes(
                1500, 20_000, 32, k, chunk_size=6000, widened=dtype != np.float32
            )
            assert peak <= bound, (dtype, k, peak, bound)
