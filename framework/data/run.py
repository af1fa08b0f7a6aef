"""Ranked retrieval output: ``query_id, doc_id, score, rank``.

A ``Run`` is always kept in trec_eval order: query id ascending, then score descending,
ties broken by doc id descending (byte order), and ``rank`` is 1, 2, ... within each query.
A rank column given on input (a TREC file's fourth field) is ignored, as trec_eval does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rankarena.data import schemas
from rankarena.data.ordering import Encoded, encode, group_bounds, trec_order
from rankarena.data.table import ArrowTable
from rankarena.errors import DataFormatError


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
        docs = encode(table.column("doc_id"))
        width = max(len(docs.dictionary), 1)
        pair = queries.codes * width + docs.codes
        if pc.count_distinct(pa.array(pair)).as_py() != len(pair):
            _raise_duplicate(pair, queries, docs, self.source)
        perm = trec_order(queries.sorted_codes, scores, docs.sorted_codes)
        q_sorted = queries.sorted_codes[perm]
        starts, lengths = group_bounds(q_sorted)
        ranks = np.arange(len(perm), dtype=np.int32) - np.repeat(starts, lengths).astype(np.int32)
        ranks += 1
        indices = pa.array(perm)
        self.table = pa.Table.from_arrays(
            [
                table.column("query_id").take(indices),
                table.column("doc_id").take(indices),
                pa.array(scores[perm]),
                pa.array(ranks),
            ],
            schema=self.SCHEMA,
        )
        self._codes = (
            Encoded(queries.codes[perm], queries.dictionary, queries.order),
            Encoded(docs.codes[perm], docs.dictionary, docs.order),
        )

    @property
    def encoded(self) -> tuple[Encoded, Encoded]:
        """(query ids, doc ids) of the sorted rows as dictionary codes."""
        return self._codes

    @classmethod
    def from_arrays(
        cls, query_ids: Sequence[str] | pa.Array, doc_ids: Sequence[str] | pa.Array, scores
    ) -> Run:
        """Build from parallel columns of query ids, doc ids and scores."""
        return cls(
            pa.table(
                {
                    "query_id": pa.array(query_ids, pa.string()),
                    "doc_id": pa.array(doc_ids, pa.string()),
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
            raise ValueError(f"k must be at least 1, got {k}")
        keep = pc.less_equal(self.table.column("rank"), k)
        return Run(self.table.filter(keep), source=self.source)

    @property
    def query_ids(self) -> list[str]:
        """Distinct query ids, sorted."""
        return pc.unique(self.table.column("query_id")).to_pylist()


def _raise_duplicate(pair: np.ndarray, queries: Encoded, docs: Encoded, source) -> None:
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
