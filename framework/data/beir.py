"""BEIR folders: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Readers check every line and fail with ``FILE:LINE: reason``; writers are atomic. Ids
holding whitespace are refused (a TREC run could not carry them), grades are read as
trec_eval reads them (``rankarena.data.jsonl``), and the first line of a qrels file is a
header only when it names the columns (``query-id, corpus-id, score`` or a variant), so a
headerless file's bad first line is reported, not dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from ..errors import DataFormatError
from .atomic import atomic_write
from .fingerprint import digest_json, file_digest, table_digest
from .jsonl import (
    FirstLines,
    check_id,
    id_field,
    parse_grade,
    read_jsonl,
    read_lines,
    string_table,
    text_field,
)
from .qrels import Qrels
from .texts import Corpus, Queries


def read_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Read a BEIR ``corpus.jsonl``: per line an object with ``_id``, ``text``, ``title``?"""
    ids, titles, texts = [], [], []
    seen = FirstLines(path)
    for number, obj in read_jsonl(path):
        doc_id = id_field(obj, "_id", path, number)
        seen.add(doc_id, number, f"_id {doc_id!r}")
        ids.append(doc_id)
        titles.append(text_field(obj, "title", path, number, required=False))
        texts.append(text_field(obj, "text", path, number))
    table = string_table({"_id": ids, "title": titles, "text": texts}, "_id", seen)
    return Corpus(table, source=path)


def read_queries(path: str | os.PathLike[str]) -> Queries:
    """Read a BEIR ``queries.jsonl``: one object per line with ``_id`` and ``text``."""
    ids, texts = [], []
    seen = FirstLines(path)
    for number, obj in read_jsonl(path):
        query_id = id_field(obj, "_id", path, number)
        seen.add(query_id, number, f"_id {query_id!r}")
        ids.append(query_id)
        texts.append(text_field(obj, "text", path, number))
    return Queries(string_table({"_id": ids, "text": texts}, "_id", seen), source=path)


def read_qrels_tsv(path: str | os.PathLike[str]) -> Qrels:
    """Read BEIR qrels: ``query-id<TAB>corpus-id<TAB>score`` with an optional header row
    (``query-id, corpus-id, score``; also ``query_id``/``qid``, ``corpus_id``/``doc-id``/
    ``doc_id``/``docid``, ``relevance``, in any case)."""
    return Qrels.from_lines(path, _tsv_judgements(path))


def _tsv_judgements(path) -> Iterator[tuple[int, str, str, int]]:
    first = True
    for number, line in read_lines(path):
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataFormatError(
                path,
                f"expected 3 tab-separated fields (query-id, corpus-id, score), got {len(fields)}",
                number,
            )
        if first and _is_header(fields):
            first = False
            continue
        first = False
        query_id, doc_id, grade_text = (f.strip() for f in fields)
        grade = parse_grade(grade_text, path, number)
        if not query_id or not doc_id:
            raise DataFormatError(path, "empty query-id or corpus-id", number)
        check_id(query_id, "query-id", path, number)
        check_id(doc_id, "corpus-id", path, number)
        yield number, query_id, doc_id, grade


_HEADER_NAMES = (
    {"query-id", "query_id", "qid"},
    {"corpus-id", "corpus_id", "doc-id", "doc_id", "docid"},
    {"score", "relevance"},
)


def _is_header(fields: list[str]) -> bool:
    """Whether the first line is a header row: BEIR's ``query-id, corpus-id, score`` or a
    common variant of these names (any case); any other first line is data, so that a bad
    grade there is reported rather than dropped as a header."""
    return all(
        field.strip().lower() in names for field, names in zip(fields, _HEADER_NAMES, strict=True)
    )


class BeirFolder:
    """A BEIR dataset folder, read lazily: the corpus is loaded on first use only.

    :param path: the folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/``.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataFormatError(self.path, "not a folder (expected a BEIR dataset folder)")
        self.name = self.path.name

    @property
    def splits(self) -> list[str]:
        """Split names that have a ``qrels/<split>.tsv``."""
        return sorted(p.stem for p in (self.path / "qrels").glob("*.tsv"))

    @cached_property
    def corpus(self) -> Corpus:
        """The document collection."""
        return read_corpus(self.path / "corpus.jsonl")

    @cached_property
    def _all_queries(self) -> Queries:
        return read_queries(self.path / "queries.jsonl")

    def qrels(self, split: str) -> Qrels:
        """The judgements of ``split``."""
        path = self.path / "qrels" / f"{split}.tsv"
        if not path.is_file():
            raise DataFormatError(
                path, f"no qrels for split {split!r}; available: {', '.join(self.splits) or 'none'}"
            )
        return read_qrels_tsv(path)

    def queries(self, split: str | None = None) -> Queries:
        """The queries that have judgements in ``split`` (all queries when ``split`` is None)."""
        if split is None:
            return self._all_queries
        return self._all_queries.select(self.qrels(split).query_ids)

    def fingerprint(self, split: str) -> str:
        """Digest of what a run on ``split`` reads: ``corpus.jsonl``'s bytes and the split's
        queries (ids and texts); cache keys include it, so an edited file is noticed."""
        corpus = self.path / "corpus.jsonl"
        if not corpus.is_file():
            raise DataFormatError(corpus, "no such file")
        queries = table_digest(self.queries(split).table)
        return digest_json({"corpus": file_digest(corpus), "queries": queries})


def write_beir(
    folder: str | os.PathLike[str], corpus: Corpus, queries: Queries, qrels: dict[str, Qrels]
) -> Path:
    """Write a BEIR folder (atomically, file by file); ``qrels`` maps split -> Qrels."""
    folder = Path(folder)
    with atomic_write(folder / "corpus.jsonl") as out:
        for row in corpus.table.to_pylist():
            out.write(json.dumps(row) + "\n")
    with atomic_write(folder / "queries.jsonl") as out:
        for row in queries.table.to_pylist():
            out.write(json.dumps(row) + "\n")
    for split, judgements in qrels.items():
        with atomic_write(folder / "qrels" / f"{split}.tsv") as out:
            out.write("query-id\tcorpus-id\tscore\n")
            cols = [judgements.table.column(c).to_pylist() for c in judgements.table.column_names]
            for qid, did, grade in zip(*cols, strict=False):
                out.write(f"{qid}\t{did}\t{grade}\n")
    return folder
