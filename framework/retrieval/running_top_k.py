"""A running top-k per query over blocks of scores, compiled with Numba.

Exact search (``vector_search.exact_search``) scores a corpus one block of documents at a
time; this keeps each query's best k so far and reads each new block once, with a floor
(the k-th best score so far) below which a score is never looked at twice. The two
strategies are FAISS's (Johnson, Douze & Jégou, "Billion-scale similarity search with
GPUs", IEEE Trans. Big Data 2019; ``faiss/impl/ResultHandler.h``):

- **heap** (k ≤ ``HEAP_MAX_K``): a binary min-heap of k (score, index) pairs per query; a
  score enters when it beats the root, which it replaces before sifting down: O(log k) per
  entry. Over n documents in random order a query sees about k · (1 + ln(n/k)) entries.
- **reservoir** (larger k): candidates above the floor are appended to a buffer of 2k; when
  it is full a partition (Hoare, median of three; FAISS's ``partition_fuzzy``) keeps the
  best, between k and 1.5k of them, and raises the floor to its pivot: O(k) per k/2
  entries, cheaper than sifting a deep heap; a final quickselect leaves exactly k.
  A query's first block of at least 16·k columns sets the floor just below the k-th
  largest maximum of its groups of 16 (k scores reach it), so that the buffer does not
  fill with the whole first block.

Both first test 16 scores at a time against the floor through their maximum, so that the
common case (nothing in the group can enter) is one vectorisable pass over the block.
Scores enter only when strictly above the floor, so of several documents tied at the k-th
score the first seen stays (deterministic for the same input and block order). A NaN score
never enters (it is not above anything), as in FAISS.
"""

from __future__ import annotations

import numpy as np
from numba import njit

HEAP_MAX_K = 50
"""Up to this k the heap, above it the reservoir (one thread, 1,000 queries x 10,000 and
100,000 documents: the heap ahead at k = 10 and 32, the reservoir from k = 64 on)."""

GROUP = 16
"""Scores compared with the floor at a time, through their maximum."""


@njit(cache=True, nogil=True, inline="always")
def _replace_root(values, index, k, score, position):
    """Replace a min-heap's root with (score, position) and sift it down."""
    at = 0
    while True:
        child = 2 * at + 1
        if child >= k:
            break
        if child + 1 < k and values[child + 1] < values[child]:
            child += 1
        if values[child] >= score:
            break
        values[at] = values[child]
        index[at] = index[child]
        at = child
    values[at] = score
    index[at] = position


@njit(cache=True, nogil=True)
def _heap_push(scores, start, first_row, heap_values, heap_index, row_from, row_to):
    n_cols = scores.shape[1]
    k = heap_values.shape[1]
    whole = n_cols - n_cols % GROUP
    for row in range(row_from, row_to):
        values = heap_values[first_row + row]
        index = heap_index[first_row + row]
        line = scores[row]
        floor = values[0]
        for group in range(0, whole, GROUP):
            if _group_max(line, group) > floor:
                for column in range(group, group + GROUP):
                    score = line[column]
                    if score > floor:
                        _replace_root(values, index, k, score, start + column)
                        floor = values[0]
        for column in range(whole, n_cols):
            score = line[column]
            if score > floor:
                _replace_root(values, index, k, score, start + column)
                floor = values[0]


@njit(cache=True, nogil=True, inline="always")
def _partition(values, index, low, high):
    """One Hoare partition of ``values[low:high + 1]`` (``index`` alike) around the median
    of its first, middle and last values, largest first: returns (i, j, pivot) with
    values[low:j + 1] >= pivot, values[j + 1:i] == pivot, values[i:high + 1] <= pivot."""
    a, b, c = values[low], values[(low + high) >> 1], values[high]
    if a < b:
        a, b = b, a
    if b < c:
        b, c = c, b
        if a < b:
            a, b = b, a
    pivot = b  # the median of the three
    i, j = low, high
    while i <= j:
        while values[i] > pivot:
            i += 1
        while values[j] < pivot:
            j -= 1
        if i <= j:
            values[i], values[j] = values[j], values[i]
            index[i], index[j] = index[j], index[i]
            i += 1
            j -= 1
    return i, j, pivot


@njit(cache=True, nogil=True, inline="always")
def _group_max(line, start):
    """The largest of ``line[start:start + GROUP]`` (a loop the compiler vectorises)."""
    top = line[start]
    for column in range(start + 1, start + GROUP):
        top = max(top, line[column])
    return top


@njit(cache=True, nogil=True)
def _select(values, index, n, k):
    """Rearrange ``values[:n]`` (and ``index`` alike) so that the first k hold the k
    largest, unordered; return the k-th largest (quickselect, Hoare partition)."""
    low, high = 0, n - 1
    target = k - 1
    while low < high:
        i, j, _ = _partition(values, index, low, high)
        if target <= j:
            high = j
        elif target >= i:
            low = i
        else:
            break
    return values[target]


