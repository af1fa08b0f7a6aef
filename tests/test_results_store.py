"""The results store as a folder of parts: appends that cost what they append, filtered
reads, merges, compaction, one-file stores of older releases, and writes cut short."""

from __future__ import annotations

import math
import os
import shutil
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena.data import Results, compact_store, store_exists
from rankarena.data import results_store as store_module
from rankarena.data.results_store import FANOUT, live_parts, part_name
from rankarena.errors import DataFormatError


def batch(i: int, size: int = 20, system: str | None = None) -> Results:
    return Results.from_rows(
        {
            "system": system or f"s{i % 7}",
            "dataset": f"d{i % 3}",
            "split": "test",
            "metric": ("ndcg@10", "recall@100")[i % 2],
            "value": float(i * size + j),
            "run_id": f"r{i}",
            "query_id": str(j) if j else None,
        }
        for j in range(size)
    )


def parts_in(store) -> list[str]:
    return sorted(os.listdir(store))


# ------------------------------------------------------------------ cost of an append


def test_two_thousand_appends_cost_the_same_at_the_end_as_at_the_start(tmp_path, monkeypatch):
    store = tmp_path / "results.parquet"
    written = []
    write_table = pq.write_table

    def counting(table, where, *args, **kwargs):
        written.append(table.num_rows)
        return write_table(table, where, *args, **kwargs)

    monkeypatch.setattr(store_module.pq, "write_table", counting)
    batches = [batch(i) for i in range(2000)]
    seconds = []
    for one in batches:
        start = time.perf_counter()
        one.append_to(store)
        seconds.append(time.perf_counter() - start)
    ratio = sum(seconds[-100:]) / sum(seconds[:100])
    assert ratio < 2, f"the last 100 appends took {ratio:.2f}x as long as the first 100"
    # the work, exactly: every row is written once, then once per merge it takes part in
    appended = 2000 * 20
    merges_per_row = math.ceil(math.log(2000, FANOUT))
    assert appended < sum(written) <= appended * (1 + merges_per_row)
    assert len(live_parts(store)) <= (FANOUT - 1) * (merges_per_row + 1)
    assert len(Results.from_store(store)) == appended


