"""TREC run files (``qid Q0 docno rank score tag``) and qrels files (``qid 0 docno grade``).

Fields are separated by any whitespace. The rank field of a run file is read but not
trusted: the ``Run`` re-sorts by score as trec_eval does.
"""

from __future__ import annotations

import math
import os

import pyarrow as pa

from rankarena.data.atomic import atomic_write
from rankarena.data.beir import parse_grade
from rankarena.data.jsonl import read_lines
from rankarena.data.qrels import Qrels
from rankarena.data.run import Run
from rankarena.errors import DataFormatError


def read_trec_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC run file; every line must have 6 fields and a numeric, non-NaN score."""
    q, d, s = [], [], []
    first_line: dict[tuple[str, str], int] = {}
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
        key = (qid, docno)
        if key in first_line:
            raise DataFormatError(
                path,
                f"duplicate document {docno!r} for query {qid!r} (first at line {first_line[key]})",
                number,
            )
        first_line[key] = number
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
    q, d, r = [], [], []
    first_line: dict[tuple[str, str], int] = {}
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 4:
            raise DataFormatError(
                path, f"expected 4 fields (qid iter docno grade), got {len(fields)}", number
            )
        qid, _, docno, grade_text = fields
        grade = parse_grade(grade_text, path, number)
        key = (qid, docno)
        if key in first_line:
            raise DataFormatError(
                path,
                f"duplicate judgement for query {qid!r}, doc {docno!r} "
                f"(first at line {first_line[key]})",
                number,
            )
        first_line[key] = number
        q.append(qid)
        d.append(docno)
        r.append(grade)
    return Qrels(
        pa.table({"query_id": q, "doc_id": d, "relevance": pa.array(r, pa.int32())}), source=path
    )


def write_trec_qrels(qrels: Qrels, path: str | os.PathLike[str]) -> None:
    """Write qrels in TREC format (atomically)."""
    cols = [qrels.table.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")]
    with atomic_write(path) as out:
        for qid, did, grade in zip(*cols, strict=False):
            out.write(f"{qid} 0 {did} {grade}\n")
