"""String-id encoding and trec_eval's ranking order, vectorised.

trec_eval ranks a query's documents by score, highest first, and breaks ties by document
id in *decreasing* byte order (``strcmp(b, a)`` in ``form_res_rels.c``). ``trec_order``
computes that permutation for a whole run at once: rows are grouped by query id
(ascending, byte order), then each query's rows are sorted as one row of a padded 2-D
array, which keeps the sort cache-friendly and avoids a global multi-key sort.
"""

from __future__ import annotations

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


def trec_order(query_rank: np.ndarray, scores: np.ndarray, doc_rank: np.ndarray) -> np.ndarray:
    """The permutation that puts rows in trec_eval order.

    :param query_rank: per row, the byte-order rank of its query id.
    :param scores: per row, the score (float64).
    :param doc_rank: per row, the byte-order rank of its document id.
    :return: indices sorted by (query id ascending, score descending, doc id descending).
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if np.all(query_rank[1:] >= query_rank[:-1]):
        grouped = np.arange(n, dtype=np.int64)
    else:
        grouped = np.argsort(query_rank, kind="stable")
    q = query_rank[grouped]
    starts, lengths = group_bounds(q)
    width = int(lengths.max())
    if len(starts) * width > 4 * n + 4096:  # very uneven query sizes: a global sort is cheaper
        return grouped[np.lexsort((-doc_rank[grouped], -scores[grouped], q))]
    row = np.repeat(np.arange(len(starts)), lengths)
    col = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    keys = np.full((len(starts), width), np.inf)
    keys[row, col] = -scores[grouped]
    order = np.argsort(keys, axis=1, kind="stable")
    ranked = np.take_along_axis(keys, order, axis=1)
    valid = order < lengths[:, None]
    if np.any((ranked[:, 1:] == ranked[:, :-1]) & valid[:, 1:]):  # ties: break by doc id
        docs = np.full((len(starts), width), 1, dtype=np.int64)  # padding sorts last
        docs[row, col] = -doc_rank[grouped]
        order = np.lexsort((docs, keys), axis=1)
    picked = (order + starts[:, None])[order < lengths[:, None]]
    return grouped[picked]
