"""Evaluation results in long format, one row per (system, dataset, split, variant, metric
[, query]): ``system, dataset, split, variant, metric, value, query_id, run_id, created_at,
eval_key``.

``query_id`` is null for a mean over queries. ``eval_key`` names what the value was
computed from besides the run (the qrels' content, the metric, the evaluation options;
``rankarena.evaluate.evaluation_key``); a stored value is reused only under the same key.

A results store is a folder of Parquet parts that any number of processes may append to
at once (``rankarena.data.results_store``): ``append_to`` adds one part under the store's
lock, in O(rows appended); ``from_store`` reads the rows matching a filter. Rows are
identified by ``IDENTITY``; an appended row replaces a stored row with the same identity
(readers keep the newest).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from . import schemas
from .results_store import IDENTITY, append_table, deduplicate, read_store, store_exists
from .results_store import OPTIONAL as OPTIONAL_COLUMNS
from .table import ArrowTable

__all__ = ["IDENTITY", "Results"]


class Results(ArrowTable):
    """A results table (see the module docstring for its columns)."""

    SCHEMA = schemas.RESULTS
    NOT_NULL = ("system", "dataset", "split", "metric", "value", "run_id")
    OPTIONAL = OPTIONAL_COLUMNS

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
        table = deduplicate(self.table)
        return self if table is self.table else Results(table)

    def append_to(self, path: str | os.PathLike[str]) -> None:
        """Append these rows to the results store at ``path`` (created if absent; a
        one-file store of an older rankarena is migrated): one new part, written under
        the store's lock in O(rows appended). Rows with the identity of a stored row
        replace it for every reader."""
        append_table(self.table, path)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> Results:
        """Read a results table from a Parquet file, or every row of a results store's
        parts folder (``from_store``: one per identity)."""
        if not os.path.isfile(path) and store_exists(path):
            return cls.from_store(path)
        return super().from_parquet(path)

    @classmethod
    def from_store(
        cls,
        path: str | os.PathLike[str],
        *,
        system: str | Sequence[str] | None = None,
        dataset: str | Sequence[str] | None = None,
        split: str | Sequence[str] | None = None,
        variant: str | Sequence[str] | None = None,
        metric: str | Sequence[str] | None = None,
        means_only: bool = False,
    ) -> Results:
        """The rows of the results store at ``path`` (a parts folder, or a one-file store)
        matching every given filter (a value or a list per column; ``means_only``: only
        means over queries), one per identity, the newest. Only matching row groups are
        read.

        :raises DataFormatError: no store at ``path``, or a part that is not a results
            table.
        """
        filters = {"system": system, "dataset": dataset, "split": split, "variant": variant}
        table = read_store(path, metric=metric, means_only=means_only, **filters)
        return cls(table, source=path)
