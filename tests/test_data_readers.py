"""Readers of BEIR folders (corpus, queries, qrels) and of TREC run and qrels files.

Every bad input must raise ``DataFormatError`` whose one-line message reads
``FILE:LINE: reason`` (``FILE: reason`` where no line applies).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena.data import (
    BeirFolder,
    Qrels,
    Run,
    read_corpus,
    read_qrels_tsv,
    read_queries,
    read_trec_qrels,
    read_trec_run,
    write_trec_qrels,
    write_trec_run,
)
from rankarena.data.trec import (
    _read_trec_qrels_fast,
    _read_trec_qrels_lines,
    _read_trec_run_fast,
    _read_trec_run_lines,
)
from rankarena.errors import DataFormatError, ParameterError

ALL_READERS = [read_corpus, read_queries, read_qrels_tsv, read_trec_run, read_trec_qrels]
JSONL_READERS = [read_corpus, read_queries]


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def check_error(excinfo: pytest.ExceptionInfo, path: Path, line: int | None, *reason: str) -> None:
    """The error is a DataFormatError naming ``path`` and ``line``, with ``reason`` in it."""
    err = excinfo.value
    assert type(err) is DataFormatError
    message = str(err)
    assert "\n" not in message and "\r" not in message, message
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(where), message
    assert message == where + err.reason
    assert err.source == str(path)
    assert err.line == line
    for part in reason:
        assert part in err.reason, message


# ---------------------------------------------------------------- corpus and queries: bad input


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_malformed_json_line(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "2", "text": \n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 2, "invalid JSON")


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_blank_lines_are_counted_in_line_numbers(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": "1", "text": "a"}\n\n   \n{"_id": 2, "text"\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 4, "invalid JSON")


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_json_array_line(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": "1", "text": "a"}\n["2", "b"]\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 2, "expected a JSON object", "list")


@pytest.mark.parametrize("reader", JSONL_READERS)
@pytest.mark.parametrize("line", ['"just a string"', "42", "null"])
def test_json_scalar_line(tmp_path, reader, line):
    path = write(tmp_path, "data.jsonl", line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 1, "expected a JSON object")


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_missing_id(tmp_path, reader):
    path = write(
        tmp_path,
        "data.jsonl",
        '{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b"}\n{"id": "3", "text": "c"}\n',
    )
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 3, "missing '_id'")


@pytest.mark.parametrize("reader", JSONL_READERS)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("null", "missing '_id'"),
        ('""', "'_id' is empty"),
        ("1.5", "'_id' must be a string"),
        ("true", "'_id' must be a string"),
        ("[1]", "'_id' must be a string"),
    ],
)
def test_bad_id_value(tmp_path, reader, value, reason):
    lines = '{"_id": "1", "text": "a"}\n{"_id": ' + value + ', "text": "b"}\n'
    path = write(tmp_path, "data.jsonl", lines)
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 2, reason)


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_missing_text(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": "1", "text": "a"}\n{"_id": "2", "title": "t"}\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 2, "missing 'text'")


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_text_not_a_string(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": "1", "text": ["a"]}\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 1, "'text' must be a string")


def test_corpus_title_not_a_string(tmp_path):
    path = write(
        tmp_path,
        "corpus.jsonl",
        '{"_id": "1", "text": "a"}\n{"_id": "2", "title": 3, "text": "b"}\n',
    )
    with pytest.raises(DataFormatError) as excinfo:
        read_corpus(path)
    check_error(excinfo, path, 2, "'title' must be a string")


def test_duplicate_id_in_corpus(tmp_path):
    path = write(
        tmp_path,
        "corpus.jsonl",
        '{"_id": "d1", "text": "a"}\n{"_id": "d2", "text": "b"}\n\n{"_id": "d1", "text": "c"}\n',
    )
    with pytest.raises(DataFormatError) as excinfo:
        read_corpus(path)
    check_error(excinfo, path, 4, "duplicate _id 'd1'", "first at line 1")


def test_duplicate_id_in_queries(tmp_path):
    path = write(
        tmp_path,
        "queries.jsonl",
        '{"_id": "q1", "text": "a"}\n{"_id": "q2", "text": "b"}\n{"_id": "q2", "text": "c"}\n',
    )
    with pytest.raises(DataFormatError) as excinfo:
        read_queries(path)
    check_error(excinfo, path, 3, "duplicate _id 'q2'", "first at line 2")


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_integer_and_string_id_collide(tmp_path, reader):
    """``1`` and ``"1"`` are the same id once converted to a string."""
    path = write(tmp_path, "data.jsonl", '{"_id": 1, "text": "a"}\n{"_id": "1", "text": "b"}\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, 2, "duplicate _id '1'", "first at line 1")


def test_non_utf8_corpus(tmp_path):
    path = write(
        tmp_path, "corpus.jsonl", b'{"_id": "1", "text": "a"}\n{"_id": "2", "text": "b\xff"}\n'
    )
    with pytest.raises(DataFormatError) as excinfo:
        read_corpus(path)
    check_error(excinfo, path, 2, "not valid UTF-8", "\\xff")


def test_latin1_queries(tmp_path):
    path = write(tmp_path, "queries.jsonl", '{"_id": "q1", "text": "café"}\n'.encode("latin-1"))
    with pytest.raises(DataFormatError) as excinfo:
        read_queries(path)
    check_error(excinfo, path, 1, "not valid UTF-8")


# ---------------------------------------------------------------- every reader: empty and missing


@pytest.mark.parametrize("reader", ALL_READERS)
@pytest.mark.parametrize("content", [b"", b"\n", b"  \n\t\n\r\n   "], ids=["0-bytes", "nl", "ws"])
def test_empty_file(tmp_path, reader, content):
    path = write(tmp_path, "data.txt", content)
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, None, "file is empty")


@pytest.mark.parametrize("reader", ALL_READERS)
def test_bom_only_file_is_empty(tmp_path, reader):
    path = write(tmp_path, "data.txt", b"\xef\xbb\xbf\n")
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, None, "file is empty")


@pytest.mark.parametrize("reader", ALL_READERS)
def test_missing_file(tmp_path, reader):
    path = tmp_path / "nowhere" / "data.txt"
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    check_error(excinfo, path, None, "no such file")


@pytest.mark.parametrize("reader", ALL_READERS)
def test_folder_instead_of_file(tmp_path, reader):
    with pytest.raises(DataFormatError) as excinfo:
        reader(tmp_path)
    check_error(excinfo, tmp_path, None, "no such file")


# ---------------------------------------------------------------- BEIR qrels tsv: bad input

HEADER = "query-id\tcorpus-id\tscore\n"


@pytest.mark.parametrize(
    ("line", "count"),
    [("q1\td2", 2), ("q1\td2\t1\textra", 4), ("q1 d2 1", 1), ("q1\td2\t1\t", 4)],
)
def test_qrels_tsv_wrong_field_count(tmp_path, line, count):
    path = write(tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\n" + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 3, "expected 3 tab-separated fields", f"got {count}")


def test_qrels_tsv_wrong_field_count_on_first_line(tmp_path):
    path = write(tmp_path, "qrels/test.tsv", "query-id corpus-id score\nq1\td1\t1\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 1, "expected 3 tab-separated fields", "got 1")


@pytest.mark.parametrize("grade", ["x", "one", "", "1a"])
def test_qrels_tsv_non_numeric_grade(tmp_path, grade):
    path = write(tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\nq1\td2\t" + grade + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 3, f"relevance {grade!r} is not a number")


@pytest.mark.parametrize("grade", ["1.5", "0.1", "-2.5", "nan", "inf"])
def test_qrels_tsv_non_integer_grade(tmp_path, grade):
    path = write(tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\nq1\td2\t" + grade + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 3, f"relevance {grade!r} is not an integer grade")


@pytest.mark.parametrize("grade", ["1.5", "nan"])
def test_qrels_tsv_non_integer_grade_on_headerless_first_line(tmp_path, grade):
    """A numeric (if bad) grade on line 1 is data, not a header: it must not vanish silently."""
    path = write(tmp_path, "qrels/test.tsv", f"q1\td1\t{grade}\nq1\td2\t1\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 1, f"relevance {grade!r} is not an integer grade")


@pytest.mark.parametrize("grade", ["2147483648", "-2147483649", "99999999999"])
def test_qrels_tsv_grade_out_of_int32_range(tmp_path, grade):
    path = write(tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\nq1\td2\t" + grade + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 3, f"relevance {grade!r} is outside the int32 range")


def test_qrels_tsv_duplicate_pair(tmp_path):
    path = write(
        tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\nq1\td2\t0\nq2\td1\t1\nq1\td1\t2\n"
    )
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 5, "duplicate judgement for query 'q1', doc 'd1'", "first at line 2")


@pytest.mark.parametrize("line", ["\td1\t1", "q1\t\t1", " \td1\t1"])
def test_qrels_tsv_empty_id(tmp_path, line):
    path = write(tmp_path, "qrels/test.tsv", HEADER + "q1\td1\t1\n" + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 3, "empty query-id or corpus-id")


def test_qrels_tsv_non_utf8(tmp_path):
    path = write(tmp_path, "qrels/test.tsv", HEADER.encode() + b"q1\td\xff1\t1\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    check_error(excinfo, path, 2, "not valid UTF-8")


# ---------------------------------------------------------------- TREC qrels: bad input


@pytest.mark.parametrize(("line", "count"), [("q1 0 d2", 3), ("q1 0 d2 1 x", 5), ("q1", 1)])
def test_trec_qrels_wrong_field_count(tmp_path, line, count):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1\n" + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    check_error(excinfo, path, 2, "expected 4 fields", f"got {count}")


def test_trec_qrels_non_numeric_grade(tmp_path):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1\nq1 0 d2 rel\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    check_error(excinfo, path, 2, "relevance 'rel' is not a number")


def test_trec_qrels_non_integer_grade(tmp_path):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1.5\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    check_error(excinfo, path, 1, "relevance '1.5' is not an integer grade")


def test_trec_qrels_grade_out_of_int32_range(tmp_path):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1\nq1 0 d2 4294967296\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    check_error(excinfo, path, 2, "relevance '4294967296' is outside the int32 range")


def test_trec_qrels_duplicate_pair(tmp_path):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1\nq2 0 d1 1\nq1 1 d1 0\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    check_error(excinfo, path, 3, "duplicate judgement for query 'q1', doc 'd1'", "first at line 1")


# ---------------------------------------------------------------- TREC run: bad input

RUN_LINE = "q1 Q0 d1 1 0.5 tag\n"


@pytest.mark.parametrize(
    ("line", "count"),
    [("q1 Q0 d2 2 0.4", 5), ("q1\td2\t0.4", 3), ("q1", 1), ("  q1 Q0 d2 2 0.4\t ", 5)],
)
def test_trec_run_wrong_field_count(tmp_path, line, count):
    path = write(tmp_path, "run.txt", RUN_LINE + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    check_error(excinfo, path, 2, "expected at least 6 fields", f"got {count}")
    assert str(excinfo.value) == (
        f"{path}:2: expected at least 6 fields (qid Q0 docno rank score tag), got {count}"
    )


@pytest.mark.parametrize("score", ["abc", "0,5", "1.2.3", "--1"])
def test_trec_run_non_numeric_score(tmp_path, score):
    path = write(tmp_path, "run.txt", RUN_LINE + f"q1 Q0 d2 2 {score} tag\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    check_error(excinfo, path, 2, f"score {score!r} is not a number")


@pytest.mark.parametrize("score", ["nan", "NaN", "-nan", "NAN"])
def test_trec_run_nan_score(tmp_path, score):
    path = write(tmp_path, "run.txt", f"{RUN_LINE}q1 Q0 d2 2 0.25 tag\nq2 Q0 d1 1 {score} t\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    check_error(excinfo, path, 3, "score is NaN")


def test_trec_run_duplicate_pair(tmp_path):
    path = write(tmp_path, "run.txt", RUN_LINE + "q2 Q0 d1 1 0.9 tag\nq1 Q0 d1 2 0.1 tag\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    check_error(excinfo, path, 3, "duplicate document 'd1' for query 'q1'", "first at line 1")


def test_trec_run_non_utf8(tmp_path):
    path = write(tmp_path, "run.txt", RUN_LINE.encode() + b"q1 Q0 d\xff2 2 0.4 tag\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    check_error(excinfo, path, 2, "not valid UTF-8", "\\xff")


# ---------------------------------------------------------------- BEIR folder: bad input


def small_folder(root: Path, corpus: str | None = None) -> Path:
    folder = root / "tiny"
    write(folder, "corpus.jsonl", corpus or '{"_id": "d1", "title": "T", "text": "one"}\n')
    write(folder, "queries.jsonl", '{"_id": "q1", "text": "a"}\n{"_id": "q2", "text": "b"}\n')
    write(folder, "qrels/test.tsv", HEADER + "q2\td1\t1\n")
    write(folder, "qrels/train.tsv", HEADER + "q1\td1\t1\n")
    return folder


def test_missing_split_lists_available(tmp_path):
    folder = BeirFolder(small_folder(tmp_path))
    path = folder.path / "qrels" / "dev.tsv"
    with pytest.raises(DataFormatError) as excinfo:
        folder.qrels("dev")
    check_error(excinfo, path, None, "no qrels for split 'dev'", "available: test, train")
    with pytest.raises(DataFormatError) as excinfo:
        folder.queries("dev")
    check_error(excinfo, path, None, "available: test, train")


def test_missing_split_without_any_qrels(tmp_path):
    write(tmp_path, "corpus.jsonl", '{"_id": "d1", "text": "one"}\n')
    folder = BeirFolder(tmp_path)
    with pytest.raises(DataFormatError) as excinfo:
        folder.qrels("test")
    check_error(excinfo, tmp_path / "qrels" / "test.tsv", None, "available: none")


def test_beir_folder_not_a_folder(tmp_path):
    with pytest.raises(DataFormatError) as excinfo:
        BeirFolder(tmp_path / "absent")
    check_error(excinfo, tmp_path / "absent", None, "not a folder")
    path = write(tmp_path, "file.txt", "x")
    with pytest.raises(DataFormatError) as excinfo:
        BeirFolder(path)
    check_error(excinfo, path, None, "not a folder")


def test_beir_folder_reads_corpus_lazily(tmp_path):
    folder = BeirFolder(small_folder(tmp_path, corpus='{"_id": "d1", "text": \n'))
    assert folder.queries("test").ids == ["q2"]
    assert folder.qrels("train").to_dict() == {"q1": {"d1": 1}}
    with pytest.raises(DataFormatError) as excinfo:
        folder.corpus  # noqa: B018
    check_error(excinfo, folder.path / "corpus.jsonl", 1, "invalid JSON")


def test_beir_folder_bad_qrels_names_its_file(tmp_path):
    folder = small_folder(tmp_path)
    write(folder, "qrels/test.tsv", HEADER + "q2\td1\t1\nq2\td1\n")
    with pytest.raises(DataFormatError) as excinfo:
        BeirFolder(folder).queries("test")
    check_error(excinfo, folder / "qrels" / "test.tsv", 3, "expected 3 tab-separated fields")


# ---------------------------------------------------------------- happy paths on small files


def test_small_beir_folder(tmp_path):
    folder = BeirFolder(small_folder(tmp_path))
    assert folder.name == "tiny"
    assert folder.splits == ["test", "train"]
    assert folder.corpus.table.to_pylist() == [{"_id": "d1", "title": "T", "text": "one"}]
    assert folder.queries().to_dict() == {"q1": "a", "q2": "b"}
    assert folder.queries("train").to_dict() == {"q1": "a"}
    assert folder.qrels("test").to_dict() == {"q2": {"d1": 1}}


def test_crlf_files(tmp_path):
    corpus = write(
        tmp_path, "corpus.jsonl", '{"_id": "d1", "text": "a"}\r\n{"_id": "d2", "text": "b"}\r\n'
    )
    queries = write(tmp_path, "queries.jsonl", '{"_id": "q1", "text": "x"}\r\n')
    qrels = write(
        tmp_path, "qrels/test.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq1\td2\t0\r\n"
    )
    run = write(tmp_path, "run.txt", "q1 Q0 d1 1 0.5 t\r\nq1 Q0 d2 2 0.25 t\r\n")
    trec_qrels = write(tmp_path, "qrels.txt", "q1 0 d1 2\r\nq1 0 d2 0\r\n")

    assert read_corpus(corpus).ids == ["d1", "d2"]
    assert read_corpus(corpus).table.column("text").to_pylist() == ["a", "b"]
    assert read_queries(queries).to_dict() == {"q1": "x"}
    table = read_qrels_tsv(qrels).table
    assert table.schema.field("relevance").type == pa.int32()
    assert table.to_pylist() == [
        {"query_id": "q1", "doc_id": "d1", "relevance": 1},
        {"query_id": "q1", "doc_id": "d2", "relevance": 0},
    ]
    assert all(type(g) is int for g in table.column("relevance").to_pylist())
    assert read_trec_qrels(trec_qrels).to_dict() == {"q1": {"d1": 2, "d2": 0}}
    assert read_trec_run(run).to_dict() == {"q1": {"d1": 0.5, "d2": 0.25}}
    assert read_trec_run(run).table.column("doc_id").to_pylist() == ["d1", "d2"]


def test_crlf_last_line_without_newline(tmp_path):
    qrels = write(tmp_path, "qrels/test.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r")
    assert read_qrels_tsv(qrels).to_dict() == {"q1": {"d1": 1}}


def test_bom_is_tolerated(tmp_path):
    bom = "\ufeff"
    corpus = write(tmp_path, "corpus.jsonl", bom + '{"_id": "d1", "text": "a"}\n')
    queries = write(tmp_path, "queries.jsonl", bom + '{"_id": "q1", "text": "x"}\r\n')
    qrels = write(tmp_path, "qrels/test.tsv", bom + "q1\td1\t1\n")
    run = write(tmp_path, "run.txt", bom + "q1 Q0 d1 1 0.5 t\n")
    assert read_corpus(corpus).ids == ["d1"]
    assert read_queries(queries).to_dict() == {"q1": "x"}
    assert read_qrels_tsv(qrels).to_dict() == {"q1": {"d1": 1}}
    assert read_trec_run(run).query_ids == ["q1"]


def test_bom_after_first_line_is_not_stripped(tmp_path):
    """Only a BOM that starts the file is an encoding mark; elsewhere it is data."""
    path = write(tmp_path, "queries.jsonl", '{"_id": "q1", "text": "x"}\n\ufeff{"_id": "q2"}\n')
    with pytest.raises(DataFormatError) as excinfo:
        read_queries(path)
    check_error(excinfo, path, 2, "invalid JSON")


def test_integer_ids_become_strings(tmp_path):
    corpus = read_corpus(write(tmp_path, "corpus.jsonl", '{"_id": 4983, "text": "a"}\n'))
    queries = read_queries(write(tmp_path, "queries.jsonl", '{"_id": 0, "text": "x"}\n'))
    assert corpus.ids == ["4983"]
    assert queries.ids == ["0"]
    assert corpus.table.schema.field("_id").type == pa.string()
    assert queries.table.schema.field("_id").type == pa.string()


def test_missing_or_null_title_becomes_empty(tmp_path):
    path = write(
        tmp_path,
        "corpus.jsonl",
        '{"_id": "d1", "text": "a"}\n{"_id": "d2", "title": null, "text": "b"}\n'
        '{"_id": "d3", "title": " T ", "text": "c", "metadata": {"x": 1}}\n',
    )
    corpus = read_corpus(path)
    assert corpus.table.column("title").to_pylist() == ["", "", " T "]
    assert corpus.table.column("title").null_count == 0
    assert corpus.table.column_names == ["_id", "title", "text"]
    assert corpus.source == str(path)


def test_unicode_text_is_kept(tmp_path):
    path = write(
        tmp_path,
        "queries.jsonl",
        '{"_id": "q\\u00e9", "text": "caf\\u00e9"}\n{"_id": "q2", "text": "naïve — ✓ 😀"}\n',
    )
    assert read_queries(path).to_dict() == {"qé": "café", "q2": "naïve — ✓ 😀"}


def test_qrels_tsv_header_is_optional(tmp_path):
    with_header = write(tmp_path, "a.tsv", HEADER + "q1\td1\t1\nq1\td2\t0\n")
    without = write(tmp_path, "b.tsv", "q1\td1\t1\nq1\td2\t0\n")
    assert read_qrels_tsv(with_header) == read_qrels_tsv(without)
    assert read_qrels_tsv(without).to_dict() == {"q1": {"d1": 1, "d2": 0}}


def test_qrels_tsv_float_grade_on_headerless_first_line_is_kept(tmp_path):
    """``"1.0"`` is accepted as grade 1 — also on line 1, where it must not pass for a header."""
    path = write(tmp_path, "qrels.tsv", "q1\td1\t1.0\nq1\td2\t2\n")
    assert read_qrels_tsv(path).to_dict() == {"q1": {"d1": 1, "d2": 2}}


def test_qrels_tsv_grades(tmp_path):
    path = write(
        tmp_path,
        "qrels.tsv",
        HEADER + "q1\td1\t2\nq1\td2\t0\nq1\td3\t-1\nq1\td4\t 3 \nq1\td5\t1.0\nq1\td6\t2147483647\n",
    )
    assert read_qrels_tsv(path).to_dict() == {
        "q1": {"d1": 2, "d2": 0, "d3": -1, "d4": 3, "d5": 1, "d6": 2147483647}
    }


def test_trec_run_reading(tmp_path):
    path = write(
        tmp_path,
        "run.txt",
        "q2 Q0 a 1 1.0 x\n"
        "q1\tQ0\tb\t9\t0.5\tx\n"
        "q1  Q0  c  1  0.5  x\n"
        "q1 Q0 d 2 2 x\n"
        "q1 Q0 e 3 -1e3 x\n"
        "q10 Q0 f 1 inf x\n",
    )
    run = read_trec_run(path)
    assert run.source == str(path)
    assert run.table.to_pylist() == [
        {"query_id": "q1", "doc_id": "d", "score": 2.0, "rank": 1},
        {"query_id": "q1", "doc_id": "c", "score": 0.5, "rank": 2},
        {"query_id": "q1", "doc_id": "b", "score": 0.5, "rank": 3},
        {"query_id": "q1", "doc_id": "e", "score": -1000.0, "rank": 4},
        {"query_id": "q10", "doc_id": "f", "score": float("inf"), "rank": 1},
        {"query_id": "q2", "doc_id": "a", "score": 1.0, "rank": 1},
    ]


def test_trec_qrels_reading(tmp_path):
    path = write(tmp_path, "qrels.txt", "q1 0 d1 1\nq1 0 d2 0\n\nq2\t0\td1\t-1\nq2 0 d3 1.0\n")
    qrels = read_trec_qrels(path)
    assert qrels.to_dict() == {"q1": {"d1": 1, "d2": 0}, "q2": {"d1": -1, "d3": 1}}
    assert qrels.query_ids == ["q1", "q2"]
    assert qrels.source == str(path)


# ---------------------------------------------------------------- the real SciFact folder


def test_scifact_counts(scifact):
    assert scifact.splits == ["test", "train"]
    assert len(scifact.corpus) == 5183
    assert len(scifact.queries()) == 1109
    test = scifact.qrels("test")
    assert len(test) == 339
    assert len(test.query_ids) == 300
    queries = scifact.queries("test")
    assert len(queries) == 300
    assert sorted(queries.ids) == test.query_ids
    train = scifact.qrels("train")
    assert (len(train), len(train.query_ids)) == (919, 809)
    assert len(scifact.queries("train")) == 809


def test_scifact_content(scifact):
    corpus = scifact.corpus
    assert corpus.ids[0] == "4983"
    assert corpus.table.column("title").null_count == 0
    titles = corpus.table.column("title").to_pylist()
    assert sum(t != t.strip() for t in titles) == 18  # blanks kept as in the source (README)
    assert all(corpus.table.column("text").to_pylist())
    assert "0" in scifact.queries().ids
    assert not set(scifact.queries().ids) & set(corpus.ids)


def test_scifact_qrels_crlf(scifact, scifact_dir):
    assert b"\r\n" in (scifact_dir / "qrels" / "test.tsv").read_bytes()  # the case under test
    for split in scifact.splits:
        table = scifact.qrels(split).table
        assert table.schema.field("relevance").type == pa.int32()
        grades = table.column("relevance").to_pylist()
        assert all(type(g) is int and g == 1 for g in grades)
        ids = table.column("query_id").to_pylist() + table.column("doc_id").to_pylist()
        assert not any("\r" in i or "\n" in i or i != i.strip() for i in ids)
        assert "query-id" not in ids
    corpus_ids = set(scifact.corpus.ids)
    assert set(scifact.qrels("test").table.column("doc_id").to_pylist()) <= corpus_ids


def test_scifact_read_directly(scifact_dir):
    assert len(read_qrels_tsv(scifact_dir / "qrels" / "test.tsv")) == 339
    assert len(read_queries(scifact_dir / "queries.jsonl")) == 1109


# ---------------------------------------------------------------- TREC qrels: fast path


def test_clean_qrels_take_the_fast_path_with_the_same_result(tmp_path):
    path = tmp_path / "clean.qrels"
    path.write_text("".join(f"q{i % 7} 0 d{i} {i % 4 - 1}\n" for i in range(300)))
    fast = _read_trec_qrels_fast(path)
    assert fast is not None
    assert fast == _read_trec_qrels_lines(path) == read_trec_qrels(path)
    assert fast.table.column("relevance").type == pa.int32()


@pytest.mark.parametrize(
    "text",
    [
        "q1\t0\td1\t1\n",  # tabs
        "q1 0  d1 1\n",  # doubled space
        "# a comment\nq1 0 d1 1\n",
        "q1 0 d1 1.0\n",  # a grade the line reader takes as 1
        "q1 0 d1 +2\n",
        "\ufeffq1 0 d1 1\n",  # BOM
    ],
)
def test_other_qrels_layouts_fall_back_to_the_line_reader(tmp_path, text):
    path = tmp_path / "qrels.txt"
    path.write_text(text, encoding="utf-8")
    assert _read_trec_qrels_fast(path) is None
    assert read_trec_qrels(path) == _read_trec_qrels_lines(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 0 d1 1\nq1 0 d2 0\nq1 0 d1 2\n", r":3: duplicate .*first at line 1"),
        ("q1 0 d1 1\nq1 0 d2 99999999999\n", ":2: "),  # beyond int32
        ("q1 0 d1 1\nq1 0 d2 1e2\n", ":2: "),
        ("q1 0 d1 1\nq1 0 d2 1 x\n", ":2: "),
    ],
)
def test_qrels_the_fast_path_declines_are_errors_naming_the_line(tmp_path, text, message):
    path = tmp_path / "bad.qrels"
    path.write_text(text)
    assert _read_trec_qrels_fast(path) is None
    with pytest.raises(DataFormatError, match=message):
        read_trec_qrels(path)


# ---------------------------------------------------------------- TREC run: fast path


def test_clean_run_file_takes_the_fast_path_with_the_same_result(tmp_path):
    path = tmp_path / "clean.run"
    lines = [f'q{i % 7} Q0 "d{i}" {i} {((i * 37) % 11) / 4!r} tag\n' for i in range(300)]
    path.write_text("".join(lines))
    fast = _read_trec_run_fast(path)
    assert fast is not None
    assert fast == _read_trec_run_lines(path) == read_trec_run(path)
    crlf = tmp_path / "crlf.run"
    crlf.write_bytes("".join(lines).replace("\n", "\r\n").encode())
    assert read_trec_run(crlf) == fast


@pytest.mark.parametrize(
    "text",
    [
        "q1 Q0 d1 1 0.5 x\nq1\tQ0\td2\t2\t0.25\tx\n",  # tabs
        "q1  Q0 d1 1 0.5 x\nq1 Q0 d2 2 0.25 x\n",  # doubled space
        "\ufeffq1 Q0 d1 1 0.5 x\n",  # BOM
    ],
)
def test_other_layouts_fall_back_to_the_line_reader(tmp_path, text):
    path = tmp_path / "run.txt"
    path.write_text(text, encoding="utf-8")
    assert _read_trec_run_fast(path) is None
    run = read_trec_run(path)
    assert run.table.column("query_id").to_pylist()[0] == "q1"
    assert run == _read_trec_run_lines(path)


def test_fast_path_errors_are_reported_by_line(tmp_path):
    path = tmp_path / "dup.run"
    path.write_text("q1 Q0 d1 1 0.5 x\nq1 Q0 d2 2 0.4 x\nq1 Q0 d1 3 0.3 x\n")
    assert _read_trec_run_fast(path) is None
    with pytest.raises(DataFormatError) as info:
        read_trec_run(path)
    assert str(info.value) == f"{path}:3: duplicate document 'd1' for query 'q1' (first at line 1)"


# ---------------------------------------------------------------- numbers as trec_eval reads them
# trec_eval reads scores with C's atof and grades with atol: Python's float() extensions
# (underscores, non-ASCII digits) and forms atol would read as another number are refused.

NOT_C_NUMBERS = ["1_0", "1__0", "_1", "\u0661", "\uff11", "0x1p3", "1e", "nan(1)", "\u0131nf"]
NOT_C_NUMBERS += ["infinit", "1.0f", "1d5", "e5", "."]


@pytest.mark.parametrize("score", NOT_C_NUMBERS)
@pytest.mark.parametrize("sep", [" ", "\t"], ids=["fast-path", "line-reader"])
def test_trec_run_score_must_be_a_c_number(tmp_path, score, sep):
    path = write(tmp_path, "run.txt", RUN_LINE + sep.join(["q1", "Q0", "d2", "2", score, "t"]))
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    assert str(excinfo.value) == f"{path}:2: score {score!r} is not a number"


@pytest.mark.parametrize(
    ("score", "value"),
    [
        ("+1", 1.0),
        ("2.", 2.0),
        (".5", 0.5),
        ("-.5e-3", -0.0005),
        ("1E+2", 100.0),
        ("INF", math.inf),
        ("-Infinity", -math.inf),
        ("1e999", math.inf),
        ("-0", 0.0),
    ],
)
@pytest.mark.parametrize("sep", [" ", "\t"], ids=["fast-path", "line-reader"])
def test_trec_run_c_number_forms(tmp_path, score, value, sep):
    path = write(tmp_path, "run.txt", sep.join(["q1", "Q0", "d1", "1", score, "t"]) + "\n")
    assert read_trec_run(path).to_dict() == {"q1": {"d1": value}}


@pytest.mark.parametrize("grade", ["1_0", "\uff11", "0x1", "1e", "--1", "\u0661"])
def test_grade_must_be_a_c_number(tmp_path, grade):
    trec = write(tmp_path, "qrels.txt", f"q1 0 d1 1\nq1 0 d2 {grade}\n")
    tsv = write(tmp_path, "qrels/test.tsv", f"{HEADER}q1\td1\t1\nq1\td2\t{grade}\n")
    for path, line, reader in [(trec, 2, read_trec_qrels), (tsv, 3, read_qrels_tsv)]:
        with pytest.raises(DataFormatError) as excinfo:
            reader(path)
        assert str(excinfo.value) == f"{path}:{line}: relevance {grade!r} is not a number"


@pytest.mark.parametrize("grade", ["1e2", "1E0", "2.0e1"])
def test_grade_with_an_exponent_is_refused(tmp_path, grade):
    """atol reads ``1e2`` as 1, float() as 100: neither is taken silently."""
    path = write(tmp_path, "qrels.txt", f"q1 0 d1 {grade}\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    assert str(excinfo.value) == (
        f"{path}:1: relevance {grade!r} has an exponent: write the grade as a plain integer "
        "(trec_eval reads grades with atol)"
    )


@pytest.mark.parametrize(
    ("grade", "value"), [("+1", 1), ("2.", 2), ("-0", 0), ("007", 7), ("3.000", 3), ("-1", -1)]
)
def test_grade_integer_forms(tmp_path, grade, value):
    trec = write(tmp_path, "qrels.txt", f"q1 0 d1 {grade}\n")
    tsv = write(tmp_path, "qrels.tsv", f"q1\td1\t{grade}\n")
    assert read_trec_qrels(trec).to_dict() == {"q1": {"d1": value}}
    assert read_qrels_tsv(tsv).to_dict() == {"q1": {"d1": value}}


def test_grade_with_many_digits_is_out_of_range_not_a_crash(tmp_path):
    grade = "9" * 5000  # beyond Python's int() digit limit
    path = write(tmp_path, "qrels.txt", f"q1 0 d1 {grade}\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    assert str(excinfo.value).endswith(f"relevance {grade!r} is outside the int32 range")


# ---------------------------------------------------------------- BEIR qrels: what a header is


@pytest.mark.parametrize(
    ("first", "grade"),
    [
        ("q1\td1\tx", "x"),
        ("foo\tbar\tscore", "score"),
        ("query-id\tcorpus-id\t1_0", "1_0"),
        ("query-id\tdocument\tscore", "score"),
        ("q\td\trelevance", "relevance"),
    ],
)
def test_qrels_tsv_first_line_with_bad_grade_is_not_a_header(tmp_path, first, grade):
    path = write(tmp_path, "qrels/test.tsv", f"{first}\nq1\td2\t1\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    assert str(excinfo.value) == f"{path}:1: relevance {grade!r} is not a number"


@pytest.mark.parametrize(
    "header",
    [
        "query-id\tcorpus-id\tscore",
        "query_id\tdoc_id\trelevance",
        "qid\tdocid\tscore",
        "Query-ID\tCorpus-ID\tScore",
        "query_id\tcorpus_id\tscore",
        "qid\tdoc-id\trelevance",
    ],
)
def test_qrels_tsv_header_names(tmp_path, header):
    path = write(tmp_path, "qrels/test.tsv", f"{header}\nq1\td2\t1\n")
    assert read_qrels_tsv(path).to_dict() == {"q1": {"d2": 1}}


# ---------------------------------------------------------------- ids: no whitespace anywhere

WS_IDS = ["d 1", "d\\t1", "d\\n1", "d\\u00a01", "d\\u20281", "d\\u30001", "d\\u001c1", " d1"]


@pytest.mark.parametrize("reader", JSONL_READERS)
@pytest.mark.parametrize("raw", WS_IDS)
def test_jsonl_id_with_whitespace(tmp_path, reader, raw):
    path = write(tmp_path, "data.jsonl", '{"_id": "ok", "text": "a"}\n{"_id": "' + raw + '"}\n')
    value = json.loads(f'"{raw}"')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    assert str(excinfo.value) == (
        f"{path}:2: '_id' {value!r} contains whitespace (ids may not: TREC files split on it)"
    )


@pytest.mark.parametrize(
    ("line", "what", "value"),
    [
        ("q 1\td1\t1", "query-id", "q 1"),
        ("q1\td\u00a01\t1", "corpus-id", "d\u00a01"),
        ("q1\td\u20031\t1", "corpus-id", "d\u20031"),
        ("q1\td\x0b1\t1", "corpus-id", "d\x0b1"),
    ],
)
def test_qrels_tsv_id_with_whitespace(tmp_path, line, what, value):
    path = write(tmp_path, "qrels/test.tsv", f"{HEADER}{line}\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_qrels_tsv(path)
    assert str(excinfo.value) == (
        f"{path}:2: {what} {value!r} contains whitespace (ids may not: TREC files split on it)"
    )


@pytest.mark.parametrize("sep", [" ", "\t"], ids=["fast-path", "line-reader"])
@pytest.mark.parametrize(
    ("qid", "docno"), [("q1", "d\u00a01"), ("q\u30001", "d1"), ("q1", "d\x1c1"), ("q1", "d\x851")]
)
def test_trec_ids_with_unicode_whitespace(tmp_path, sep, qid, docno):
    """trec_eval splits fields on C whitespace only; other blanks would stay inside an id."""
    run = write(tmp_path, "run.txt", RUN_LINE + sep.join([qid, "Q0", docno, "2", "0.1", "t"]))
    qrels = write(tmp_path, "qrels.txt", "q1 0 d1 1\n" + sep.join([qid, "0", docno, "1"]))
    what, value = ("query id", qid) if qid != "q1" else ("docno", docno)
    for path, reader in [(run, read_trec_run), (qrels, read_trec_qrels)]:
        with pytest.raises(DataFormatError) as excinfo:
            reader(path)
        assert str(excinfo.value) == (
            f"{path}:2: {what} {value!r} contains whitespace (ids may not: TREC files split on it)"
        )


def test_trec_fields_split_on_c_whitespace_only(tmp_path):
    """\\v and \\f separate fields (C isspace); trec_eval reads this line as 6 fields."""
    path = write(tmp_path, "run.txt", "q1\x0bQ0\x0cd1 1 0.5\x0bt\n")
    assert read_trec_run(path).to_dict() == {"q1": {"d1": 0.5}}


@pytest.mark.parametrize(
    ("cls", "columns"),
    [(Run, {"score": [1.0, 2.0]}), (Qrels, {"relevance": pa.array([1, 0], pa.int32())})],
)
@pytest.mark.parametrize("column", ["query_id", "doc_id"])
def test_parquet_ids_with_whitespace(tmp_path, cls, columns, column):
    ids = {"query_id": ["q1", "q1"], "doc_id": ["d1", "d2"]}
    ids[column] = [ids[column][0], "x\ty"]
    path = tmp_path / "table.parquet"
    pq.write_table(pa.table({**ids, **columns}), path)
    with pytest.raises(DataFormatError) as excinfo:
        cls.from_parquet(path)
    assert str(excinfo.value) == (
        f"{path}: row 2: {column} 'x\\ty' contains whitespace (ids may not: TREC files split on it)"
    )


def test_parquet_run_without_whitespace_still_reads(tmp_path, scifact_tfidf_run):
    path = tmp_path / "run.parquet"
    scifact_tfidf_run.to_parquet(path)
    assert Run.from_parquet(path) == scifact_tfidf_run


# ---------------------------------------------------------------- JSON that json.loads cannot take


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_deeply_nested_json_line(tmp_path, reader):
    line = '{"_id": "d", "text": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path = write(tmp_path, "data.jsonl", '{"_id": "a", "text": "x"}\n' + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    assert str(excinfo.value) == f"{path}:2: invalid JSON (nested too deeply)"


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_json_integer_beyond_the_digit_limit(tmp_path, reader):
    path = write(tmp_path, "data.jsonl", '{"_id": ' + "1" * 5000 + ', "text": "x"}\n')
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    assert str(excinfo.value) == (
        f"{path}:1: invalid JSON (Exceeds the limit (4300 digits) for integer string conversion)"
    )


@pytest.mark.parametrize("reader", JSONL_READERS)
def test_json_unpaired_surrogate(tmp_path, reader):
    path = write(
        tmp_path, "data.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "\\ud800"}\n'
    )
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    assert (
        str(excinfo.value)
        == f"{path}:2: 'text' is not valid Unicode (unpaired surrogate '\\ud800')"
    )


def test_writing_ids_with_whitespace_is_refused(tmp_path):
    """A TREC file could not carry them: the writers refuse instead of writing a file that
    no reader (trec_eval included) reads back as written."""
    run = Run.from_dict({"q1": {"d 1": 0.5, "d2": 0.25}})
    path = tmp_path / "run.txt"
    with pytest.raises(DataFormatError) as excinfo:
        write_trec_run(run, path)
    assert str(excinfo.value) == (
        f"{path}: row 1: doc_id 'd 1' contains whitespace (ids may not: TREC files split on it)"
    )
    assert not path.exists()
    qrels = Qrels.from_dict({"q\u00a01": {"d1": 1}})
    with pytest.raises(DataFormatError) as excinfo:
        write_trec_qrels(qrels, path)
    assert str(excinfo.value) == (
        f"{path}: row 1: query_id 'q\\xa01' contains whitespace "
        "(ids may not: TREC files split on it)"
    )


# ---------------------------------------------------------------- TREC: trec_eval's line rules
# get_trec_results.c: leading whitespace is skipped, then a blank line or a line starting
# with '#' is ignored; fields after the run tag are ignored ("Lines may contain fields after
# the run_id; they are ignored", formats.c). get_qrels.c: exactly 4 fields.

CLEAN_RUN = "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.25 t\nq2 Q0 d1 1 3 t\n"
CLEAN_DICT = {"q1": {"d1": 0.5, "d2": 0.25}, "q2": {"d1": 3.0}}


def trec_eval_reference(text: str) -> dict[str, dict[str, float]]:
    """The run as trec_eval's get_trec_results.c reads it (for files it accepts; a leading
    byte order mark, which rankarena drops, is dropped first)."""
    out: dict[str, dict[str, float]] = {}
    for line in text.removeprefix("\ufeff").split("\n"):
        body = line.lstrip(" \t\v\f\r")
        if not body or body.startswith("#"):
            continue
        fields = body.split()
        out.setdefault(fields[0], {})[fields[2]] = float(fields[4])
    return out


def read_both_ways(path: Path) -> Run:
    """The run through ``read_trec_run``; the line reader agrees, and so does the fast path
    when it takes the file."""
    run = read_trec_run(path)
    assert _read_trec_run_lines(path) == run
    fast = _read_trec_run_fast(path)
    assert fast is None or fast == run
    return run


@pytest.mark.parametrize(
    "text",
    [
        "q1 Q0 d1 1 0.5 t extra\nq1 Q0 d2 2 0.25 t\nq2 Q0 d1 1 3 t more fields 1 2 3\n",
        "q1 Q0 d1 1 0.5 t\tx\nq1 Q0 d2 2 0.25 t  \nq2 Q0 d1 1 3 t not-a-number nan\n",
        "q1 Q0 d1 1 0.5 t # a trailing remark\nq1 Q0 d2 2 0.25 t\nq2 Q0 d1 1 3 t #\n",
        "q1\tQ0\td1\t1\t0.5\tt\textra\nq1\tQ0\td2\t2\t0.25\tt\nq2 Q0 d1 1 3 t\n",
    ],
    ids=["words", "tab-and-junk", "hash-after-tag", "tabs"],
)
def test_trec_run_fields_after_the_tag_are_ignored(tmp_path, text):
    path = write(tmp_path, "run.txt", text)
    assert _read_trec_run_fast(path) is None  # not the clean layout: the line reader decides
    assert read_both_ways(path).to_dict() == CLEAN_DICT == trec_eval_reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "# run by rankarena\n" + CLEAN_RUN,
        "#\n" + CLEAN_RUN + "# end, no newline",
        "q1 Q0 d1 1 0.5 t\n   # indented\nq1 Q0 d2 2 0.25 t\n\t#tab-indented\nq2 Q0 d1 1 3 t\n",
        "q1 Q0 d1 1 0.5 t\n#q9 Q0 d9 9 9.5 t\nq1 Q0 d2 2 0.25 t\nq2 Q0 d1 1 3 t\n",
        "# Q0 d1 1 0.5 t\n" + CLEAN_RUN,  # 6 fields with a number: a comment all the same
        "\ufeff# after a BOM\n" + CLEAN_RUN,
        "\r\n# crlf\r\n" + CLEAN_RUN.replace("\n", "\r\n"),
        "\x0b\x0c# vertical tab and form feed are C whitespace\n" + CLEAN_RUN,
    ],
    ids=["header", "bare-and-last", "indented", "run-line", "six-fields", "bom", "crlf", "vt-ff"],
)
def test_trec_run_comment_lines_are_skipped(tmp_path, text):
    path = write(tmp_path, "run.txt", text)
    assert _read_trec_run_fast(path) is None
    assert read_both_ways(path).to_dict() == CLEAN_DICT == trec_eval_reference(text)


def test_trec_run_comment_may_hold_any_bytes(tmp_path):
    path = write(tmp_path, "run.txt", b"# caf\xe9 (latin-1)\n  #\xff\xfe\n" + CLEAN_RUN.encode())
    assert read_both_ways(path).to_dict() == CLEAN_DICT


def test_trec_hash_inside_a_field_is_data(tmp_path):
    """Only a line's first non-blank character makes a comment: '#' elsewhere is data."""
    path = write(tmp_path, "run.txt", "q1 Q0 d#1 1 0.5 #tag\nq#2 Q0 d1 1 2 t\n")
    assert read_both_ways(path).to_dict() == {"q#2": {"d1": 2.0}, "q1": {"d#1": 0.5}}
    qrels = write(tmp_path, "qrels.txt", "q1 0 d#1 1\nq#2 #0 d1 2\n")
    assert read_trec_qrels(qrels).to_dict() == {"q1": {"d#1": 1}, "q#2": {"d1": 2}}


