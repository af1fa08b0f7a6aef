"""String-id encoding and trec_eval's ranking order, vectorised.

trec_eval ranks a query's documents by score, highest first, and breaks ties by document
id in *decreasing* byte order (``strcmp(b, a)`` in ``form_res_rels.c``). ``trec_order``
computes that permutation for a whole run at once: rows are grouped by query id
(ascending, byte order), then each query's rows are sorted as one row of a padded 2-D
array, which keeps the sort cache-friendly and avoids a global multi-key sort. Ties on
score are settled by a second row-wise sort of one integer key (score rank within the
query, then doc id), for which only the tied rows' doc ids are ranked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Encoded:
    """A string column as integer codes into a dictionary of its distinct values.

    ``order`` gives each dictionary entry's position in byte order of the strings, so
    comparisons between ids become comparisons between integers.
    """

    codes: np.ndarray
    dictionary: pa.Array
    order: np.ndarray

    @property
    def sorted_codes(self) -> np.ndarray:
        """Codes replaced by the byte-order rank of their string."""
        return self.order[self.codes]


def encode(column: pa.Array | pa.ChunkedArray) -> Encoded:
    """Dictionary-encode a string column (codes in first-appearance order)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    dictionary = encoded.dictionary
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    by_bytes = pc.sort_indices(dictionary).to_numpy()
    order = np.empty(len(dictionary), dtype=np.int64)
    order[by_bytes] = np.arange(len(dictionary), dtype=np.int64)
    return Encoded(codes, dictionary, order)


def group_bounds(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets and lengths of the runs of equal values in a sorted key array."""
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    lengths = np.diff(np.append(starts, n))
    return starts, lengths


def padded(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, fill) -> np.ndarray:
    """Lay grouped rows out as a 2-D array, one group per row, padded with ``fill``."""
    n_groups, width = len(starts), int(lengths.max())
    if n_groups * width == len(values):  # equal group sizes: a reshape, no copy
        return values.reshape(n_groups, width)
    row = np.repeat(np.arange(n_groups), lengths)
    col = np.arange(len(values), dtype=np.int64) - np.repeat(starts, lengths)
    grid = np.full((n_groups, width), fill, dtype=values.dtype)
    grid[row, col] = values
    return grid


DocOrder = Callable[[np.ndarray], np.ndarray]


def trec_order(
    query_rank: np.ndarray, scores: np.ndarray, doc_rank: np.ndarray | DocOrder
) -> np.ndarray:
    """The permutation that puts rows in trec_eval order.

    :param query_rank: per row, the byte-order rank of its query id.
    :param scores: per row, the score (float64).
    :param doc_rank: per row, the byte-order rank of its document id; or a function that
        returns such ranks (any integers ordered like the ids) for the given rows. It is
        only asked about rows whose score ties another row of the same query.
    :return: indices sorted by (query id ascending, score descending, doc id descending).
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rank_of = doc_rank if callable(doc_rank) else doc_rank.__getitem__
    grouped = _grouped(query_rank)
    q = query_rank[grouped]
    starts, lengths = group_bounds(q)
    if _descending_within(scores[grouped], starts):  # already in order (most run files)
        return grouped
    width = int(lengths.max())
    if len(starts) * width > 4 * n + 4096:  # very uneven query sizes: a global sort is cheaper
        return grouped[np.lexsort((-rank_of(grouped), -scores[grouped], q))]
    # NaN padding sorts after every score (NaN scores are rejected before this point)
    keys = padded(-scores[grouped], starts, lengths, np.nan)
    order = np.argsort(keys, axis=1)  # unstable (SIMD) sort: ties are settled below
    ranked = np.take_along_axis(keys, order, axis=1)
    tie = ranked[:, 1:] == ranked[:, :-1]  # NaN never equals: padding never ties
    if tie.any():  # settle ties by doc id, descending, with one more SIMD sort per row
        involved = np.zeros(keys.shape, dtype=bool)
        involved[:, 1:] |= tie
        involved[:, :-1] |= tie
        g, j = np.nonzero(involved)
        doc = np.asarray(rank_of(grouped[starts[g] + order[g, j]])).astype(np.int64)
        span = int(doc.max()) + 1
        # per sorted position: dense rank of its score within the query, times span, plus
        # (for tied entries) the reversed doc rank; NaN padding keeps the largest values
        composite = np.zeros(keys.shape, dtype=np.int64)
        np.cumsum(~tie, axis=1, out=composite[:, 1:])
        composite *= span
        composite[g, j] += span - 1 - doc
        order = np.take_along_axis(order, np.argsort(composite, axis=1), axis=1)
    order += starts[:, None]
    filled = np.arange(keys.shape[1]) < lengths[:, None]  # real rows, in sorted order
    picked = order.ravel() if keys.size == n else order[filled]
    return grouped[picked]


def _grouped(query_rank: np.ndarray) -> np.ndarray:
    """A stable permutation putting rows in query order. O(n) when the rows are in query
    order, O(n + Q log Q) when each query's rows are together (a run file's usual layout),
    else a stable sort."""
    n = len(query_rank)
    change = np.flatnonzero(query_rank[1:] != query_rank[:-1]) + 1
    group_query = query_rank[np.concatenate(([0], change))]
    if np.all(group_query[1:] > group_query[:-1]):
        return np.arange(n, dtype=np.int64)
    if len(np.unique(group_query)) < len(group_query):  # a query in pieces
        return np.argsort(query_rank, kind="stable")
    bounds = np.concatenate(([0], change, [n]))
    order = np.argsort(group_query)
    lengths = np.diff(bounds)[order]
    new_starts = np.cumsum(lengths) - lengths
    return np.arange(n, dtype=np.int64) + np.repeat(bounds[:-1][order] - new_starts, lengths)


def _descending_within(scores: np.ndarray, starts: np.ndarray) -> bool:
    """Whether scores strictly decrease within every group (no tie to settle)."""
    if len(scores) < 2:
        return True
    falls = scores[1:] < scores[:-1]
    falls[starts[1:] - 1] = True  # a group boundary is no comparison
    return bool(falls.all())


_WORD_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(9)], dtype=np.uint64)
"""``_WORD_MASKS[i]`` keeps the first ``i`` bytes of a little-endian 64-bit word."""
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)


