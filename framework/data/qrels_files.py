"""A qrels file of any format rankarena reads, told apart by its content: ``read_qrels``.

The format is decided by the first judgement line (blank lines and ``#`` comment lines
before it are passed over), never by the file's name:

* a line of exactly 3 tab-separated fields is a BEIR qrels TSV (``query-id<TAB>corpus-id
  <TAB>score``, its header row or a first judgement): ``rankarena.data.read_qrels_tsv``;
* a line of 4 whitespace-separated fields is a TREC qrels file (``qid iter docno rel``):
  ``rankarena.data.read_trec_qrels``;
* anything else is a one-line ``DataFormatError`` (``FILE:LINE: ...``) naming both formats.

A file that starts with Parquet's magic bytes (``PAR1``, as ``Qrels.to_parquet`` writes)
is read as Parquet qrels. The chosen reader then reads the whole file with its own checks,
so a later line of the other format is an error naming that line.
"""

from __future__ import annotations

import os
from contextlib import closing

from ..errors import DataFormatError
from .beir import read_qrels_tsv
from .jsonl import read_lines, split_fields
from .qrels import Qrels
from .trec import read_trec_qrels

PARQUET_MAGIC = b"PAR1"
FORMATS = (
    "TREC qrels (qid iter docno rel: 4 whitespace-separated fields) or "
    "BEIR qrels TSV (query-id<TAB>corpus-id<TAB>score: 3 tab-separated fields)"
)
"""The formats ``read_qrels`` takes, as its error message names them."""


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read a qrels file, TREC (``qid iter docno rel``) or BEIR TSV (``query-id<TAB>corpus-id
    <TAB>score``, header optional), telling the format from the content (module docstring).

    ``rankarena.evaluate(run, read_qrels("2019qrels-pass.txt"), ["ndcg@10"])`` scores a run
    on it. A file of neither format is a ``DataFormatError`` naming the file and line.
    """
    return qrels_reader(path)(path)


def qrels_reader(path: str | os.PathLike[str]):
    """The reader ``read_qrels`` would use for ``path``: ``read_trec_qrels``,
    ``read_qrels_tsv`` or ``Qrels.from_parquet`` (the file's first judgement line decides)."""
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            if handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC:
                return Qrels.from_parquet
    with closing(read_lines(path)) as lines:  # no such file, empty, bad bytes: said there
        for number, line in lines:
            if line.lstrip().startswith("#"):
                continue
            if len(line.split("\t")) == 3:
                return read_qrels_tsv
            fields = split_fields(line)
            if len(fields) == 4:
                return read_trec_qrels
            raise DataFormatError(
                path,
                f"not a qrels line: expected {FORMATS}, got {len(fields)} field(s)",
                number,
            )
    return read_trec_qrels  # only comment lines: the TREC reader says what it makes of them
