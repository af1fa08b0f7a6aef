"""Fuzzing the readers: random bytes, truncations and byte mutations of real SciFact files
(the first lines of corpus.jsonl, queries.jsonl, qrels/test.tsv), of a TREC run and of a
score table. Every reader either returns or raises a ``RankarenaError`` with a one-line
message; the CLI (``eval``, ``aggregate``) exits 0 or 2, and on 2 prints exactly one line
``rankarena: error: ...`` and never a traceback.

The number syntax is checked against C itself: a score the readers accept is one that
``strtod`` reads whole, to the same value, and a grade they accept is what ``atol`` reads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena.cli.main import main
from rankarena.data import (
    read_corpus,
    read_qrels_tsv,
    read_queries,
    read_trec_qrels,
    read_trec_run,
)
from rankarena.data.jsonl import parse_grade, parse_score
from rankarena.data.trec import (
    _read_trec_qrels_fast,
    _read_trec_qrels_lines,
    _read_trec_run_fast,
    _read_trec_run_lines,
)
from rankarena.errors import DataFormatError, RankarenaError
from rankarena.leaderboard.score_sources import read_scores

SEED_LINES = 50
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SCORES_CSV = (
    b"system,task,score,task_type\n"
    b"bm25,scifact,0.665,Retrieval\nbm25,fiqa,0.236,Retrieval\nbm25,stsb,,STS\n"
    b"dense,scifact,0.643,Retrieval\ndense,fiqa,0.31,Retrieval\ndense,stsb,0.8,STS\n"
    b'"e5, large",scifact,0.72,Retrieval\n"e5, large",fiqa,0.4,Retrieval\n'
)
# bytes that matter to the formats: separators, comments, quotes, brackets, escapes, number
# parts
INTERESTING = list(b'\t \n\r\x00\x0b#\\"{}[],:_.-+eE09\xff\xc3\xa0\xef\xbb\xbf')


def _head(path: Path, lines: int = SEED_LINES) -> bytes:
    with open(path, "rb") as handle:
        return b"".join(line for _, line in zip(range(lines), handle, strict=False))


@pytest.fixture(scope="module")
def seeds(scifact_dir) -> dict[str, bytes]:
    """The first lines of the real SciFact files, and a small TREC run on their ids."""
    qrels = _head(scifact_dir / "qrels" / "test.tsv")
    pairs = [line.split(b"\t")[:2] for line in qrels.splitlines()[1:]]
    run = b"".join(
        b"%s Q0 %s %d %r rankarena\n" % (q, d, rank, 1.0 / rank)
        for rank, (q, d) in enumerate(pairs, start=1)
    )
    return {
        "corpus.jsonl": _head(scifact_dir / "corpus.jsonl"),
        "queries.jsonl": _head(scifact_dir / "queries.jsonl"),
        "qrels/test.tsv": qrels,
        "run.txt": run,
        "trec.qrels": b"".join(b"%s 0 %s 1\n" % (q, d) for q, d in pairs),
        "scores.csv": SCORES_CSV,
    }


@pytest.fixture(scope="module")
def dataset(seeds, tmp_path_factory) -> Path:
    """A tiny BEIR folder of the seed files (the fuzzed file replaces one of them)."""
    folder = tmp_path_factory.mktemp("fuzz") / "scifact-head"
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(seeds[name])
    return folder


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """Random bytes, a truncation, or up to 8 byte replacements, insertions and deletions."""
    kind = draw(st.sampled_from(["random", "truncate", "mutate", "mutate", "mutate"]))
    if kind == "random":
        return draw(st.binary(max_size=400))
    if kind == "truncate":
        return seed[: draw(st.integers(0, len(seed)))]
    data = bytearray(seed)
    byte = st.one_of(st.sampled_from(INTERESTING), st.integers(0, 255))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        if op == "insert" or not data:
            data[at:at] = bytes([draw(byte)]) * draw(st.integers(1, 3))
        elif op == "replace":
            data[at] = draw(byte)
        else:
            del data[at : at + draw(st.integers(1, 4))]
    return bytes(data)


def check_reader(reader: Callable, path: Path) -> None:
    """``reader(path)`` returns, or raises a RankarenaError with a one-line message."""
    try:
        reader(path)
    except RankarenaError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc), str(exc)


def check_cli(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    """The command exits 0 or 2; on 2 stderr is one line ``rankarena: error: ...``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.startswith("rankarena: error: ") and err.count("\n") == 1, err


# ---------------------------------------------------------------- the reader functions

READERS = {
    "corpus.jsonl": read_corpus,
    "queries.jsonl": read_queries,
    "qrels/test.tsv": read_qrels_tsv,
    "run.txt": read_trec_run,
    "trec.qrels": read_trec_qrels,
    "scores.csv": read_scores,
}


