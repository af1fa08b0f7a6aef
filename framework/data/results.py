"""Evaluation results in long format, one row per (system, dataset, split, variant, metric
[, query]): ``system, dataset, split, variant, metric, value, query_id, run_id, created_at,
eval_key``.

``query_id`` is null for a mean over queries. ``eval_key`` names what the value was
computed from besides the run (the qrels' content, the metric, the evaluation options;
``rankarena.evaluate.evaluation_key``); a stored value is reused only under the same key.

A results store is one Parquet file that any number of processes may append to at once:
``append_to`` holds the store's lock file (``.NAME.lock`` beside it) while it reads, merges
and atomically replaces the store, so no append is lost; readers never lock, since a
replacement is atomic and a reader reads one whole version through one file handle.
Rows are identified by ``IDENTITY``; an appended row replaces a stored row with the same
identity, and duplicates already in a store are dropped on the next append (the newest
row is kept).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import schemas
from .locks import file_lock, lock_path
from .table import ArrowTable

# what makes a row one result: everything but its value and time
IDENTITY = ("system", "dataset", "split", "variant", "metric", "query_id", "run_id", "eval_key")


class Results(ArrowTable):
    """A results table (see the module docstring for its columns)."""

    SCHEMA = schemas.RESULTS
    NOT_NULL = ("system", "dataset", "split", "metric", "value", "run_id")
    OPTIONAL = ("eval_key",)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> Results:
        """Build from dicts with the schema's keys (``variant``, ``query_id``, ``eval_key``
        may be absent)."""
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

    def deduplicated(self) -> Results:
        """One row per ``IDENTITY``: the last one (in row order) of each."""
        table = self.table
        if table.num_rows < 2:
            return self
        position = pa.array(range(table.num_rows), pa.int64())
        keyed = table.select(list(IDENTITY)).append_column("__row", position)
        last = keyed.group_by(list(IDENTITY), use_threads=False).aggregate([("__row", "max")])
        keep = pc.sort_indices(last.column("__row_max"))
        rows = pc.take(last.column("__row_max"), keep)
        if len(rows) == table.num_rows:
            return self
        return Results(table.take(rows))

    def append_to(self, path: str | os.PathLike[str]) -> Results:
        """Append these rows to the Parquet store at ``path`` (created if absent), under the
        store's lock; rows with the identity of a stored row replace it. Returns the store's
        new content."""
        with file_lock(lock_path(path)):
            stored = Results.from_parquet(path) if os.path.exists(path) else Results.empty()
            combined = stored.concat(self).deduplicated()
            combined.to_parquet(path)
        return combined