def test_an_append_writes_only_its_rows(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(FANOUT - 1):  # no merge yet
        batch(i).append_to(store)
    before = {name: (store / name).stat().st_mtime_ns for name in parts_in(store)}
    batch(100, size=3).append_to(store)
    after = parts_in(store)
    assert all((store / name).stat().st_mtime_ns == t for name, t in before.items())
    (new,) = set(after) - set(before)
    assert pq.read_metadata(store / new).num_rows == 3


def test_full_tiers_merge_into_one_part(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(FANOUT):
        batch(i).append_to(store)
    assert parts_in(store) == [part_name(1, FANOUT)]
    batch(FANOUT).append_to(store)
    assert parts_in(store) == [part_name(1, FANOUT), part_name(FANOUT + 1, FANOUT + 1)]


def test_a_merge_stops_at_the_part_size_cap(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(FANOUT):
        store_module.append_table(batch(i).table, store, max_part_rows=100)
    assert len(parts_in(store)) == FANOUT  # 8 x 20 rows > 100: left apart


# ------------------------------------------------------------------ reads


IDENTITIES = st.tuples(
    st.sampled_from(["bm25", "dense", "splade"]),
    st.sampled_from(["scifact", "nfcorpus"]),
    st.sampled_from(["", "typos"]),
    st.sampled_from(["ndcg@10", "map"]),
    st.sampled_from([None, "q1", "q2"]),
    st.sampled_from(["r1", "r2"]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(appends=st.lists(st.lists(IDENTITIES, min_size=1, max_size=6), min_size=1, max_size=20))
def test_reads_keep_the_newest_row_of_each_identity_and_filter_exactly(tmp_path, appends):
    store = tmp_path / f"s{len(os.listdir(tmp_path))}" / "results.parquet"
    expected: dict[tuple, float] = {}
    value = 0.0
    for rows in appends:
        batch_rows = []
        for system, dataset, variant, metric, query, run in rows:
            value += 1
            row = {"system": system, "dataset": dataset, "split": "test", "variant": variant}
            row.update(metric=metric, query_id=query, run_id=run, value=value)
            batch_rows.append(row)
            key = (system, dataset, variant, metric, query, run)
            expected.pop(key, None)  # a replaced row moves to the end
            expected[key] = value
        store_module.append_table(Results.from_rows(batch_rows).table, store, fanout=2)
    every = Results.from_store(store).table.to_pylist()
    got = {
        (r["system"], r["dataset"], r["variant"], r["metric"], r["query_id"], r["run_id"]): r[
            "value"
        ]
        for r in every
    }
    assert len(every) == len(expected)
    assert list(got.items()) == list(expected.items())
    filters = {"system": ["bm25", "splade"], "metric": "ndcg@10", "variant": ""}
    some = Results.from_store(store, means_only=True, **filters).table.to_pylist()
    assert some == [
        r
        for r in every
        if r["system"] in ("bm25", "splade")
        and r["metric"] == "ndcg@10"
        and r["variant"] == ""
        and r["query_id"] is None
    ]


def test_a_missing_store_is_one_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match="no such results store"):
        Results.from_store(tmp_path / "results.parquet")
    assert not store_exists(tmp_path / "results.parquet")


def test_a_part_that_is_not_results_is_named(tmp_path):
    store = tmp_path / "results.parquet"
    batch(0).append_to(store)
    pq.write_table(pa.table({"x": [1]}), store / part_name(2, 2))
    with pytest.raises(DataFormatError, match=rf"{part_name(2, 2)}.*missing column 'system'"):
        Results.from_store(store)


def test_any_parquet_reader_sees_every_row(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(3):
        batch(i).append_to(store)
    assert pq.read_table(store).num_rows == 60


# ------------------------------------------------------------------ cut short


def test_a_merge_cut_short_is_read_once_and_cleaned_on_the_next_append(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(3):
        batch(i).append_to(store)
    expected = Results.from_store(store)
    # the merged part exists, the parts it replaces were not deleted yet
    merged = pa.concat_tables([pq.read_table(store / part_name(i, i)) for i in (1, 2)])
    pq.write_table(merged, store / part_name(1, 2))
    assert Results.from_store(store) == expected
    batch(3).append_to(store)
    assert parts_in(store) == [part_name(1, 2), part_name(3, 3), part_name(4, 4)]
    assert len(Results.from_store(store)) == 80


def test_a_killed_writers_temporary_part_is_deleted_by_the_next_append(tmp_path):
    import subprocess
    import sys

    from rankarena.data.atomic import writer_tag

    store = tmp_path / "results.parquet"
    batch(0).append_to(store)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = writer_tag().split("@", 1)[1]
    stale = store / f".{part_name(2, 2)}.{dead.pid}@{host}.abc123.tmp"
    stale.write_bytes(b"PAR1 half a part")
    assert Results.from_store(store) == batch(0)  # readers never look at temporaries
    batch(1).append_to(store)
    assert parts_in(store) == [part_name(1, 1), part_name(2, 2)]


def test_compact_store_merges_everything_and_drops_replaced_rows(tmp_path):
    store = tmp_path / "results.parquet"
    for i in range(12):
        batch(i).append_to(store)
    batch(0).append_to(store)  # the same identities again
    expected = Results.from_store(store)
    assert compact_store(store) == len(expected) == 12 * 20
    assert parts_in(store) == [part_name(1, 13)]
    assert Results.from_store(store) == expected


# ------------------------------------------------------------------ one-file stores


def one_file_store(path, rows: Results) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows.table.drop_columns(["eval_key"]), path)  # an old release's file


def test_a_one_file_store_is_read_and_migrated_on_the_first_append(tmp_path):
    store = tmp_path / "results.parquet"
    old = Results(pa.concat_tables([batch(0).table, batch(0).table]))  # with duplicates
    one_file_store(store, old)
    assert store_exists(store)
    assert Results.from_store(store) == batch(0)
    assert Results.from_store(store, metric="ndcg@10", means_only=True) == Results(
        batch(0).table.slice(0, 1)
    )
    batch(1).append_to(store)
    assert store.is_dir()
    assert parts_in(store) == [part_name(0, 0), part_name(1, 1)]
    assert sorted(os.listdir(tmp_path)) == [".results.parquet.lock", "results.parquet"]
    assert Results.from_store(store) == batch(0).concat(batch(1))


def test_an_unreadable_one_file_store_is_left_as_it_was(tmp_path):
    store = tmp_path / "results.parquet"
    store.write_text("not parquet")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        batch(0).append_to(store)
    assert store.read_text() == "not parquet"
    assert sorted(os.listdir(tmp_path)) == [".results.parquet.lock", "results.parquet"]


@pytest.mark.parametrize("stage", ["renamed", "part-written", "folder-in-place"])
def test_a_migration_cut_short_is_read_and_finished(tmp_path, stage):
    store = tmp_path / "results.parquet"
    legacy = tmp_path / ".results.parquet.legacy"
    migrating = tmp_path / ".results.parquet.migrating"
    one_file_store(legacy, batch(0))  # the one-file store was renamed aside
    if stage in ("part-written", "folder-in-place"):
        migrating.mkdir()
        shutil.copy(legacy, migrating / part_name(0, 0))
    if stage == "folder-in-place":
        migrating.rename(store)
    assert store_exists(store)
    assert Results.from_store(store) == batch(0)  # readers see the rows meanwhile
    batch(1).append_to(store)
    assert sorted(os.listdir(tmp_path)) == [".results.parquet.lock", "results.parquet"]
    assert Results.from_store(store) == batch(0).concat(batch(1))
