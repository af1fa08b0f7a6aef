"""Relevance judgements: ``query_id, doc_id, relevance`` (int32; 0 and negative allowed).

Semantics follow trec_eval: a document is relevant when its grade is at least the
relevance level (1 by default); grade 0 is judged non-relevant; a negative grade marks a
document that is in the pool but unjudged; a document absent from the qrels is unjudged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from . import schemas
from .jsonl import FirstLines, check_id_columns
from .table import ArrowTable, read_parquet


class Qrels(ArrowTable):
    """Relevance judgements; each (query_id, doc_id) appears once."""

    SCHEMA = schemas.QRELS
    NOT_NULL = ("query_id", "doc_id", "relevance")
    KEY = ("query_id", "doc_id")

    @classmethod
    def from_dict(cls, qrels: Mapping[str, Mapping[str, int]]) -> Qrels:
        """Build from ``{query_id: {doc_id: grade}}`` (pytrec_eval's form)."""
        q, d, r = [], [], []
        for qid, docs in qrels.items():
            for did, grade in docs.items():
                q.append(qid)
                d.append(did)
                r.append(grade)
        return cls(pa.table({"query_id": q, "doc_id": d, "relevance": pa.array(r, pa.int32())}))

    def for_queries(self, query_ids: pa.Array) -> Qrels:
        """The judgements of these queries only. Rows of checked qrels stay valid, so they
        are not checked again (O(rows) hashing, no sort)."""
        subset = object.__new__(Qrels)
        subset.source = self.source
        subset.table = self.table.filter(
            pc.is_in(self.table.column("query_id"), value_set=query_ids)
        )
        return subset

    @classmethod
    def from_parquet(cls, path) -> Qrels:
        """Read Parquet qrels (``query_id, doc_id, relevance``); an id holding whitespace,
        which no TREC qrels file could carry, is an error naming its row."""
        table = read_parquet(path)
        check_id_columns(table, ("query_id", "doc_id"), path)
        return cls(table, source=path)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """``{query_id: {doc_id: grade}}``."""
        out: dict[str, dict[str, int]] = {}
        cols = [self.table.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")]
        for qid, did, grade in zip(*cols, strict=False):
            out.setdefault(qid, {})[did] = grade
        return out

    @classmethod
    def from_lines(cls, path, rows: Iterable[tuple[int, str, str, int]]) -> Qrels:
        """Build from ``(line_number, query_id, doc_id, grade)`` parsed from the file
        ``path``; a (query, doc) judged twice is an error naming both lines."""
        q, d, r = [], [], []
        seen = FirstLines(path)
        for number, query_id, doc_id, grade in rows:
            seen.add(
                (query_id, doc_id), number, f"judgement for query {query_id!r}, doc {doc_id!r}"
            )
            q.append(query_id)
            d.append(doc_id)
            r.append(grade)
        table = pa.table({"query_id": q, "doc_id": d, "relevance": pa.array(r, pa.int32())})
        return cls(table, source=path)

    @property
    def query_ids(self) -> list[str]:
        """Distinct query ids, sorted."""
        return sorted(set(self.table.column("query_id").to_pylist()))

    def most_positives(self, relevance_level: int = 1) -> int:
        """The most documents with grade >= ``relevance_level`` any one query has (0 when
        none has one): how much deeper than N a run must go to hold N non-positives."""
        positive = self.table.filter(
            pc.greater_equal(self.table.column("relevance"), relevance_level)
        )
        counts = pc.value_counts(positive.column("query_id")).field("counts")
        return int(pc.max(counts).as_py() or 0) if len(counts) else 0