@njit(cache=True, nogil=True)
def _shrink(values, index, n, k, limit):
    """Keep between k and ``limit`` of ``values[:n]`` (and ``index`` alike) at the front:
    all those at or above a pivot, which is returned with the number kept; everything
    dropped is at most the pivot, so the pivot is the new floor (FAISS's
    ``partition_fuzzy``: a partition pass stops as soon as the count fits, instead of
    narrowing to exactly k)."""
    low, high = 0, n - 1
    while True:
        i, j, pivot = _partition(values, index, low, high)
        # now values[:j + 1] >= pivot, values[j + 1:i] == pivot, values[i:n] <= pivot
        if i < k:
            low = i
        elif i <= limit:
            return i, pivot
        elif j + 1 >= k:
            high = j
        else:  # the cut falls among the values equal to the pivot
            return k, pivot


@njit(cache=True, nogil=True)
def _first_floor(line, whole, k):
    """A floor for a query's first block (``whole`` = its columns in whole groups, at least
    ``GROUP`` * k): just below the k-th largest group maximum. k groups reach that maximum,
    so at least k scores do and the k-th best is at or above it; the buffer then fills
    with the few scores that can still enter, not with the whole first block."""
    groups = whole // GROUP
    maxima = np.empty(groups, np.float32)
    for group in range(groups):
        maxima[group] = _group_max(line, group * GROUP)
    kth = _select(maxima, np.empty(groups, np.int64), groups, k)
    return np.nextafter(kth, np.float32(-np.inf))


@njit(cache=True, nogil=True)
def _reservoir_push(scores, start, first_row, kept, kept_index, count, floors, k, lo, hi):
    n_cols = scores.shape[1]
    capacity = kept.shape[1]
    whole = n_cols - n_cols % GROUP
    for row in range(lo, hi):
        at = first_row + row
        values = kept[at]
        index = kept_index[at]
        line = scores[row]
        n = count[at]
        floor = floors[at]
        if n == 0 and whole >= GROUP * k:
            floor = _first_floor(line, whole, k)
        # the append is written out twice (whole groups, then the tail): as one inlined
        # helper returning (n, floor) the loop ran 20% slower (k = 1,000)
        for group in range(0, whole, GROUP):
            if _group_max(line, group) > floor:
                for column in range(group, group + GROUP):
                    score = line[column]
                    if score > floor:
                        values[n] = score
                        index[n] = start + column
                        n += 1
                        if n == capacity:
                            n, floor = _shrink(values, index, n, k, (n + k) >> 1)
        for column in range(whole, n_cols):
            score = line[column]
            if score > floor:
                values[n] = score
                index[n] = start + column
                n += 1
                if n == capacity:
                    n, floor = _shrink(values, index, n, k, (n + k) >> 1)
        count[at] = n
        floors[at] = floor


@njit(cache=True, nogil=True)
def _reservoir_finish(kept, kept_index, count, k):
    for row in range(kept.shape[0]):
        if count[row] > k:
            _select(kept[row], kept_index[row], count[row], k)
            count[row] = k


class RunningTopK:
    """The best ``k`` (score, document index) pairs of each of ``n_rows`` queries so far.

    :param n_rows: queries.
    :param k: results per query (at least 1).

    ``push(scores, start, first_row)`` offers a float32 block whose row i holds query
    ``first_row + i``'s scores of documents ``start, start + 1, ...``; ``result()`` gives
    (values [n_rows, k] float32, indices [n_rows, k] int64), each row unordered. Slots no
    score entered (fewer than k scores above -inf, or NaN scores) hold -inf and index -1.
    Threads may push blocks of disjoint sets of queries at the same time (the kernels
    release the GIL and write only their own rows).
    """

    def __init__(self, n_rows: int, k: int):
        self.k = k
        self.heap = k <= HEAP_MAX_K
        width = k if self.heap else 2 * k
        self.values = np.full((n_rows, width), -np.inf, np.float32)
        self.index = np.full((n_rows, width), -1, np.int64)
        if not self.heap:
            self.count = np.zeros(n_rows, np.int64)
            self.floors = np.full(n_rows, -np.inf, np.float32)

    def push(self, scores: np.ndarray, start: int, first_row: int = 0) -> None:
        """Offer the C-contiguous float32 block ``scores`` (see the class)."""
        rows = scores.shape[0]
        if self.heap:
            _heap_push(scores, start, first_row, self.values, self.index, 0, rows)
            return
        _reservoir_push(
            scores,
            start,
            first_row,
            self.values,
            self.index,
            self.count,
            self.floors,
            self.k,
            0,
            rows,
        )

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, indices) of the best k per query, unordered (see the class)."""
        if not self.heap:
            _reservoir_finish(self.values, self.index, self.count, self.k)
        return self.values[:, : self.k], self.index[:, : self.k]
