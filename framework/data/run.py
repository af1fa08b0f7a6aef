"""Ranked retrieval output: ``query_id, doc_id, score, rank``.

A ``Run`` is always kept in trec_eval order: query id ascending, then score descending,
ties broken by doc id descending (byte order), and ``rank`` is 1, 2, ... within each query.
A rank column given on input (a TREC file's fourth field) is ignored, as trec_eval does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataFormatError, ParameterError
from . import schemas
from .jsonl import check_id_columns
from .ordering import (
    Encoded,
    encode,
    group_bounds,
    padded,
    string_hashes,
    trec_order,
)
from .table import ArrowTable, read_parquet

RUN_ROW_BYTES = 300
"""Peak memory of building a ``Run`` from arrays (``Run.from_arrays``: string columns, the
sort, the duplicate check), per row: measured 254 bytes per row for 1M rows of short ids
(``q123``, ``d45678``), rounded up. The finished table keeps about 30 of them. Retrievers
add it to their own per-result bytes when they estimate a search's memory."""


class Run(ArrowTable):
    """A retrieval run; construction sorts it and assigns ranks.

    Scores must be numbers other than NaN; each (query_id, doc_id) appears once.
    """

    SCHEMA = schemas.RUN
    NOT_NULL = ("query_id", "doc_id", "score")

    def __init__(self, table: pa.Table, *, source=None):
        if "rank" not in table.column_names:
            table = table.append_column("rank", pa.nulls(table.num_rows, pa.int32()))
        super().__init__(table, source=source)
        self._order()

    def _order(self) -> None:
        table = self.table
        scores = table.column("score").to_numpy()
        nan = np.isnan(scores)
        if nan.any():
            row = int(np.flatnonzero(nan)[0])
            raise DataFormatError(self.source, f"row {row + 1}: score is NaN")
        queries = encode(table.column("query_id"))
        doc_ids = table.column("doc_id").combine_chunks()

        def doc_rank(rows: np.ndarray) -> np.ndarray:  # byte order of the given rows' ids
            return encode(doc_ids.take(pa.array(rows))).sorted_codes

        # two cores: hash the doc ids (duplicate check) while the rows are sorted
        with ThreadPoolExecutor(max_workers=1) as pool:
            hashing = pool.submit(string_hashes, doc_ids)
            query_rank = queries.sorted_codes
            perm = trec_order(query_rank, scores, doc_rank)
            indices = pa.array(perm)
            taking = pool.submit(table.column("query_id").take, indices)
            q_sorted = query_rank[perm]
            starts, lengths = group_bounds(q_sorted)
            _check_unique_docs(
                doc_ids, perm, starts, lengths, queries, self.source, hashing.result()
            )
            ranks = np.arange(len(perm), dtype=np.int32) - np.repeat(starts, lengths).astype(
                np.int32
            )
            ranks += 1
            sorted_docs = doc_ids.take(indices)
            sorted_queries = taking.result()
        self.table = pa.Table.from_arrays(
            [sorted_queries, sorted_docs, pa.array(scores[perm]), pa.array(ranks)],
            schema=self.SCHEMA,
        )
        self._queries = Encoded(queries.codes[perm], queries.dictionary, queries.order)

    @property
    def encoded_queries(self) -> Encoded:
        """The query ids of the sorted rows as dictionary codes."""
        return self._queries

    @classmethod
    def from_parquet(cls, path) -> Run:
        """Read a Parquet run (``query_id, doc_id, score``); an id holding whitespace, which
        no TREC run file could carry, is an error naming its row."""
        table = read_parquet(path)
        check_id_columns(table, ("query_id", "doc_id"), path)
        return cls(table, source=path)

    @classmethod
    def from_arrays(
        cls, query_ids: Sequence[str] | pa.Array, doc_ids: Sequence[str] | pa.Array, scores
    ) -> Run:
        """Build from parallel columns of query ids, doc ids and scores."""
        return cls(
            pa.table(
                {
                    "query_id": _string_column(query_ids),
                    "doc_id": _string_column(doc_ids),
                    "score": pa.array(np.asarray(scores, dtype=np.float64)),
                }
            )
        )

    @classmethod
    def from_dict(cls, run: Mapping[str, Mapping[str, float]]) -> Run:
        """Build from ``{query_id: {doc_id: score}}`` (pytrec_eval's form)."""
        q, d, s = [], [], []
        for qid, docs in run.items():
            q.extend([qid] * len(docs))
            d.extend(docs)
            s.extend(docs.values())
        return cls.from_arrays(q, d, s)

    def to_dict(self) -> dict[str, dict[str, float]]:
        """``{query_id: {doc_id: score}}`` in rank order."""
        out: dict[str, dict[str, float]] = {}
        cols = [self.table.column(c).to_pylist() for c in ("query_id", "doc_id", "score")]
        for qid, did, score in zip(*cols, strict=False):
            out.setdefault(qid, {})[did] = score
        return out

    def top(self, k: int) -> Run:
        """The first ``k`` documents of every query."""
        if k < 1:
            raise ParameterError(f"Run.top: k must be at least 1, got {k}")
        keep = pc.less_equal(self.table.column("rank"), k)
        return Run(self.table.filter(keep), source=self.source)

    @property
    def query_ids(self) -> list[str]:
        """Distinct query ids, sorted."""
        return pc.unique(self.table.column("query_id")).to_pylist()


def _string_column(values) -> pa.Array | pa.ChunkedArray:
    """Arrow strings from Arrow arrays (cast, no Python round trip) or any sequence."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(pa.string())
    return pa.array(values, pa.string())


def _check_unique_docs(
    doc_ids: pa.Array,
    perm: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    queries: Encoded,
    source,
    hashes: np.ndarray | None,
) -> None:
    """Raise ``DataFormatError`` if a query lists a document twice.

    Doc-id hashes (``string_hashes``; None for long ids) are sorted within each query (one
    row of a padded 2-D array each); an equal neighbour is confirmed with exact dictionary
    codes before it is reported.
    """
    if len(perm) < 2:
        return
    if hashes is not None:
        grid = np.sort(padded(hashes[perm], starts, lengths, np.uint64(2**64 - 1)), axis=1)
        same = grid[:, 1:] == grid[:, :-1]
        same &= np.arange(1, grid.shape[1]) < lengths[:, None]
        if not same.any():
            return
    docs = encode(doc_ids)
    pair = queries.codes * max(len(docs.dictionary), 1) + docs.codes
    ordered = np.sort(pair)
    if not np.any(ordered[1:] == ordered[:-1]):
        return  # a hash collision, not a duplicate
    _, first, counts = np.unique(pair, return_index=True, return_counts=True)
    dup = pair[first[np.argmax(counts > 1)]]
    rows = np.flatnonzero(pair == dup)
    qid = queries.dictionary[int(queries.codes[rows[0]])].as_py()
    did = docs.dictionary[int(docs.codes[rows[0]])].as_py()
    raise DataFormatError(
        source,
        f"row {rows[1] + 1}: duplicate document {did!r} for query {qid!r} "
        f"(first at row {rows[0] + 1})",
    )
