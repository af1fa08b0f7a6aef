"""TREC run files (``qid Q0 docno rank score tag``) and qrels files (``qid 0 docno grade``).

Fields are separated by any whitespace. The rank field of a run file is read but not
trusted: the ``Run`` re-sorts by score as trec_eval does.

Run files are first read with Arrow's multi-threaded CSV reader (single-space separated,
the common layout); any file it cannot take as a valid run (other separators, bad values,
NaN scores, duplicates, bad bytes) is read again line by line, which either accepts it or
fails with the exact line and reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from rankarena.data.atomic import atomic_write
from rankarena.data.beir import parse_grade
from rankarena.data.jsonl import FirstLines, read_lines
from rankarena.data.qrels import Qrels
from rankarena.data.run import Run
from rankarena.errors import DataFormatError

_RUN_COLUMNS = ("query_id", "q0", "doc_id", "rank", "score", "tag")


def _read_trec_run_fast(path: str | os.PathLike[str]) -> Run | None:
    """The run if Arrow's CSV reader takes the file as a clean run, else ``None``."""
    try:
        with open(path, "rb") as handle:
            if handle.read(3) == b"\xef\xbb\xbf":  # a BOM: the line reader handles it
                return None
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=list(_RUN_COLUMNS)),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False),
            convert_options=pacsv.ConvertOptions(
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
            ),
        )
        if table.num_rows == 0:
            return None
        for name in ("query_id", "doc_id"):
            column = table.column(name)
            if pc.any(pc.equal(pc.utf8_length(column), 0)).as_py():  # doubled separators
                return None
            if pc.any(pc.match_substring_regex(column, r"\s")).as_py():  # tabs, CR
                return None
        return Run(table.select(["query_id", "doc_id", "score"]), source=path)
    except (pa.ArrowException, DataFormatError, OSError, UnicodeDecodeError):
        return None


def read_trec_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run file; every line must have 6 fields and a numeric, non-NaN score."""
    fast = _read_trec_run_fast(path) if os.path.isfile(path) else None
    return fast if fast is not None else _read_trec_run_lines(path)


def _read_trec_run_lines(path: str | os.PathLike[str]) -> Run:
    """The line-by-line reader: any whitespace between fields, exact errors."""
    q, d, s = [], [], []
    seen = FirstLines(path)
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 6:
            raise DataFormatError(
                path, f"expected 6 fields (qid Q0 docno rank score tag), got {len(fields)}", number
            )
        qid, _, docno, _, score_text, _ = fields
        try:
            score = float(score_text)
        except ValueError:
            raise DataFormatError(path, f"score {score_text!r} is not a number", number) from None
        if math.isnan(score):
            raise DataFormatError(path, "score is NaN", number)
        seen.add((qid, docno), number, f"document {docno!r} for query {qid!r}")
        q.append(qid)
        d.append(docno)
        s.append(score)
    return Run(
        pa.table({"query_id": q, "doc_id": d, "score": pa.array(s, pa.float64())}), source=path
    )


def write_trec_run(run: Run, path: str | os.PathLike[str], tag: str = "rankarena") -> None:
    """Write a run in TREC format (atomically); scores keep full float precision."""
    cols = [run.table.column(c).to_pylist() for c in ("query_id", "doc_id", "rank", "score")]
    with atomic_write(path) as out:
        for qid, did, rank, score in zip(*cols, strict=False):
            out.write(f"{qid} Q0 {did} {rank} {score!r} {tag}\n")


def read_trec_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a TREC qrels file: ``qid iteration docno grade`` per line."""
    return Qrels.from_lines(path, _trec_judgements(path))


def _trec_judgements(path) -> Iterator[tuple[int, str, str, int]]:
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 4:
            raise DataFormatError(
                path, f"expected 4 fields (qid iter docno grade), got {len(fields)}", number
            )
        qid, _, docno, grade_text = fields
        yield number, qid, docno, parse_grade(grade_text, path, number)


def write_trec_qrels(qrels: Qrels, path: str | os.PathLike[str]) -> None:
    """Write qrels in TREC format (atomically)."""
    cols = [qrels.table.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")]
    with atomic_write(path) as out:
        for qid, did, grade in zip(*cols, strict=False):
            out.write(f"{qid} 0 {did} {grade}\n")