def test_trec_errors_after_comments_name_the_file_line(tmp_path):
    path = write(tmp_path, "run.txt", "# one\n\n  # three\nq1 Q0 d1 1 0.5 t\nq1 Q0 d2 x 0.4\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    assert str(excinfo.value) == (
        f"{path}:5: expected at least 6 fields (qid Q0 docno rank score tag), got 5"
    )
    path = write(tmp_path, "run2.txt", "# c\nq1 Q0 d1 1 0.5 t x\n# c\nq1 Q0 d1 2 nan t y\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    assert str(excinfo.value) == f"{path}:4: score is NaN"
    path = write(tmp_path, "run3.txt", "# c\nq1 Q0 d1 1 0.5 t x\n# c\nq1 Q0 d1 2 0.4 t y\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    assert (
        str(excinfo.value) == f"{path}:4: duplicate document 'd1' for query 'q1' (first at line 2)"
    )
    path = write(tmp_path, "run4.txt", "#\nq1 Q0 d1 1 0,5 t x y\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_run(path)
    assert str(excinfo.value) == f"{path}:2: score '0,5' is not a number"


@pytest.mark.parametrize("reader", [read_trec_run, read_trec_qrels])
@pytest.mark.parametrize("content", ["# only a comment\n", "\n# a\n   # b\n\n", "#"])
def test_trec_file_of_only_comments_is_empty(tmp_path, reader, content):
    path = write(tmp_path, "data.txt", content)
    with pytest.raises(DataFormatError) as excinfo:
        reader(path)
    assert str(excinfo.value) == f"{path}: file is empty (nothing but # comment lines)"


def test_trec_qrels_negative_grades_and_comments(tmp_path):
    path = write(
        tmp_path,
        "qrels.txt",
        "# TREC qrels: -1 = in the pool, not judged\n"
        "q1 0 d1 2\n"
        "q1 0 d2 -1\n"
        "   # an indented comment\n"
        "#q1 0 d9 1\n"
        "q1\t0\td3\t0\n"
        "q2 0 d1 -1\n"
        "q2 0 d4 -2\n",
    )
    qrels = read_trec_qrels(path)
    assert qrels.to_dict() == {"q1": {"d1": 2, "d2": -1, "d3": 0}, "q2": {"d1": -1, "d4": -2}}
    assert qrels.query_ids == ["q1", "q2"]  # a query judged only -1 is kept (trec_eval's too)
    again = tmp_path / "again.txt"
    write_trec_qrels(qrels, again)
    assert read_trec_qrels(again) == qrels


def test_every_qrels_reader_keeps_negative_grades_alike(tmp_path):
    expected = {"q1": {"d1": 1, "d2": -1}, "q2": {"d3": -1}}
    trec = write(tmp_path, "qrels.txt", "q1 0 d1 1\nq1 0 d2 -1\nq2 0 d3 -1\n")
    tsv = write(tmp_path, "qrels.tsv", HEADER + "q1\td1\t1\nq1\td2\t-1\nq2\td3\t-1\n")
    parquet = tmp_path / "qrels.parquet"
    Qrels.from_dict(expected).to_parquet(parquet)
    tables = [read_trec_qrels(trec), read_qrels_tsv(tsv), Qrels.from_parquet(parquet)]
    for qrels in [*tables, Qrels.from_dict(expected)]:
        assert qrels.to_dict() == expected
    assert tables[0].table.equals(tables[1].table)


@pytest.mark.parametrize(
    ("line", "count"),
    [("q1 0 d2 1 # a remark", 7), ("q1 0 d2 1 extra", 5), ("  q1 0 d2", 3)],
)
def test_trec_qrels_takes_no_trailing_fields(tmp_path, line, count):
    """get_qrels.c refuses anything after the grade (unlike run files)."""
    path = write(tmp_path, "qrels.txt", "# c\nq1 0 d1 1\n" + line + "\n")
    with pytest.raises(DataFormatError) as excinfo:
        read_trec_qrels(path)
    assert str(excinfo.value) == (
        f"{path}:3: expected 4 fields (qid iter docno grade), got {count}"
    )


def test_clean_six_field_file_still_takes_the_fast_path(tmp_path):
    path = write(tmp_path, "run.txt", CLEAN_RUN)
    fast = _read_trec_run_fast(path)
    assert fast is not None and fast.to_dict() == CLEAN_DICT
    assert fast == _read_trec_run_lines(path)


def test_writers_refuse_what_would_read_back_as_a_comment(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(DataFormatError) as excinfo:
        write_trec_run(Run.from_dict({"q1": {"d1": 1.0}, "#q2": {"d1": 1.0}}), path)
    assert str(excinfo.value) == (
        f"{path}: row 1: query_id '#q2' starts with '#' (the line would read back as a TREC "
        "comment)"
    )
    with pytest.raises(DataFormatError) as excinfo:
        write_trec_qrels(Qrels.from_dict({"q1": {"d1": 1}, "#2": {"d1": 1}}), path)
    assert "query_id '#2' starts with '#'" in str(excinfo.value)
    assert not path.exists()
    # a '#' anywhere else is data, and reads back
    run = Run.from_dict({"q#1": {"#d": 1.0, "d2": 0.5}})
    write_trec_run(run, path, tag="#tag")
    assert read_trec_run(path) == run


@pytest.mark.parametrize("tag", ["", "two words", "tab\tbed"])
def test_write_trec_run_refuses_a_tag_that_is_not_one_field(tmp_path, tag):
    path = tmp_path / "out.txt"
    with pytest.raises(ParameterError, match="run tag"):
        write_trec_run(Run.from_dict({"q1": {"d1": 1.0}}), path, tag=tag)
    assert not path.exists()


LINE_PARTS = st.sampled_from(["q1", "q2", "q10", "Q0", "d1", "d2", "d3", "1", "0.5", "-2", "t"])
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", "\t", " \t"])


@st.composite
def run_texts(draw) -> str:
    """Run files of clean lines, lines with trailing fields, comments and blank lines,
    with any separators; no (query, doc) twice."""
    lines, seen = [], set()
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["line", "line", "line", "trailing", "comment", "blank"]))
        sep = draw(SEPARATORS)
        if kind == "comment":
            lead = draw(st.sampled_from(["", " ", "\t"]))
            words = draw(st.lists(LINE_PARTS, max_size=7))
            lines.append(lead + "#" + sep.join(words))
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t "])))
        else:
            qid, docno = (
                draw(st.sampled_from(["q1", "q2", "q10"])),
                draw(st.sampled_from(["d1", "d2", "d3"])),
            )
            if (qid, docno) in seen:
                continue
            seen.add((qid, docno))
            score = draw(st.sampled_from(["0.5", "1", "-2", "1e3", "3.25"]))
            fields = [qid, "Q0", docno, "1", score, "t"]
            if kind == "trailing":
                fields += draw(st.lists(LINE_PARTS | st.just("#x"), min_size=1, max_size=3))
            lines.append(sep.join(fields))
    if not seen:
        lines.append("q1 Q0 d1 1 0.5 t")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=run_texts())
def test_trec_run_reads_as_trec_eval_whatever_the_layout(tmp_path, text):
    """The fast path and the line reader agree with each other and with trec_eval's rules
    (comments, trailing fields, any whitespace)."""
    path = write(tmp_path, "run.txt", text)
    assert read_both_ways(path).to_dict() == trec_eval_reference(text)
