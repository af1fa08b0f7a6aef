"""The results store at growing size: the cost of an append and of a filtered read (issue 19).

Appends ``--appends`` batches of ``--rows`` result rows (per-query rows of one system on one
dataset, 50 systems round robin) to

* the store (``Results.append_to``: one part per append, size-tiered merges), and
* the previous design, measured as the peer in the same run: one Parquet file read,
  concatenated, deduplicated and rewritten atomically under the same lock on every append
  (``--peer-appends`` of them; it is quadratic, so fewer),

and prints the seconds of the first and the last 100 appends and their ratio, then the
time of a full read against reads filtered by one system, by one metric and to means only.

    python benchmarks/bench_store.py --appends 2000 --peer-appends 600 --rows 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from rankarena.data import Results
from rankarena.data.locks import file_lock, lock_path
from rankarena.data.results_store import live_parts


def batch(i: int, rows: int) -> Results:
    """Batch ``i``: ``rows`` rows of system ``s{i % 50}`` (one mean, the rest per query)."""
    return Results.from_rows(
        {
            "system": f"s{i % 50}",
            "dataset": f"d{(i // 50) % 20}",
            "split": "test",
            "metric": ("ndcg@10", "recall@100", "map@100")[i % 3],
            "value": j / rows,
            "run_id": f"run-{i}",
            "query_id": None if j == 0 else f"q{j}",
        }
        for j in range(rows)
    )


def one_file_append(results: Results, path: Path) -> None:
    """The previous design: read the whole store, add, deduplicate, rewrite (atomically)."""
    with file_lock(lock_path(path)):
        stored = Results.from_parquet(path) if path.exists() else Results.empty()
        Results(pa.concat_tables([stored.table, results.table])).deduplicated().to_parquet(path)


def time_appends(append, batches: list[Results], path: Path) -> list[float]:
    seconds = []
    for one in batches:
        start = time.perf_counter()
        append(one, path)
        seconds.append(time.perf_counter() - start)
    return seconds


def report(name: str, seconds: list[float]) -> None:
    first, last = sum(seconds[:100]), sum(seconds[-100:])
    print(
        f"{name:<34} {len(seconds):>7,} {sum(seconds):>9.1f} {first:>9.2f} {last:>9.2f} "
        f"{last / first:>7.2f}"
    )


def timed(read) -> tuple[float, int]:
    start = time.perf_counter()
    rows = len(read())
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--peer-appends", type=int, default=600)
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    batches = [batch(i, args.rows) for i in range(max(args.appends, args.peer_appends))]
    with tempfile.TemporaryDirectory() as tmp:
        parts, one_file = Path(tmp) / "parts" / "results.parquet", Path(tmp) / "one.parquet"
        print(f"appends of {args.rows} rows")
        heads = ("appends", "total s", "first 100", "last 100")
        print(f"{'store':<34} {heads[0]:>7} " + " ".join(f"{h:>9}" for h in heads[1:]) + "   ratio")
        report(
            "parts folder (Results.append_to)",
            time_appends(lambda r, p: r.append_to(p), batches[: args.appends], parts),
        )
        report(
            "one file (the previous design)",
            time_appends(one_file_append, batches[: args.peer_appends], one_file),
        )
        print(f"\nreads of the parts store ({len(live_parts(parts))} parts)")
        for name, read in (
            ("everything", lambda: Results.from_store(parts)),
            ("one system", lambda: Results.from_store(parts, system="s7")),
            (
                "one metric, means only",
                lambda: Results.from_store(parts, metric="map@100", means_only=True),
            ),
        ):
            seconds, rows = timed(read)
            print(f"{name:<24} {rows:>10,} rows {seconds:>8.3f} s")


if __name__ == "__main__":
    main()
