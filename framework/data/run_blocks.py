"""A run read in blocks of whole queries, for runs larger than memory.

``read_trec_run_blocks(path, block_lines)`` and ``read_parquet_run_blocks(path,
block_lines)`` yield ``Run`` objects of about ``block_lines`` rows each, every query's rows
in exactly one block. A per-query value computed block by block is therefore the value
computed on the whole run, and memory is O(``block_lines``), not O(file).

**Each query's lines together.** Streaming needs every query's lines consecutive, as every
tool we know writes runs (trec_eval order, Anserini, Pyserini, PyTerrier, ranx, rankarena
itself). A query whose lines reappear after another query's is an error naming the line,
never a query silently split in two and scored twice. trec_eval reads the whole file, so
any order is valid to it; ``rankarena.evaluate.evaluate_run_file`` reads a run that fits
in memory whole, in any order, and streams only the larger ones. One query of more than
``block_lines`` rows is an error too: its block would not fit.

**TREC lines** follow the rules of ``rankarena.data.trec`` exactly. The fast path is
Arrow's streaming CSV reader (``pyarrow.csv.open_csv``) on single-space separated lines of
exactly 6 fields. At the first batch it cannot take as clean (the checks of
``read_trec_run``'s fast path, a query out of place, a duplicate document, a NaN score;
a lone carriage return anywhere sends the whole file to the line reader), the line reader
takes over: it resumes after the rows already
yielded and either accepts the lines or fails with the exact line and reason. So a file is
read as ``read_trec_run`` reads it, whichever path reads which part.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import DataFormatError, ParameterError
from .jsonl import FirstLines, check_id_columns
from .run import Run
from .trec import CSV_CONVERT, CSV_PARSE, clean_run_rows, fast_path_scan, trec_run_rows

READ_BLOCK_BYTES = 1 << 22
"""Bytes of the file Arrow's streaming reader parses per batch (4 MiB)."""

_COLUMNS = ["query_id", "doc_id", "score"]


class _NotClean(Exception):
    """The fast path cannot take the rest of the file; the line reader must."""


class QueryOutOfPlace(DataFormatError):
    """A query's lines come back after another query's: the run cannot be read in blocks
    (``rankarena.evaluate.run_file`` then reads it whole if it fits)."""


def read_trec_run_blocks(
    path: str | os.PathLike[str], block_lines: int, limit: str = ""
) -> Iterator[Run]:
    """The TREC run file at ``path`` as ``Run`` blocks of whole queries, about
    ``block_lines`` rows each (module docstring).

    :param limit: the setting ``block_lines`` comes from, named in the error for a query
        too large for one block (e.g. ``"RANKARENA_MAX_MEMORY=2G"``).
    """
    if block_lines < 1:
        raise ParameterError(f"block_lines must be at least 1, got {block_lines}")
    if not os.path.isfile(path):
        raise DataFormatError(path, "no such file")
    blocks = _QueryBlocks(path, block_lines, limit)
    try:
        for table in _fast_tables(path):
            yield from blocks.add(table)
        if blocks.rows_yielded + blocks.rows_pending == 0:
            raise _NotClean  # no row: the line reader says why (an empty file, ...)
        yield from blocks.finish()
        return
    except _NotClean:
        pass
    yield from _line_blocks(path, block_lines, limit, blocks.rows_yielded, blocks.done)


def read_parquet_run_blocks(
    path: str | os.PathLike[str], block_lines: int, limit: str = ""
) -> Iterator[Run]:
    """A Parquet run (``query_id, doc_id, score``) as ``Run`` blocks of whole queries,
    read one record batch at a time; a query out of place is an error naming its row."""
    if block_lines < 1:
        raise ParameterError(f"block_lines must be at least 1, got {block_lines}")
    try:
        source = pq.ParquetFile(path)
        batches = source.iter_batches(batch_size=min(65536, block_lines), columns=_COLUMNS)
    except (OSError, pa.ArrowException) as exc:
        raise DataFormatError(path, f"not a readable Parquet run ({exc})") from None
    blocks = _QueryBlocks(path, block_lines, limit, strict=True)

    def tables() -> Iterator[pa.Table]:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            check_id_columns(table, ("query_id", "doc_id"), path)
            yield table

    for table in tables():
        yield from blocks.add(table)
    yield from blocks.finish()


def _fast_tables(path: str | os.PathLike[str]) -> Iterator[pa.Table]:
    """Clean ``query_id, doc_id, score`` tables from Arrow's streaming CSV reader; raises
    ``_NotClean`` where the line reader must take over. The file's bytes are scanned first
    (``ByteScan``, a fraction of the parsing time), so that Arrow reads the file itself."""
    scan = fast_path_scan(path)
    if scan is None:  # a BOM or a lone carriage return: the line reader handles it
        raise _NotClean
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=["query_id", "q0", "doc_id", "rank", "score", "tag"],
                block_size=READ_BLOCK_BYTES,
                use_threads=True,
            ),
            parse_options=CSV_PARSE,
            convert_options=CSV_CONVERT,
        )
        for batch in reader:
            if not clean_run_rows(batch, scan.blanks):
                raise _NotClean
            yield pa.Table.from_batches([batch]).select(_COLUMNS)
    except (pa.ArrowException, UnicodeDecodeError):
        raise _NotClean from None


