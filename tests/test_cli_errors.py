"""One line, always: a foreseeable failure of ``rankarena`` is one ``rankarena: error: ...``
line on stderr and exit status 2 (``rankarena.cli.error_lines``); ``--debug`` and
``RANKARENA_DEBUG=1`` show the traceback; a bug keeps its traceback.

First ``error_line`` on real exceptions of every foreseeable class, then the command on
unwritable destinations (a read-only folder, a path through a file, a full disk), bad
counts, memory refusals and interruptions.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rankarena.data.atomic as atomic
from rankarena import Results
from rankarena.cli.error_lines import error_line
from rankarena.cli.main import main
from rankarena.data import Run, atomic_path, atomic_write, write_beir, write_trec_run
from rankarena.errors import DataFormatError, RankarenaError

REFUSALS = "|".join(
    re.escape(os.strerror(code)) for code in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT)
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def read_only(tmp_path) -> Path:
    """A folder where creating a file fails: chmod 0o555 for a user; as root, for whom
    chmod stops nothing, /sys or /proc (read-only even for root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    for folder in (Path("/sys"), Path("/proc")):
        probe = folder / f"rankarena-probe-{os.getpid()}"
        try:
            probe.open("w").close()
        except OSError:
            yield folder
            return
        probe.unlink()
    pytest.skip("no folder here refuses writes to root")


@pytest.fixture
def a_file(tmp_path) -> Path:
    """``existing.run``: a file, given below as if it were a folder."""
    path = tmp_path / "existing.run"
    path.write_text("1 Q0 d 1 1.0 x\n")
    return path


@pytest.fixture(scope="module")
def tiny(scifact_subset, tmp_path_factory) -> Path:
    """A BEIR folder: 20 SciFact test queries, their judged abstracts and 100 others."""
    corpus, queries, qrels = scifact_subset(20, 100, split="test")
    return write_beir(tmp_path_factory.mktemp("tiny"), corpus, queries, {"test": qrels})


@pytest.fixture(scope="module")
def run_file(tiny, tmp_path_factory) -> Path:
    """A TREC run on ``tiny``: every judged document of each query, score 1."""
    from rankarena.data import BeirFolder

    rows = BeirFolder(tiny).qrels("test").table.to_pylist()
    run = Run.from_arrays(
        [r["query_id"] for r in rows], [r["doc_id"] for r in rows], [1.0] * len(rows)
    )
    path = tmp_path_factory.mktemp("run") / "judged.run"
    write_trec_run(run, path)
    return path


@pytest.fixture
def scores_csv(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "scores.csv"
    lines = ["system,task,score"]
    lines += [f"s{i},t{k},{rng.random():.4f}" for i in range(6) for k in range(4)]
    path.write_text("\n".join(lines) + "\n")
    return path


def full_disk_parquet(monkeypatch) -> None:
    """``pq.write_table`` fails as pyarrow does on a full disk, after writing a little."""
    real = pq.write_table

    def write_table(table, where, *args, **kwargs):
        real(table.slice(0, 0), where)
        raise OSError(
            errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device"
        )

    monkeypatch.setattr(pq, "write_table", write_table)


class _FullDisk(io.FileIO):
    """A file whose bytes never reach the disk: writing fails as on a full disk."""

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk_text(monkeypatch) -> None:
    """Files opened by ``atomic_write`` (TREC runs, CSV, JSONL) sit on a full disk: writes
    are buffered, then the flush fails with an OSError that names no file, as Python's do."""

    def full(file, mode="r", encoding=None, newline=None, **kwargs):
        buffered = io.BufferedWriter(_FullDisk(file, "w"))
        if "b" in mode:
            return buffered
        return io.TextIOWrapper(buffered, encoding=encoding, newline=newline)

    monkeypatch.setattr(atomic, "open", full, raising=False)


def one_error(capsys) -> str:
    """The stderr of the command: exactly one line; returns it without the prefix."""
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error: ") and err.count("\n") == 1, err
    return err.removeprefix("rankarena: error: ").rstrip("\n")


def refused(target: Path) -> re.Pattern:
    return re.compile(rf"cannot write {re.escape(str(target))}: ({REFUSALS})")


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def next_part(store: Path) -> Path:
    """The part file the next append to a results store writes."""
    last = max(int(part.name.split("-")[1].split(".")[0]) for part in store.iterdir())
    return store / f"{last + 1:012d}-{last + 1:012d}.parquet"


def snapshot(store: Path) -> dict[str, bytes]:
    """The bytes of every part of a results store."""
    return {part.name: part.read_bytes() for part in sorted(store.iterdir())}


# ------------------------------------------------------------ error_line, class by class


def test_rankarena_error_is_its_message_on_one_line():
    assert error_line(DataFormatError("x.csv", "bad score", 3)) == "x.csv:3: bad score"
    assert error_line(RankarenaError("first\nsecond")) == "first second"


def test_a_path_that_is_not_utf8_is_shown_by_its_bytes(tmp_path):
    name = os.fsdecode(b"caf\xe9.toml")  # how sys.argv holds it: 'caf\udce9.toml'
    with pytest.raises(FileNotFoundError) as caught, open(tmp_path / name):
        pass
    assert error_line(caught.value) == f"{tmp_path}/caf\\xe9.toml: No such file or directory"
    assert error_line(RankarenaError("lone \ud800")) == "lone \\ud800"


def test_file_not_found_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as caught, open(tmp_path / "nope.toml"):
        pass
    assert error_line(caught.value) == f"{tmp_path / 'nope.toml'}: No such file or directory"


def test_is_a_directory_names_the_path(tmp_path):
    with pytest.raises(IsADirectoryError) as caught, open(tmp_path):
        pass
    assert error_line(caught.value) == f"{tmp_path}: Is a directory"


def test_not_a_directory_names_the_file_in_the_way(a_file):
    with pytest.raises(NotADirectoryError) as caught, open(a_file / "x.run", "w"):
        pass
    assert error_line(caught.value) == f"{a_file / 'x.run'}: {a_file} is a file, not a folder"


def test_file_exists_in_an_atomic_write_names_the_destination(a_file):
    with pytest.raises(FileExistsError) as caught, atomic_path(a_file / "x.run"):
        pass
    assert error_line(caught.value) == (
        f"cannot write {a_file / 'x.run'}: {a_file} is a file, not a folder"
    )


def test_permission_error_names_the_destination_not_the_temporary(read_only):
    target = read_only / "x.parquet"
    with pytest.raises(OSError) as caught, atomic_path(target):
        pass
    assert refused(target).fullmatch(error_line(caught.value))


def test_no_space_names_the_destination(tmp_path, monkeypatch):
    full_disk_text(monkeypatch)
    target = tmp_path / "x.run"
    with pytest.raises(OSError) as caught, atomic_write(target) as out:
        out.write("1 Q0 d 1 1.0 x\n")
    assert caught.value.filename is None  # Python does not say which file
    assert error_line(caught.value) == f"cannot write {target}: No space left on device"
    assert not target.exists() and not leftovers(tmp_path)


def test_pyarrow_io_errors_are_os_errors_with_their_path(read_only):
    target = read_only / "x.parquet"
    with pytest.raises(OSError) as caught:
        pq.write_table(pa.table({"a": [1]}), target)
    assert isinstance(caught.value, pa.lib.ArrowIOError)  # pyarrow's name for OSError
    line = error_line(caught.value)
    assert re.fullmatch(rf"{re.escape(str(target))}: ({REFUSALS})", line), line


def test_pyarrow_full_disk_in_an_atomic_write_names_the_destination(tmp_path, monkeypatch):
    full_disk_parquet(monkeypatch)
    target = tmp_path / "results.parquet"
    with pytest.raises(OSError) as caught:
        Results.empty().to_parquet(target)
    assert error_line(caught.value) == f"cannot write {target}: No space left on device"
    assert not target.exists() and not leftovers(tmp_path)


def test_full_disk_without_a_known_file_still_says_so():
    exc = OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space")
    assert error_line(exc) == "cannot write: No space left on device"


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("/x/.y.parquet.123@host-1.ab_cd.tmp", "cannot write /x/y.parquet: Permission denied"),
        ("/x/.y.parquet.lock", "cannot write /x/y.parquet: Permission denied"),
        ("/x/out/.rankarena.lock", "cannot write /x/out: Permission denied"),
        ("/x/y.parquet", "/x/y.parquet: Permission denied"),
    ],
)
def test_temporary_and_lock_files_stand_for_their_destination(name, line):
    assert error_line(PermissionError(errno.EACCES, "Permission denied", name)) == line


