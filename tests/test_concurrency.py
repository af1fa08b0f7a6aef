"""Many processes on one results store or one output folder: nothing lost, nothing
duplicated, no torn read (the store's lock serialises appends; readers read one whole
version through one file handle; ``rankarena run`` locks its output folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from rankarena.data import Results, write_beir

APPENDER = textwrap.dedent(
    """
    import sys
    from rankarena.data import Results

    store, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(count):
        rows = [
            {"system": f"w{writer}", "dataset": "d", "split": "test", "metric": metric,
             "value": float(i), "run_id": f"{writer}-{i}"}
            for metric in ("ndcg@10", "recall@100", "map")
        ]
        Results.from_rows(rows).append_to(store)
    """
)

READER = textwrap.dedent(
    """
    import os, sys, time
    from rankarena.data import Results

    store, stop = sys.argv[1], sys.argv[2]
    reads = 0
    while not os.path.exists(stop):
        if os.path.exists(store):
            Results.from_parquet(store)  # raises on a torn or half-written file
            reads += 1
        time.sleep(0.005)
    print(reads)
    """
)


def test_four_processes_append_to_one_store(tmp_path):
    store = tmp_path / "results.parquet"
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(store), str(stop)], stdout=subprocess.PIPE, text=True
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(store), str(w), "100"])
        for w in range(4)
    ]
    codes = [w.wait(timeout=600) for w in writers]
    stop.touch()
    out, _ = reader.communicate(timeout=60)
    assert codes == [0, 0, 0, 0]
    assert reader.returncode == 0 and int(out) > 0  # it read the store while it grew
    table = Results.from_parquet(store).table
    assert table.num_rows == 4 * 100 * 3
    keys = set(zip(*(table.column(c).to_pylist() for c in ("run_id", "metric")), strict=True))
    assert len(keys) == table.num_rows  # no duplicate


def test_duplicates_in_a_store_are_dropped_on_the_next_write(tmp_path):
    store = tmp_path / "results.parquet"
    row = {"system": "s", "dataset": "d", "split": "test", "metric": "m", "run_id": "r"}
    old = Results.from_rows([{**row, "value": 0.5}, {**row, "value": 0.5}, {**row, "value": 0.4}])
    old.to_parquet(store)  # a store written by an older release, with duplicates
    other = {**row, "metric": "n", "value": 1.0}
    Results.from_rows([other]).append_to(store)
    rows = Results.from_parquet(store).table.to_pylist()
    assert [(r["metric"], r["value"]) for r in rows] == [("m", 0.4), ("n", 1.0)]


CONFIG = """
[run]
name = "both"
datasets = ["{data}"]
metrics = ["ndcg@10", "recall@100"]
k = 100
output = "out"

[systems.bm25]
retriever = "bm25"

[systems.robertson]
retriever = "bm25"
params = {{ method = "robertson" }}

[systems.fused]
inputs = ["bm25", "robertson"]
"""


@pytest.mark.parametrize("attempt", range(2))
def test_two_runs_on_one_folder_compute_and_store_everything_once(
    tmp_path, scifact_subset, attempt
):
    corpus, queries, qrels = scifact_subset(40, 400, split="test")
    folder = write_beir(tmp_path / "small", corpus, queries, {"test": qrels})
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(data=folder))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    script = "import sys; from rankarena.cli.main import main; sys.exit(main(sys.argv[1:]))"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, "run", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    summaries = sorted(
        line for out, _ in outputs for line in out.splitlines() if "runs computed" in line
    )
    # one process computed the 3 runs; the other waited for the folder, then reused them
    assert [s.split(":", 1)[1].split(";")[0].strip() for s in summaries] == [
        "0 runs computed, 3 reused",
        "3 runs computed, 0 reused",
    ]
    table = Results.from_parquet(tmp_path / "out" / "results.parquet").table
    assert table.num_rows == 3 * 2
    assert len(list((tmp_path / "out" / "runs").glob("*.parquet"))) == 3