class _QueryBlocks:
    """Collects tables of run rows and hands out ``Run`` blocks of whole queries.

    ``strict`` (no line reader behind): a query out of place is an error naming its row,
    not ``_NotClean``."""

    def __init__(self, path, block_lines: int, limit: str, strict: bool = False) -> None:
        self.path, self.block_lines, self.limit, self.strict = path, block_lines, limit, strict
        self.finished: set[str] = set()  # queries whose last row was seen
        self.done: set[str] = set()  # queries whose rows were all yielded
        self.rows_yielded = 0
        self._starts: list[tuple[int, str]] = []  # (first pending row, query), in order
        self._pending: list[pa.Table] = []
        self._rows = 0  # rows pending
        self._open: str | None = None  # the query of the last row
        self._open_start = 0  # its first pending row

    def add(self, table: pa.Table) -> Iterator[Run]:
        """Take the next rows; yield the blocks they complete."""
        n = table.num_rows
        if n == 0:
            return
        queries = table.column("query_id")
        changes = pc.not_equal(queries.slice(1), queries.slice(0, n - 1))
        starts = np.concatenate(([0], np.flatnonzero(changes.to_numpy(zero_copy_only=False)) + 1))
        names = queries.take(pa.array(starts)).to_pylist()
        for start, name in zip(starts.tolist(), names, strict=True):
            if name == self._open:
                continue  # the open query goes on
            if name in self.finished:
                self._out_of_place(name, self._rows + start)
            if self._open is not None:
                self._check_size(self._rows + start - self._open_start)
                self.finished.add(self._open)
            self._open, self._open_start = name, self._rows + start
            self._starts.append((self._open_start, name))
        self._pending.append(table)
        self._rows += n
        self._check_size(self._rows - self._open_start)
        if self._rows >= self.block_lines and self._open_start > 0:
            yield self._cut(self._open_start)

    @property
    def rows_pending(self) -> int:
        """Rows taken, not yet handed out."""
        return self._rows

    def finish(self) -> Iterator[Run]:
        """Yield the last block."""
        if self._rows:
            if self._open is not None:
                self.finished.add(self._open)
            yield self._cut(self._rows)

    def _cut(self, rows: int) -> Run:
        """The first ``rows`` pending rows as a ``Run``; the rest stay pending."""
        whole = pa.concat_tables(self._pending)
        try:
            run = Run(whole.slice(0, rows).combine_chunks(), source=self.path)
        except DataFormatError:
            if self.strict:
                raise
            raise _NotClean from None  # the line reader names the line
        rest = whole.slice(rows)
        self._pending = [rest] if rest.num_rows else []
        cut = sum(1 for start, _ in self._starts if start < rows)
        self.done.update(name for _, name in self._starts[:cut])
        self._starts = [(start - rows, name) for start, name in self._starts[cut:]]
        self._rows -= rows
        self._open_start -= rows
        self.rows_yielded += rows
        return run

    def _check_size(self, rows: int) -> None:
        """Refuse the open query when its ``rows`` will not fit one block."""
        if rows > self.block_lines:
            where = f" ({self.limit})" if self.limit else ""
            raise DataFormatError(self.path, _too_large_text(self._open, self.block_lines, where))

    def _out_of_place(self, name: str, pending_row: int) -> None:
        row = self.rows_yielded + pending_row
        if self.strict:
            raise QueryOutOfPlace(self.path, f"row {row + 1}: {_out_of_place_text(name)}")
        raise QueryOutOfPlace(self.path, _out_of_place_text(name), _line_of_row(self.path, row))


def _too_large_text(query: str | None, block_lines: int, where: str) -> str:
    return f"query {query!r} has more than {block_lines:,} lines, more than one block{where} holds"


def _out_of_place_text(query: str) -> str:
    return (
        f"query {query!r} appears again after other queries' lines; a run read in blocks "
        "(larger than the memory limit) needs each query's lines together: sort it by "
        "query id (e.g. sort -s -k1,1), or raise RANKARENA_MAX_MEMORY to read it whole"
    )


def _line_of_row(path, row: int) -> int:
    """The line number of the ``row``-th (from 0) non-blank line: the line of a row the fast
    path parsed (it parses no comment line)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                if row == 0:
                    return number
                row -= 1
    raise AssertionError("unreachable: the row was parsed from the file")


def _line_blocks(
    path, block_lines: int, limit: str, skip: int, finished: set[str]
) -> Iterator[Run]:
    """The line reader's blocks, from the ``skip``-th row on (``finished``: the queries of
    the rows before)."""
    q: list[str] = []
    d: list[str] = []
    s: list[float] = []
    open_query: str | None = None
    open_start = 0
    seen = FirstLines(path)
    for number, qid, docno, score in trec_run_rows(path, skip):
        if qid != open_query:
            if qid in finished:
                raise QueryOutOfPlace(path, _out_of_place_text(qid), number)
            if open_query is not None:
                finished.add(open_query)
            if len(q) >= block_lines and q:
                yield _run(q, d, s, path)
                q, d, s = [], [], []
            open_query, open_start, seen = qid, len(q), FirstLines(path)
        elif len(q) - open_start >= block_lines:
            where = f" ({limit})" if limit else ""
            raise DataFormatError(path, _too_large_text(qid, block_lines, where), number)
        seen.add(docno, number, f"document {docno!r} for query {qid!r}")
        q.append(qid)
        d.append(docno)
        s.append(score)
    if q:
        yield _run(q, d, s, path)


def _run(q: Iterable[str], d: Iterable[str], s: Iterable[float], path) -> Run:
    return Run(
        pa.table({"query_id": q, "doc_id": d, "score": pa.array(s, pa.float64())}), source=path
    )
