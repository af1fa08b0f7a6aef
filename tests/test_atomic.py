"""Atomic writes: the target is replaced only when the write completes; nothing is left over."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rankarena.data import Qrels, Results, Run, atomic_path, atomic_write, write_trec_run


class Interrupted(Exception):
    """Stands in for a crash in the middle of a write."""


def files_in(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_atomic_write_success(tmp_path):
    target = tmp_path / "out.txt"
    text = "".join(f"line {i}\n" for i in range(10_000))
    with atomic_write(target) as out:
        out.write(text)
        assert not target.exists()  # nothing is visible before the block completes
    assert target.read_text(encoding="utf-8") == text
    assert files_in(tmp_path) == ["out.txt"]


def test_atomic_write_replaces_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old content\n")
    with atomic_write(target) as out:
        out.write("new ")
        assert target.read_text() == "old content\n"  # still the old file mid-write
        out.write("content\n")
    assert target.read_text() == "new content\n"
    assert files_in(tmp_path) == ["out.txt"]


def test_atomic_write_keeps_newlines_and_encoding(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as out:
        out.write("é\r\nx\n")
    assert target.read_bytes() == "é\r\nx\n".encode()


def test_atomic_write_binary(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_write(target, "wb") as out:
        out.write(b"\x00\xff" * 1000)
    assert target.read_bytes() == b"\x00\xff" * 1000


def test_atomic_write_creates_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(target) as out:
        out.write("x")
    assert target.read_text() == "x"
    assert files_in(target.parent) == ["out.txt"]


@pytest.mark.parametrize("error", [Interrupted, KeyboardInterrupt, SystemExit])
def test_atomic_write_interrupted_keeps_old_file(tmp_path, error):
    target = tmp_path / "out.txt"
    target.write_text("previous content\n")
    with pytest.raises(error), atomic_write(target) as out:
        out.write("half of the new")
        out.flush()
        raise error()
    assert target.read_text() == "previous content\n"
    assert files_in(tmp_path) == ["out.txt"]


def test_atomic_write_interrupted_without_previous_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(Interrupted), atomic_write(target) as out:
        out.write("partial")
        raise Interrupted()
    assert not target.exists()
    assert files_in(tmp_path) == []


def test_atomic_path_success(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path
        assert tmp != target
        tmp.write_bytes(b"new data")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new data"
    assert not tmp.exists()
    assert files_in(tmp_path) == ["data.bin"]


def test_atomic_path_interrupted(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(Interrupted), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise Interrupted()
    assert target.read_bytes() == b"old"
    assert not tmp.exists()
    assert files_in(tmp_path) == ["data.bin"]


def test_atomic_path_interrupted_after_replacing_tmp_file(tmp_path):
    """A writer that deletes and recreates the temporary path is cleaned up too."""
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(Interrupted), atomic_path(target) as tmp:
        tmp.unlink()
        tmp.write_bytes(b"partial")
        raise Interrupted()
    assert target.read_bytes() == b"old"
    assert files_in(tmp_path) == ["data.bin"]


def test_concurrent_atomic_writes_use_distinct_temporary_files(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_write(target) as first, atomic_write(target) as second:
        assert first.name != second.name
        first.write("first")
        second.write("second")
    assert target.read_text() == "first"  # the outer block finished last
    assert files_in(tmp_path) == ["out.txt"]


QRELS = Qrels.from_dict({"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 2}})


real_write_table = pq.write_table


def partial_write_table(table, where, *args, **kwargs):
    """A ``pq.write_table`` that dies after writing half of the file."""
    sink = pa.BufferOutputStream()
    real_write_table(table, sink, *args, **kwargs)
    data = sink.getvalue().to_pybytes()
    Path(where).write_bytes(data[: len(data) // 2])
    raise Interrupted("killed while writing")


def test_qrels_to_parquet_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "qrels.parquet"
    QRELS.to_parquet(target)
    before = target.read_bytes()
    bigger = Qrels.from_dict({f"q{i}": {f"d{j}": j % 3 for j in range(20)} for i in range(50)})
    monkeypatch.setattr(pq, "write_table", partial_write_table)
    with pytest.raises(Interrupted):
        bigger.to_parquet(target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert Qrels.from_parquet(target) == QRELS
    assert files_in(tmp_path) == ["qrels.parquet"]


def test_qrels_to_parquet_interrupted_without_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "qrels.parquet"
    monkeypatch.setattr(pq, "write_table", partial_write_table)
    with pytest.raises(Interrupted):
        QRELS.to_parquet(target)
    assert not target.exists()
    assert files_in(target.parent) == []


def test_results_append_to_interrupted_keeps_store(tmp_path, monkeypatch):
    row = {
        "system": "bm25",
        "dataset": "scifact",
        "split": "test",
        "metric": "ndcg@10",
        "value": 0.5,
        "run_id": "r1",
        "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    }
    store = tmp_path / "results.parquet"
    first = Results.from_rows([row])
    first.append_to(store)
    before = {part.name: part.read_bytes() for part in store.iterdir()}
    monkeypatch.setattr(pq, "write_table", partial_write_table)
    with pytest.raises(Interrupted):
        Results.from_rows([{**row, "run_id": "r2"}]).append_to(store)
    monkeypatch.undo()
    assert {part.name: part.read_bytes() for part in store.iterdir()} == before
    assert Results.from_store(store) == first
    # no temporary file left; the store's lock file stays (deleting it would race a waiter)
    assert files_in(tmp_path) == [".results.parquet.lock", "results.parquet"]
    assert files_in(store) == ["000000000001-000000000001.parquet"]


class _Unprintable:
    def __repr__(self):
        raise Interrupted("killed while writing")


class _Column:
    def __init__(self, values):
        self.values = values

    def to_pylist(self):
        return self.values


class _Table:
    column_names = ()  # not Arrow: the writer's id checks see no string column

    def __init__(self, **columns):
        self.columns = columns

    def column(self, name):
        return _Column(self.columns[name])


class _FakeRun:
    """Duck-typed run whose third score cannot be formatted: the write dies mid-file."""

    table = _Table(
        query_id=["q1"] * 3,
        doc_id=["d1", "d2", "d3"],
        rank=[1, 2, 3],
        score=[1.0, 0.5, _Unprintable()],
    )


def test_write_trec_run_interrupted(tmp_path):
    target = tmp_path / "run.txt"
    write_trec_run(Run.from_dict({"q0": {"d9": 2.0}}), target)
    before = target.read_text()
    with pytest.raises(Interrupted):
        write_trec_run(_FakeRun(), target)  # type: ignore[arg-type]
    assert target.read_text() == before == "q0 Q0 d9 1 2.0 rankarena\n"
    assert files_in(tmp_path) == ["run.txt"]


KILLED_WRITER = """
import sys, time
from pathlib import Path
from rankarena.data import atomic_write
with atomic_write(sys.argv[1]) as out:
    out.write("half of the new")
    out.flush()
    Path(sys.argv[2]).touch()
    time.sleep(60)
