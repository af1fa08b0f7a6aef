"""Document collections and query sets: ``Corpus`` (``_id, title, text``) and ``Queries``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pyarrow as pa

from . import schemas
from .table import ArrowTable


class Corpus(ArrowTable):
    """A document collection. ``title`` may be empty; ``_id`` is unique."""

    SCHEMA = schemas.CORPUS
    NOT_NULL = ("_id", "text")
    KEY = ("_id",)

    def __init__(self, table: pa.Table, *, source=None):
        if "title" not in table.column_names:
            table = table.append_column("title", pa.array([""] * table.num_rows, pa.string()))
        super().__init__(table, source=source)
        titles = self.table.column("title")
        if titles.null_count:
            self.table = self.table.set_column(1, "title", titles.fill_null(""))

    @classmethod
    def from_dict(cls, docs: Mapping[str, Mapping[str, str]]) -> Corpus:
        """Build from BEIR's in-memory form ``{doc_id: {"title": ..., "text": ...}}``."""
        return cls(
            pa.table(
                {
                    "_id": list(docs),
                    "title": [d.get("title", "") for d in docs.values()],
                    "text": [d["text"] for d in docs.values()],
                }
            )
        )

    @property
    def ids(self) -> list[str]:
        """Document ids in table order."""
        return self.table.column("_id").to_pylist()

    def texts(self, with_title: bool = True, separator: str = " ") -> list[str]:
        """Document texts, each prefixed by its title (when non-empty and ``with_title``)."""
        titles = self.table.column("title").to_pylist()
        texts = self.table.column("text").to_pylist()
        if not with_title:
            return texts
        return [
            f"{t.strip()}{separator}{x}" if t.strip() else x
            for t, x in zip(titles, texts, strict=False)
        ]

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(self.table.to_pylist())


class Queries(ArrowTable):
    """A query set: ``_id, text``; ``_id`` is unique."""

    SCHEMA = schemas.QUERIES
    NOT_NULL = ("_id", "text")
    KEY = ("_id",)

    @classmethod
    def from_dict(cls, queries: Mapping[str, str]) -> Queries:
        """Build from ``{query_id: text}``."""
        return cls(pa.table({"_id": list(queries), "text": list(queries.values())}))

    def to_dict(self) -> dict[str, str]:
        """``{query_id: text}``."""
        return dict(
            zip(
                self.table.column("_id").to_pylist(),
                self.table.column("text").to_pylist(),
                strict=False,
            )
        )

    @property
    def ids(self) -> list[str]:
        """Query ids in table order."""
        return self.table.column("_id").to_pylist()

    def select(self, ids) -> Queries:
        """The queries whose id is in ``ids`` (table order kept)."""
        import pyarrow.compute as pc

        mask = pc.is_in(self.table.column("_id"), value_set=pa.array(list(ids), pa.string()))
        return Queries(self.table.filter(mask), source=self.source)