def test_a_read_failing_during_a_write_names_the_file_read(tmp_path):
    out = tmp_path / "out.parquet"
    with pytest.raises(FileNotFoundError) as caught, atomic_path(out) as tmp:
        tmp.write_text((tmp_path / "input.jsonl").read_text())
    assert error_line(caught.value) == f"{tmp_path / 'input.jsonl'}: No such file or directory"


def test_undecodable_file_names_file_and_byte(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[run]\nname = "caf\xe9"\n')
    with pytest.raises(UnicodeDecodeError) as caught:
        path.read_text(encoding="utf-8")
    assert error_line(caught.value) == f"{path}: not valid UTF-8 (byte 17: b'\\xe9')"


def test_undecodable_byte_is_counted_from_the_start_of_the_file(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"ok\n" * 10_000 + b"caf\xe9\n")  # past the first 8 KiB read
    with pytest.raises(UnicodeDecodeError) as caught, open(path, encoding="utf-8") as handle:
        for _ in handle:
            pass
    assert caught.value.start != 30_003  # the decoder counts from its own chunk
    assert error_line(caught.value) == f"{path}: not valid UTF-8 (byte 30003: b'\\xe9')"


def test_undecodable_bytes_without_a_file():
    with pytest.raises(UnicodeDecodeError) as caught:
        b"ab\xff".decode("utf-8")
    assert error_line(caught.value) == "not valid UTF-8 (byte 2: b'\\xff')"


def test_csv_field_limit_names_file_and_line(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("system,task,score\ns1," + "x" * (csv.field_size_limit() + 1) + ",0.5\n")
    with pytest.raises(csv.Error) as caught, open(path, newline="") as handle:
        reader = csv.reader(handle)
        for _ in reader:
            pass
    assert error_line(caught.value) == (
        f"{path}:2: not a readable CSV file "
        f"(field larger than field limit ({csv.field_size_limit()}))"
    )


def test_recursion_error_names_the_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RecursionError) as caught, open(path) as handle:
        json.load(handle)
    line = error_line(caught.value)
    assert line.startswith(f"{path}: nested too deeply to read (maximum recursion depth")


def test_memory_error_says_how_much_was_asked():
    with pytest.raises(MemoryError) as caught:
        np.empty((10**7, 10**7))
    assert error_line(caught.value) == (
        "out of memory: Unable to allocate 728. TiB for an array with shape "
        "(10000000, 10000000) and data type float64"
    )
    assert error_line(MemoryError()) == "out of memory"


@pytest.mark.parametrize("exc", [ValueError("x"), KeyError("x"), TypeError("x"), AssertionError()])
def test_other_exceptions_are_bugs(exc):
    assert error_line(exc) is None


# -------------------------------------------------------------- read-only destinations


def test_run_into_a_read_only_folder(tiny, read_only, tmp_path, capsys):
    config = tmp_path / "bm25.toml"
    output = read_only / f"rankarena-run-{os.getpid()}"
    config.write_text(
        f'[run]\nname = "t"\ndatasets = ["{tiny}"]\nsplit = "test"\nmetrics = ["ndcg@10"]\n'
        f'k = 10\noutput = "{output}"\n[systems.bm25]\nretriever = "bm25"\n'
    )
    assert main(["run", str(config)]) == 2
    assert refused(output).fullmatch(one_error(capsys))


def test_eval_into_a_read_only_folder(tiny, run_file, read_only, capsys):
    store = read_only / "results.parquet"
    assert (
        main(["eval", "--dataset", str(tiny), "--run", str(run_file), "--output", str(store)]) == 2
    )
    assert refused(store).fullmatch(one_error(capsys))


def test_retrieve_into_a_read_only_folder(tiny, read_only, capsys):
    out = read_only / "bm25.run"
    assert main(["retrieve", "--dataset", str(tiny), "--k", "10", "--output", str(out)]) == 2
    assert refused(out).fullmatch(one_error(capsys))


def test_retrieve_results_into_a_read_only_folder(tiny, read_only, tmp_path, capsys):
    store = read_only / "results.parquet"
    args = ["retrieve", "--dataset", str(tiny), "--k", "10", "--output", str(tmp_path / "r.run"),
            "--metrics", "ndcg@10", "--results", str(store)]  # fmt: skip
    assert main(args) == 2
    assert refused(store).fullmatch(one_error(capsys))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_aggregate_into_a_read_only_folder(scores_csv, read_only, capsys, suffix):
    out = read_only / f"board{suffix}"
    assert main(["aggregate", str(scores_csv), "--output", str(out)]) == 2
    assert refused(out).fullmatch(one_error(capsys))


# ---------------------------------------------------------------- a file as a folder


def test_retrieve_output_through_a_file(tiny, a_file, capsys):
    out = a_file / "x.run"
    assert main(["retrieve", "--dataset", str(tiny), "--k", "10", "--output", str(out)]) == 2
    assert one_error(capsys) == f"cannot write {out}: {a_file} is a file, not a folder"


def test_eval_output_through_a_file(tiny, run_file, a_file, capsys):
    store = a_file / "results.parquet"
    assert (
        main(["eval", "--dataset", str(tiny), "--run", str(run_file), "--output", str(store)]) == 2
    )
    assert one_error(capsys) == f"cannot write {store}: {a_file} is a file, not a folder"


def test_aggregate_output_through_a_file(scores_csv, a_file, capsys):
    out = a_file / "board.csv"
    assert main(["aggregate", str(scores_csv), "--output", str(out)]) == 2
    assert one_error(capsys) == f"cannot write {out}: {a_file} is a file, not a folder"


def test_run_output_through_a_file(tiny, a_file, tmp_path, capsys):
    config = tmp_path / "bm25.toml"
    config.write_text(
        f'[run]\nname = "t"\ndatasets = ["{tiny}"]\nsplit = "test"\nmetrics = ["ndcg@10"]\n'
        f'k = 10\noutput = "{a_file / "out"}"\n[systems.bm25]\nretriever = "bm25"\n'
    )
    assert main(["run", str(config)]) == 2
    assert one_error(capsys) == f"cannot write {a_file / 'out'}: {a_file} is a file, not a folder"


# ------------------------------------------------------------------------ a full disk


def test_eval_on_a_full_disk_leaves_the_store_intact(tiny, run_file, tmp_path, capsys, monkeypatch):
    store = tmp_path / "results.parquet"
    args = ["eval", "--dataset", str(tiny), "--run", str(run_file), "--output", str(store)]
    assert main(args) == 0
    before = snapshot(store)
    capsys.readouterr()
    full_disk_parquet(monkeypatch)
    assert main(args) == 2
    assert one_error(capsys) == f"cannot write {next_part(store)}: No space left on device"
    assert snapshot(store) == before and not leftovers(tmp_path)


def test_retrieve_trec_run_on_a_full_disk(tiny, tmp_path, capsys, monkeypatch):
    out = tmp_path / "bm25.run"
    full_disk_text(monkeypatch)
    assert main(["retrieve", "--dataset", str(tiny), "--k", "10", "--output", str(out)]) == 2
    assert one_error(capsys) == f"cannot write {out}: No space left on device"
    assert not out.exists() and not leftovers(tmp_path)


def test_retrieve_on_a_full_disk_leaves_run_and_store_intact(tiny, tmp_path, capsys, monkeypatch):
    out, store = tmp_path / "bm25.parquet", tmp_path / "results.parquet"
    args = ["retrieve", "--dataset", str(tiny), "--k", "10", "--output", str(out),
            "--metrics", "ndcg@10", "--results", str(store)]  # fmt: skip
    assert main(args) == 0
    run_before, store_before = out.read_bytes(), snapshot(store)
    capsys.readouterr()
    full_disk_parquet(monkeypatch)
    assert main(args) == 2
    assert one_error(capsys) == f"cannot write {out}: No space left on device"
    assert out.read_bytes() == run_before and snapshot(store) == store_before
    assert not leftovers(tmp_path)


# ------------------------------------------------------------------ counts, one line


AGGREGATE = ["aggregate", "s.csv"]
REPORT = ["report", "r"]
TRAIN = ["train", "--dataset", "d", "--output", "o"]
RETRIEVE = ["retrieve", "--dataset", "d", "--output", "o"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*AGGREGATE, "--bootstrap", "-3"], "argument --bootstrap: must be >= 0, got -3"),
        ([*AGGREGATE, "--top", "-1"], "argument --top: must be >= 0, got -1"),
        ([*AGGREGATE, "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        ([*AGGREGATE, "--bootstrap", "two"], "argument --bootstrap: must be an integer, got 'two'"),
        ([*AGGREGATE, "--min-coverage", "2"], "argument --min-coverage: must be in [0, 1], got 2"),
        (["leaderboard", "--mteb-results", "r", "--top", "-2"], "argument --top: must be >= 0"),
        ([*REPORT, "--tournaments", "0"], "argument --tournaments: must be >= 1, got 0"),
        ([*REPORT, "--depth", "0"], "argument --depth: must be >= 1, got 0"),
        ([*REPORT, "--alpha", "1"], "argument --alpha: must be in (0, 1), got 1"),
        ([*REPORT, "--alpha", "0"], "argument --alpha: must be in (0, 1), got 0"),
        ([*REPORT, "--alpha", "nan"], "argument --alpha: must be in (0, 1), got nan"),
        ([*RETRIEVE, "--k", "0"], "argument --k: must be >= 1, got 0"),
        ([*TRAIN, "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        ([*TRAIN, "--batch-size", "0"], "argument --batch-size: must be >= 1, got 0"),
        ([*TRAIN, "--num-negatives", "-1"], "argument --num-negatives: must be >= 0, got -1"),
        ([*TRAIN, "--chunk-size", "0"], "argument --chunk-size: must be >= 1, got 0"),
        ([*TRAIN, "--max-steps", "0"], "argument --max-steps: must be >= 1, got 0"),
        (["mine", "--holdout", "-0.1"], "argument --holdout: must be in [0, 1], got -0.1"),
        (["aggregate"], "the following arguments are required: scores"),
        (["agregate"], "argument COMMAND: invalid choice: 'agregate'"),
    ],
)  # fmt: skip
def test_bad_counts_are_one_line_before_any_work(capsys, args, message):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"rankarena: error: {message}"), captured.err


def test_mine_without_negatives_is_refused(capsys):
    assert main(["mine", "--dataset", "d", "--output", "o", "--num-negatives", "0"]) == 2
    assert one_error(capsys) == "--num-negatives must be >= 1, got 0"


def test_relevance_level_takes_any_integer(tiny, run_file, capsys):
    args = ["eval", "--dataset", str(tiny), "--run", str(run_file), "--relevance-level", "-1"]
    assert main(args) == 2  # parsed; the evaluator says what it accepts
    assert one_error(capsys) == "relevance level must be at least 1, got -1"


def test_help_exits_zero(capsys):
    assert main(["aggregate", "--help"]) == 0
    assert "--bootstrap N" in capsys.readouterr().out


# --------------------------------------------------------------- memory, tracebacks


def test_memory_refusal_is_one_line(scores_csv, capsys, monkeypatch):
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "1K")
    assert main(["aggregate", str(scores_csv), "--method", "copeland"]) == 2
    assert one_error(capsys) == (
        "aggregator 'copeland' needs 2.5 KiB for 6 systems x 4 tasks (pairwise matrices); "
        "limit: 1.0 KiB (RANKARENA_MAX_MEMORY=1K)"
    )


