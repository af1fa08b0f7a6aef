"""The shared base of rankarena's Arrow-backed tables: schema conformance and Parquet I/O."""

from __future__ import annotations

import os
from typing import Any, ClassVar, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import DataFormatError
from .atomic import atomic_path

T = TypeVar("T", bound="ArrowTable")


class ArrowTable:
    """A ``pyarrow.Table`` with a fixed schema, checked on construction.

    Subclasses set ``SCHEMA``, ``NOT_NULL`` (columns that may hold no nulls), ``KEY``
    (columns whose combination must be unique) and ``OPTIONAL`` (columns that tables
    written before they existed lack: read as nulls), and may extend ``_check``.
    """

    SCHEMA: ClassVar[pa.Schema]
    NOT_NULL: ClassVar[tuple[str, ...]] = ()
    KEY: ClassVar[tuple[str, ...]] = ()
    OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def __init__(self, table: pa.Table, *, source: str | os.PathLike[str] | None = None):
        self.source = str(source) if source is not None else None
        self.table = conform(table, self.SCHEMA, self.source, self.OPTIONAL)
        self._check()

    def _check(self) -> None:
        for name in self.NOT_NULL:
            column = self.table.column(name)
            if column.null_count:
                row = int(pc.index(pc.is_null(column), True).as_py())
                raise DataFormatError(self.source, f"row {row + 1}: {name} is missing")
        if self.KEY:
            check_unique(self.table, self.KEY, self.source)

    def __len__(self) -> int:
        return self.table.num_rows

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.table.equals(other.table)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.table.num_rows} rows)"

    def column(self, name: str) -> np.ndarray:
        """One column as a NumPy array."""
        return self.table.column(name).to_numpy()

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the table to Parquet, atomically."""
        with atomic_path(path) as tmp:
            pq.write_table(self.table, tmp)

    @classmethod
    def from_parquet(cls: type[T], path: str | os.PathLike[str]) -> T:
        """Read a table written by ``to_parquet`` (or any Parquet file with these columns)."""
        return cls(read_parquet(path), source=path)


def open_native(path: str | os.PathLike[str]) -> pa.NativeFile:
    """``path`` opened for reading as an Arrow native file (the file, not a name: a later
    replacement or deletion does not change what it reads).

    Not a Python file object: Arrow's scanner may release its last reference to the file
    on one of its I/O threads after the read returns, and a Python file's destructor there
    must take the GIL, which aborts the process when that happens at interpreter exit
    ("terminate called without an active exception", seen in ``rankarena run``). A
    directory is an ``IsADirectoryError``, a missing file a ``FileNotFoundError``, as for
    ``open``.
    """
    try:
        return pa.OSFile(os.fspath(path), "rb")
    except FileNotFoundError:
        raise
    except OSError:
        if os.path.isdir(path):
            raise IsADirectoryError(path) from None
        raise


def read_parquet(path: str | os.PathLike[str]) -> pa.Table:
    """Read a Parquet file; an unreadable or non-Parquet file is a ``DataFormatError``.

    The file is opened once and read through that handle, so a concurrent atomic
    replacement (``os.replace`` by another writer) never yields a torn read: the reader
    sees the old file or the new one, whole.
    """
    if not os.path.exists(path):
        raise DataFormatError(path, "no such file")
    try:
        with open_native(path) as handle:
            return pq.read_table(handle)
    except (pa.ArrowException, OSError) as exc:
        raise DataFormatError(path, f"not a readable Parquet file ({exc})") from None


def conform(
    table: pa.Table,
    schema: pa.Schema,
    source: str | None = None,
    optional: tuple[str, ...] = (),
) -> pa.Table:
    """Select and cast ``schema``'s columns from ``table``; a missing column is an error,
    except an ``optional`` one, which is filled with nulls."""
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            if field.name in optional:
                columns.append(pa.nulls(table.num_rows, field.type))
                continue
            raise DataFormatError(source, f"missing column {field.name!r}")
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataFormatError(
                    source, f"column {field.name!r} is not {field.type}: {exc}"
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def check_unique(table: pa.Table, key: tuple[str, ...], source: str | None) -> None:
    """Raise ``DataFormatError`` naming the first row that repeats ``key``."""
    if table.num_rows < 2:
        return
    counts = table.group_by(list(key)).aggregate([([], "count_all")])
    if counts.num_rows == table.num_rows:
        return
    dup = counts.filter(pc.greater(counts.column("count_all"), 1)).slice(0, 1).to_pylist()[0]
    mask = None
    for name in key:
        eq = pc.equal(table.column(name), pa.scalar(dup[name], table.schema.field(name).type))
        mask = eq if mask is None else pc.and_(mask, eq)
    rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    what = ", ".join(f"{name}={dup[name]!r}" for name in key)
    raise DataFormatError(
        source, f"row {rows[1] + 1}: duplicate {what} (first at row {rows[0] + 1})"
    )


def table_from_columns(schema: pa.Schema, **columns: Any) -> pa.Table:
    """Build a table of ``schema`` from Python sequences or arrays, by column name."""
    return pa.Table.from_arrays(
        [pa.array(columns[field.name], type=field.type) for field in schema], schema=schema
    )