@pytest.mark.parametrize("name", list(READERS))
def test_reader_returns_or_raises_rankarena_error(name, seeds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("reader")
    path = folder / Path(name).name

    @FUZZ
    @given(data=mutated(seeds[name]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        check_reader(READERS[name], path)

    run()


@pytest.mark.parametrize("name", list(READERS))
def test_seed_files_read(name, seeds, tmp_path):
    """The unmutated seeds are valid: the fuzzing starts from files that read."""
    path = tmp_path / Path(name).name
    path.write_bytes(seeds[name])
    assert READERS[name](path) is not None


def test_fast_path_never_disagrees_with_the_line_reader(seeds, tmp_path_factory):
    """On any mutation of a run file (a '#' or a separator inserted, a field lost or
    added), the fast path either declines or reads what the line reader reads."""
    path = tmp_path_factory.mktemp("fast") / "run.txt"

    @FUZZ
    @given(data=mutated(seeds["run.txt"]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        fast = _read_trec_run_fast(path)
        if fast is not None:
            assert _read_trec_run_lines(path) == fast

    run()


def test_qrels_fast_path_never_disagrees_with_the_line_reader(seeds, tmp_path_factory):
    """On any mutation of a TREC qrels file, the qrels fast path either declines or reads
    what the line reader reads."""
    path = tmp_path_factory.mktemp("fast-qrels") / "trec.qrels"

    @FUZZ
    @given(data=mutated(seeds["trec.qrels"]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        fast = _read_trec_qrels_fast(path)
        if fast is not None:
            assert _read_trec_qrels_lines(path) == fast

    run()


def test_blocks_never_disagree_with_the_whole_reader(seeds, tmp_path_factory, monkeypatch):
    """On any mutation of a run file, reading it in blocks of whole queries (small Arrow
    batches, so that the fast path and the line reader share the file) gives the run read
    whole, or an error: the whole reader's, or one a block reader alone may raise (a query
    out of place, a query larger than a block)."""
    import pyarrow as pa

    from rankarena.data import Run, run_blocks

    monkeypatch.setattr(run_blocks, "READ_BLOCK_BYTES", 256)
    path = tmp_path_factory.mktemp("blocks") / "run.txt"

    @FUZZ
    @given(data=mutated(seeds["run.txt"]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        try:
            whole = read_trec_run(path)
        except DataFormatError:
            whole = None
        try:
            blocks = list(run_blocks.read_trec_run_blocks(path, 5))
        except DataFormatError as error:
            assert whole is None or "appears again" in str(error) or "more than 5" in str(error)
            return
        assert whole is not None
        columns = ["query_id", "doc_id", "score"]
        table = pa.concat_tables([block.table.select(columns) for block in blocks])
        assert Run(table) == whole

    run()


# ---------------------------------------------------------------- the CLI


@pytest.mark.parametrize("name", ["run.txt", "qrels/test.tsv"])
def test_cli_eval_exits_0_or_2_with_one_line(name, seeds, dataset, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("eval")
    data_dir = folder / "data"
    shutil.copytree(dataset, data_dir)
    run_file = folder / "run.txt"
    run_file.write_bytes(seeds["run.txt"])
    target = run_file if name == "run.txt" else data_dir / name
    argv = ["eval", "--dataset", str(data_dir), "--run", str(run_file), "--metrics", "ndcg@10"]

    @FUZZ
    @given(data=mutated(seeds[name]))
    def run(data: bytes) -> None:
        target.write_bytes(data)
        check_cli(argv, capsys)

    run()


def test_cli_aggregate_exits_0_or_2_with_one_line(seeds, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("aggregate") / "scores.csv"

    @FUZZ
    @given(data=mutated(seeds["scores.csv"]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        check_cli(["aggregate", str(path)], capsys)

    run()


# ---------------------------------------------------------------- numbers, against C itself

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_LIBC.strtod.restype = ctypes.c_double
_LIBC.strtod.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
_LIBC.atol.restype = ctypes.c_long
_LIBC.atol.argtypes = [ctypes.c_char_p]
NUMBER_TEXT = st.text(alphabet="0123456789+-.eEinfatyINFATY_x \u0661\uff11", max_size=12)


def strtod_whole(text: str) -> float | None:
    """C's ``strtod`` of ``text`` if it reads all of it, else None."""
    raw = text.encode("utf-8")
    end = ctypes.c_char_p()
    buffer = ctypes.create_string_buffer(raw)
    value = _LIBC.strtod(buffer, ctypes.byref(end))
    consumed = ctypes.cast(end, ctypes.c_void_p).value - ctypes.addressof(buffer)
    return value if raw and consumed == len(raw) else None


@settings(max_examples=400, deadline=None)
@given(text=NUMBER_TEXT)
def test_scores_are_what_strtod_reads(text):
    try:
        ours = parse_score(text, "f", 1)
    except DataFormatError:
        ours = None
    theirs = strtod_whole(text)
    if ours is not None:  # accepted: C reads the whole field, to the same value
        assert theirs is not None
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))
    elif theirs is not None:  # refused although C reads it: only hex or leading blanks
        assert text[:1] == " " or "x" in text.lower(), text


@settings(max_examples=400, deadline=None)
@given(text=NUMBER_TEXT)
def test_grades_are_what_atol_reads(text):
    try:
        ours = parse_grade(text, "f", 1)
    except DataFormatError:
        return
    assert ours == _LIBC.atol(text.encode("utf-8"))
    assert strtod_whole(text) == ours  # and no part of the field is ignored


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=NUMBER_TEXT.filter(lambda t: t and not any(c in t for c in " \t")))
def test_fast_path_takes_no_score_the_line_reader_refuses(text, tmp_path):
    """Arrow's float parser (the fast path) accepts no more than the C syntax, to the same
    value: a file it takes reads the same through the line reader."""
    path = tmp_path / "run.txt"
    path.write_text(f"q1 Q0 d1 1 {text} t\nq1 Q0 d2 2 0.5 t\n", encoding="utf-8")
    fast = _read_trec_run_fast(path)
    if fast is not None:
        assert _read_trec_run_lines(path) == fast