"""


def test_write_after_a_killed_writer_removes_its_temporary_file(tmp_path):
    """SIGKILL gives no chance to clean up; the next write to the target does it."""
    import signal
    import subprocess
    import sys
    import time

    target, started = tmp_path / "out.txt", tmp_path.parent / f"{tmp_path.name}.started"
    target.write_text("previous content\n")
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target), str(started)])
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [name for name in files_in(tmp_path) if name != "out.txt"]
    assert len(left) == 1 and left[0].startswith(f".out.txt.{child.pid}@")
    assert target.read_text() == "previous content\n"
    with atomic_write(target) as out:
        out.write("new content\n")
    assert files_in(tmp_path) == ["out.txt"]
    assert target.read_text() == "new content\n"


def test_stale_temporaries_of_live_or_remote_writers_are_kept(tmp_path):
    import subprocess
    import sys

    from rankarena.data.atomic import remove_stale_temporaries, writer_tag

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = writer_tag().split("@", 1)[1]
    names = {
        "dead": f".out.txt.{dead.pid}@{host}.abc123.tmp",
        "live": f".out.txt.{os.getppid()}@{host}.def456.tmp",
        "own": f".out.txt.{os.getpid()}@{host}.ghi789.tmp",
        "remote": f".out.txt.{dead.pid}@other-{host}.jkl012.tmp",
        "untagged": ".out.txt.mno345.tmp",
        "other target": f".out.txt.bak.{dead.pid}@{host}.pqr678.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_text("partial")
    removed = remove_stale_temporaries(tmp_path / "out.txt")
    assert [p.name for p in removed] == [names["dead"]]
    assert files_in(tmp_path) == sorted(v for k, v in names.items() if k != "dead")
    assert remove_stale_temporaries(tmp_path / "missing" / "out.txt") == []
