"""Evaluation results in long format, one row per (system, dataset, split, variant, metric
[, query]): ``system, dataset, split, variant, metric, value, query_id, run_id, created_at``.

``query_id`` is null for a mean over queries. ``append_to`` adds rows to a Parquet results
store atomically, so an interrupted write never loses what was already there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from rankarena.data import schemas
from rankarena.data.table import ArrowTable


class Results(ArrowTable):
    """A results table (see the module docstring for its columns)."""

    SCHEMA = schemas.RESULTS
    NOT_NULL = ("system", "dataset", "split", "metric", "value", "run_id")

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Results:
        """Build from dicts with the schema's keys (``variant``/``query_id`` may be absent)."""
        rows = list(rows)
        columns = {f.name: [r.get(f.name) for r in rows] for f in cls.SCHEMA}
        columns["variant"] = [v if v is not None else "" for v in columns["variant"]]
        return cls(pa.Table.from_pydict(columns, schema=cls.SCHEMA))

    @classmethod
    def empty(cls) -> Results:
        """A results table with no rows."""
        return cls(cls.SCHEMA.empty_table())

    def concat(self, other: Results) -> Results:
        """Rows of ``self`` followed by rows of ``other``."""
        return Results(pa.concat_tables([self.table, other.table]))

    def means(self) -> Results:
        """Only the rows that are means over queries (``query_id`` null)."""
        return Results(self.table.filter(self.table.column("query_id").is_null()))

    def append_to(self, path: str | os.PathLike[str]) -> Results:
        """Append these rows to the Parquet store at ``path`` (created if absent)."""
        combined = Results.from_parquet(path).concat(self) if os.path.exists(path) else self
        combined.to_parquet(path)
        return combined
