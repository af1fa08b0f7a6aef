"""The compiled running top-k (heap and reservoir) keeps exactly the best k per query."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankarena.retrieval import running_top_k
from rankarena.retrieval.running_top_k import RunningTopK, _shrink


def check_top_k(values, index, scores, k):
    """``values``/``index`` (unordered rows) are a top k of ``scores`` (rows x documents):
    the right values, distinct documents, each value its document's score, and every
    document scoring above the k-th best present."""
    for row in range(len(scores)):
        want = np.sort(scores[row])[::-1][:k]
        np.testing.assert_array_equal(np.sort(values[row])[::-1], want)
        assert len(set(index[row].tolist())) == k
        np.testing.assert_array_equal(scores[row, index[row]], values[row])
        above = np.flatnonzero(scores[row] > want[-1])
        assert set(above.tolist()) <= set(index[row].tolist())


@settings(max_examples=150, deadline=None)
@given(
    n_rows=st.integers(1, 9),
    n_docs=st.integers(1, 400),
    k=st.integers(1, 60),
    heap=st.booleans(),
    levels=st.sampled_from([None, 2, 4]),
    widths=st.lists(st.integers(1, 200), min_size=1, max_size=6),
    row_split=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_blocks_pushed_in_any_shape_give_the_exact_top_k(
    n_rows, n_docs, k, heap, levels, widths, row_split, seed
):
    """Blocks of any width (cycling through ``widths``), queries split at ``row_split``,
    many tied scores: the heap (small k) and the reservoir
    (large k; its buffer fills and shrinks many times; a first block of at least 16·k
    columns sets its floor from group maxima) both end with an exact top k."""
    rng = np.random.default_rng(seed)
    k = min(k, n_docs)
    if levels is None:
        scores = rng.standard_normal((n_rows, n_docs)).astype(np.float32)
    else:
        scores = rng.integers(0, levels, (n_rows, n_docs)).astype(np.float32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(running_top_k, "HEAP_MAX_K", 10**9 if heap else 0)
        best = RunningTopK(n_rows, k)
        assert best.heap == heap
        start, turn = 0, 0
        while start < n_docs:
            width = widths[turn % len(widths)]
            turn += 1
            for first in range(0, n_rows, row_split):
                block = np.ascontiguousarray(scores[first : first + row_split, start:][:, :width])
                best.push(block, start, first)
            start += width
        values, index = best.result()
    check_top_k(values, index, scores, k)


@pytest.mark.parametrize("heap", [True, False])
def test_nan_scores_never_enter_and_empty_slots_are_marked(heap, monkeypatch):
    """A NaN is not above anything (as in FAISS): with fewer than k other scores the slots
    left hold -inf and index -1, which ``exact_search`` turns into an error."""
    monkeypatch.setattr(running_top_k, "HEAP_MAX_K", 10**9 if heap else 0)
    scores = np.array([[0.5, np.nan, 2.0, np.nan, 1.0]], np.float32)
    best = RunningTopK(1, 4)
    best.push(scores, 0)
    values, index = best.result()
    order = np.argsort(-values[0])
    np.testing.assert_array_equal(values[0, order], [2.0, 1.0, 0.5, -np.inf])
    np.testing.assert_array_equal(index[0, order], [2, 4, 0, -1])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(2, 80),
    data=st.data(),
    levels=st.sampled_from([None, 1, 3]),
    seed=st.integers(0, 2**16),
)
def test_shrink_keeps_everything_above_its_pivot(n, data, levels, seed):
    """The reservoir's fuzzy partition keeps m in [k, limit] entries at the front, all at or
    above the returned pivot, drops only entries at or below it, and loses no pair."""
    k = data.draw(st.integers(1, n - 1))
    limit = data.draw(st.integers(k, n))
    rng = np.random.default_rng(seed)
    if levels is None:
        values = rng.standard_normal(n).astype(np.float32)
    else:
        values = rng.integers(0, levels + 1, n).astype(np.float32)
    index = np.arange(n, dtype=np.int64)
    original = values.copy()
    kept, pivot = _shrink(values, index, n, k, limit)
    assert k <= kept <= limit
    assert np.all(values[:kept] >= pivot)
    assert np.all(values[kept:] <= pivot)
    np.testing.assert_array_equal(np.sort(index), np.arange(n))
    np.testing.assert_array_equal(values, original[index])
