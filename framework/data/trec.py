"""TREC run files (``qid Q0 docno rank score tag``) and qrels files (``qid 0 docno grade``).

The line rules are trec_eval's (``get_trec_results.c``, ``get_qrels.c`` and the format
help in ``formats.c`` of usnistgov/trec_eval 9.x/10):

* Fields are separated by any run of C whitespace (space, tab, ``\\v``, ``\\f``, CR), as
  trec_eval separates them; an id holding other whitespace (``\\xa0``, ``\\u3000``) is
  refused. Blank lines are skipped.
* A line whose first character other than C whitespace is ``#`` is a comment and is
  skipped, whatever it holds (even bytes that are not UTF-8). This is trec_eval's run
  reader, which skips leading whitespace and then ignores a line starting with ``#``. Its
  qrels reader only recognises a ``#`` in the line's first column (and not two comment
  lines in a row); rankarena uses the run rule for both, so the only qrels lines read
  differently are indented ones whose query id would begin with ``#``, a query no run
  file can name (trec_eval takes such a run line as a comment).
* A run line has at least 6 fields; fields after the sixth (the run tag) are ignored:
  "Lines may contain fields after the run_id; they are ignored" (``formats.c``). A
  qrels line has exactly 4 fields, as ``get_qrels.c`` requires.
* Scores and grades follow trec_eval's ``atof`` and ``atol`` (``rankarena.data.jsonl``):
  ``1_0`` is not a number, ``1e2`` is not a grade. The rank field of a run file is read but
  not trusted: the ``Run`` re-sorts by score as trec_eval does.
* A negative grade (trec_eval documents ``-1``: "in the pool but not judged") is kept as
  read, in qrels from every reader: ``JudgedRun`` counts such a document neither relevant
  nor judged, as ``form_res_rels.c`` gives it ``RELVALUE_UNJUDGED``, and a query judged
  only with negative grades stays an evaluated query (it is in the qrels) scoring 0
  everywhere. Dropping the rows at read time would drop such a query from the mean.

Writing a table whose ids hold whitespace is refused, since the file could not be read
back, and so is a query id starting with ``#`` (its lines would read back as comments).

Run files are first read with Arrow's multi-threaded CSV reader (single-space separated,
exactly 6 fields, the common layout); any file it cannot take as a valid run (other
separators, trailing fields, comments, bad values, NaN scores, duplicates, bad bytes,
whitespace inside an id, a carriage return alone inside a line, which Arrow would take for a
line end) is read again line by line, which either accepts it or fails with the exact line
and reason. Arrow's float parser takes no more than the C syntax (no
``1_0``, no non-ASCII digits), so both paths agree.
Qrels files take the same two paths: Arrow first (single spaces, exactly 4 fields, plain
integer grades, no judgement given twice), the line reader for anything else.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import DataFormatError, ParameterError
from .atomic import atomic_write
from .jsonl import (
    WHITESPACE_RE2,
    FirstLines,
    check_id,
    check_id_columns,
    parse_grade,
    parse_score,
    read_lines,
    split_fields,
)
from .qrels import Qrels
from .run import Run

_RUN_COLUMNS = ("query_id", "q0", "doc_id", "rank", "score", "tag")


CSV_READ = pacsv.ReadOptions(column_names=list(_RUN_COLUMNS))
CSV_PARSE = pacsv.ParseOptions(delimiter=" ", quote_char=False)
CSV_CONVERT = pacsv.ConvertOptions(
    column_types={
        "query_id": pa.string(),
        "q0": pa.string(),
        "doc_id": pa.string(),
        "rank": pa.string(),
        "score": pa.float64(),
        "tag": pa.string(),
    },
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)
"""Arrow CSV options of the fast path: single spaces, exactly 6 fields, no quoting."""


_STRING_FIELDS = ("query_id", "q0", "doc_id", "rank", "tag")

_QRELS_COLUMNS = ("query_id", "iteration", "doc_id", "relevance")
QRELS_CSV_CONVERT = pacsv.ConvertOptions(
    column_types={name: pa.string() for name in _QRELS_COLUMNS},
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)
"""Arrow CSV options of the qrels fast path: single spaces, exactly 4 fields, all strings
(the grades are checked and converted afterwards)."""
_PLAIN_GRADE = r"^[+-]?[0-9]+$"


def clean_run_rows(
    table: pa.Table | pa.RecordBatch, blanks: bool = True, fields: tuple[str, ...] = _STRING_FIELDS
) -> bool:
    """Whether rows Arrow's CSV reader parsed (``CSV_*`` options) are run lines the line
    reader would read the same way: no comment line, no empty field (a doubled separator,
    a line starting or ending with a blank), and, unless ``blanks`` is false (``ByteScan``
    found no byte that could be one), no other whitespace inside a field (the line reader
    would split there, shifting the fields after it). ``fields``: the string columns to
    check (a qrels table's are ``query_id, iteration, doc_id, relevance``)."""
    for name in fields:
        for chunk in _chunks(table.column(name)):
            offsets = np.frombuffer(chunk.buffers()[1], np.int32)
            offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
            if len(chunk) and int(np.diff(offsets).min()) == 0:  # an empty field
                return False
            if name == "query_id" and len(chunk):  # a comment line: '#' first
                data = np.frombuffer(chunk.buffers()[2], np.uint8)
                if bool((data[offsets[:-1]] == ord("#")).any()):
                    return False
            if blanks and pc.any(pc.match_substring_regex(chunk, WHITESPACE_RE2)).as_py():
                return False
    return True


def _chunks(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


_ID_BLANKS = tuple(bytes([c]) for c in (0x09, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F))
"""The ASCII whitespace bytes other than space, newline and carriage return."""


class ByteScan:
    """What the bytes of a run file, fed in order, hold that Arrow's fast path must know
    (single-byte searches only: ``memchr`` speed):

    * ``lone_cr``: a carriage return not followed by a newline (and not the file's last
      byte). Arrow's CSV reader ends a line there; trec_eval takes it as a field
      separator inside the line.
    * ``blanks``: a byte that may be whitespace inside a field: an ASCII blank other than
      space and newline (tab, ``\\v``, ``\\f``, ``\\x1c``-``\\x1f``) or any non-ASCII
      byte. Without one, the per-field regex of ``clean_run_rows`` is skipped.
    """

    def __init__(self) -> None:
        self.lone_cr = False
        self.blanks = False
        self._ends_with_cr = False

    def feed(self, data: bytes) -> None:
        """Look at the next bytes of the file."""
        if not data:
            return
        if self._ends_with_cr and data[:1] != b"\n":
            self.lone_cr = True
        if not self.lone_cr and data.find(b"\r") != -1:
            trailing = data.endswith(b"\r")
            self.lone_cr = data.count(b"\r") - data.count(b"\r\n") - trailing > 0
        self._ends_with_cr = data.endswith(b"\r")
        if not self.blanks:
            self.blanks = not data.isascii() or any(data.find(b) != -1 for b in _ID_BLANKS)


def scan_bytes(path: str | os.PathLike[str], chunk: int = 2**24) -> ByteScan:
    """``ByteScan`` of the whole file."""
    scan = ByteScan()
    with open(path, "rb") as handle:
        while data := handle.read(chunk):
            scan.feed(data)
    return scan


def fast_path_scan(path: str | os.PathLike[str]) -> ByteScan | None:
    """``ByteScan`` of a file Arrow's CSV reader may parse, or ``None`` when only the line
    reader can: the file starts with a BOM, or holds a lone carriage return."""
    with open(path, "rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            return None
    scan = scan_bytes(path)
    return None if scan.lone_cr else scan


def _read_trec_run_fast(path: str | os.PathLike[str]) -> Run | None:
    """The run if Arrow's CSV reader takes the file as a clean run, else ``None``."""
    try:
        scan = fast_path_scan(path)
        if scan is None:
            return None
        table = pacsv.read_csv(
            path, read_options=CSV_READ, parse_options=CSV_PARSE, convert_options=CSV_CONVERT
        )
        if table.num_rows == 0 or not clean_run_rows(table, scan.blanks):
            return None
        return Run(table.select(["query_id", "doc_id", "score"]), source=path)
    except (pa.ArrowException, DataFormatError, OSError, UnicodeDecodeError):
        return None


def read_trec_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run file: per line at least 6 fields (more are ignored) with a numeric,
    non-NaN score; blank lines and ``#`` comment lines are skipped (module docstring)."""
    fast = _read_trec_run_fast(path) if os.path.isfile(path) else None
    return fast if fast is not None else _read_trec_run_lines(path)


def _read_trec_run_lines(path: str | os.PathLike[str]) -> Run:
    """The line-by-line reader: any whitespace between fields, exact errors."""
    q, d, s = [], [], []
    seen = FirstLines(path)
    for number, qid, docno, score in trec_run_rows(path):
        seen.add((qid, docno), number, f"document {docno!r} for query {qid!r}")
        q.append(qid)
        d.append(docno)
        s.append(score)
    return Run(
        pa.table({"query_id": q, "doc_id": d, "score": pa.array(s, pa.float64())}), source=path
    )


def trec_run_rows(
    path: str | os.PathLike[str], skip: int = 0
) -> Iterator[tuple[int, str, str, float]]:
    """``(line number, query id, docno, score)`` of each run line, checked (at least 6
    fields, a numeric non-NaN score, ids without whitespace); the first ``skip`` lines that
    are neither blank nor comments are passed over unread."""
    for number, line in read_lines(path, comments=True):
        if skip:
            skip -= 1
            continue
        fields = split_fields(line)
        if len(fields) < 6:
            raise DataFormatError(
                path,
                f"expected at least 6 fields (qid Q0 docno rank score tag), got {len(fields)}",
                number,
            )
        qid, _, docno, _, score_text = fields[:5]
        score = parse_score(score_text, path, number)
        check_id(qid, "query id", path, number)
        check_id(docno, "docno", path, number)
        if math.isnan(score):
            raise DataFormatError(path, "score is NaN", number)
        yield number, qid, docno, score


def write_trec_run(run: Run, path: str | os.PathLike[str], tag: str = "rankarena") -> None:
    """Write a run in TREC format (atomically); scores keep full float precision."""
    if not tag or any(c.isspace() for c in tag):
        raise ParameterError(f"run tag {tag!r} must be one non-empty field (no whitespace)")
    _check_writable(run.table, path)
    cols = [run.table.column(c).to_pylist() for c in ("query_id", "doc_id", "rank", "score")]
    with atomic_write(path) as out:
        for qid, did, rank, score in zip(*cols, strict=False):
            out.write(f"{qid} Q0 {did} {rank} {score!r} {tag}\n")


def read_trec_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a TREC qrels file: ``qid iteration docno grade`` per line (exactly 4 fields);
    blank lines and ``#`` comment lines are skipped; negative grades are kept (module
    docstring)."""
    fast = _read_trec_qrels_fast(path) if os.path.isfile(path) else None
    return fast if fast is not None else _read_trec_qrels_lines(path)


def _read_trec_qrels_lines(path: str | os.PathLike[str]) -> Qrels:
    """The line-by-line qrels reader: any whitespace between fields, exact errors."""
    return Qrels.from_lines(path, _trec_judgements(path))


def _read_trec_qrels_fast(path: str | os.PathLike[str]) -> Qrels | None:
    """The qrels if Arrow's CSV reader takes the file as clean qrels (single spaces, 4
    fields, plain integer grades in the int32 range, no judgement given twice), else
    ``None``: the line reader then accepts the file or names the line at fault, as for
    runs (module docstring)."""
    try:
        scan = fast_path_scan(path)
        if scan is None:
            return None
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(_QRELS_COLUMNS)),
            parse_options=CSV_PARSE,
            convert_options=QRELS_CSV_CONVERT,
        )
        if table.num_rows == 0 or not clean_run_rows(table, scan.blanks, _QRELS_COLUMNS):
            return None
        grades = table.column("relevance")
        if not pc.all(pc.match_substring_regex(grades, _PLAIN_GRADE)).as_py():
            return None  # "1.0", "1e2", "x": the line reader accepts or names the line
        if _has_duplicate_pair(table.column("query_id"), table.column("doc_id")):
            return None  # a judgement given twice: the line reader names both lines
        return Qrels(
            pa.table(
                {
                    "query_id": table.column("query_id"),
                    "doc_id": table.column("doc_id"),
                    "relevance": pc.cast(grades, pa.int32()),  # overflow: ArrowInvalid
                }
            ),
            source=path,
        )
    except (pa.ArrowException, DataFormatError, OSError, UnicodeDecodeError):
        return None


def _trec_judgements(path) -> Iterator[tuple[int, str, str, int]]:
    for number, line in read_lines(path, comments=True):
        fields = split_fields(line)
        if len(fields) != 4:
            raise DataFormatError(
                path, f"expected 4 fields (qid iter docno grade), got {len(fields)}", number
            )
        qid, _, docno, grade_text = fields
        grade = parse_grade(grade_text, path, number)
        check_id(qid, "query id", path, number)
        check_id(docno, "docno", path, number)
        yield number, qid, docno, grade


def _has_duplicate_pair(queries: pa.ChunkedArray, docs: pa.ChunkedArray) -> bool:
    """Whether some (query id, doc id) pair occurs twice (exact: dictionary codes)."""
    q = pc.dictionary_encode(queries.combine_chunks())
    d = pc.dictionary_encode(docs.combine_chunks())
    pairs = q.indices.to_numpy().astype(np.int64) * max(len(d.dictionary), 1)
    pairs += d.indices.to_numpy()
    pairs.sort()
    return bool((pairs[1:] == pairs[:-1]).any())


def write_trec_qrels(qrels: Qrels, path: str | os.PathLike[str]) -> None:
    """Write qrels in TREC format (atomically)."""
    _check_writable(qrels.table, path)
    cols = [qrels.table.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")]
    with atomic_write(path) as out:
        for qid, did, grade in zip(*cols, strict=False):
            out.write(f"{qid} 0 {did} {grade}\n")


def _check_writable(table: pa.Table, path) -> None:
    """Refuse ids a TREC file cannot carry: whitespace anywhere, or a query id starting
    with ``#`` (its line would read back as a comment); the error names the first row."""
    check_id_columns(table, ("query_id", "doc_id"), path)
    column = table.column("query_id") if "query_id" in table.column_names else None
    if column is not None and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        found = pc.starts_with(column, "#")
        if pc.any(found).as_py():
            row = int(pc.index(found, True).as_py())
            raise DataFormatError(
                path,
                f"row {row + 1}: query_id {column[row].as_py()!r} starts with '#' "
                "(the line would read back as a TREC comment)",
            )
