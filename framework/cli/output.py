"""How the verbs show and write what they computed: the console, rich tables of rows, and
Arrow tables written as ``.parquet`` or ``.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from ..errors import ParameterError


def stdout_console() -> Console:
    """The verbs' stdout console: at least 100 columns wide, long lines never wrapped."""
    return Console(width=max(Console().width, 100), soft_wrap=False)


def rows_table(title: str, rows: list[dict]) -> Table:
    """A table of ``rows`` (dicts with the same keys): text left, numbers right."""
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="left" if isinstance(rows[0][column], str) else "right")
    for row in rows:
        table.add_row(*(cell(v) for v in row.values()))
    return table


def cell(value: object) -> str:
    """A table cell: floats to 4 decimals, tuples as ``[a, b]``, the rest as ``str``."""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, tuple):
        return "[" + ", ".join(cell(v) for v in value) + "]"
    return str(value)


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` atomically as Parquet or CSV, as ``path``'s suffix says (``--output``)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ..data import atomic_path

    if path.suffix not in (".parquet", ".csv"):
        raise ParameterError(f"--output must end in .parquet or .csv, got {path}")
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