def string_hashes(column: pa.Array, max_bytes: int = 16) -> np.ndarray | None:
    """64-bit hashes of a string column, for ids of at most 16 bytes: each id's bytes read
    as two little-endian words w0, w1 (zero-padded; two gathers, not one per byte), then
    ``h = (w0·K1) xor ((w1 + length)·K2)``, ``h = (h xor h >> 31)·K3`` (mod 2^64; K1 is the
    golden-ratio constant, K2 and K3 xxHash's primes).

    Returns ``None`` when an id is longer than ``max_bytes`` (at most 16; hashing would then
    cost more than dictionary encoding). Equal strings have equal hashes; unequal strings
    may collide, so callers confirm a match exactly.
    """
    max_bytes = min(max_bytes, 16)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if column.type != pa.string():
        column = column.cast(pa.string())
    _, offsets_buf, data_buf = column.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[column.offset : column.offset + n + 1]
    lengths = np.diff(offsets)
    if int(lengths.max()) > max_bytes:
        return None
    first, end = int(offsets[0]), int(offsets[-1])
    data = np.zeros(end - first + 16, dtype=np.uint8)  # room to read 16 bytes past any start
    if data_buf is not None:
        data[: end - first] = np.frombuffer(data_buf, dtype=np.uint8)[first:end]
    # every 8-byte window of the data, one per byte offset (unaligned reads, no copy)
    windows = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    starts = offsets[:-1].astype(np.int64) - first
    w0 = windows[starts] & _WORD_MASKS[np.minimum(lengths, 8)]
    w1 = windows[starts + 8] & _WORD_MASKS[np.clip(lengths - 8, 0, 8)]
    hashes = (w0 * _K1) ^ ((w1 + lengths.astype(np.uint64)) * _K2)
    hashes ^= hashes >> np.uint64(31)
    return hashes * _K3