def test_bad_memory_limit_is_one_line(scores_csv, capsys, monkeypatch):
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "lots")
    assert main(["aggregate", str(scores_csv), "--method", "copeland"]) == 2
    assert one_error(capsys) == (
        "RANKARENA_MAX_MEMORY must be a positive size such as 8G, 512M or 1000000, got 'lots'"
    )


def test_out_of_memory_is_one_line(scores_csv, capsys, monkeypatch):
    def greedy(*args, **kwargs):
        return np.ones((10**7, 10**7))

    monkeypatch.setattr("rankarena.leaderboard.board.build_leaderboard", greedy)
    assert main(["aggregate", str(scores_csv)]) == 2
    assert one_error(capsys).startswith("out of memory: Unable to allocate 728. TiB")


def test_debug_flag_and_environment_show_the_traceback(tmp_path, capsys, monkeypatch):
    missing = str(tmp_path / "missing.csv")
    assert main(["aggregate", missing]) == 2
    capsys.readouterr()
    with pytest.raises(RankarenaError):
        main(["--debug", "aggregate", missing])
    monkeypatch.setenv("RANKARENA_DEBUG", "1")
    with pytest.raises(RankarenaError):
        main(["aggregate", missing])
    monkeypatch.setenv("RANKARENA_DEBUG", "0")
    assert main(["aggregate", missing]) == 2


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(args):
        raise ValueError("a bug")

    monkeypatch.setattr("rankarena.cli.installation.cmd_devices", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["devices"])


def test_interrupt_is_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("rankarena.cli.installation.cmd_devices", interrupted)
    assert main(["devices"]) == 130
    assert capsys.readouterr().err == "rankarena: interrupted\n"


def test_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)  # nobody will read what the command prints
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rankarena.cli.main", "plugins", "--json"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""


def test_debug_is_documented_in_the_help():
    out = io.StringIO()
    from rankarena.cli.main import build_parser

    build_parser().print_help(out)
    assert "--debug" in out.getvalue() and "RANKARENA_DEBUG=1" in out.getvalue()
