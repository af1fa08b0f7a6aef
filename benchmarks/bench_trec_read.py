"""Reading a TREC run file: rankarena's Arrow fast path vs its line reader vs ranx.

    python benchmarks/bench_trec_read.py [--queries 1000] [--docs 1000] [--repeats 3]

Writes a seeded run (``qid Q0 docno rank score tag``, single spaces) to a temporary file,
then times, in this process: ``rankarena.data.read_trec_run`` (Arrow CSV reader, falling
back to the line reader), the line reader alone, and ``ranx.Run.from_file(kind="trec")``.
All three must give the same run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import ranx

from rankarena.data import read_trec_run
from rankarena.data.trec import _read_trec_run_lines


def write_run(path: Path, n_queries: int, n_docs: int) -> None:
    rng = np.random.default_rng(0)
    with open(path, "w") as out:
        for q in range(n_queries):
            docs = rng.choice(1_000_000, n_docs, replace=False)
            scores = np.sort(rng.normal(size=n_docs))[::-1]
            out.writelines(
                f"q{q} Q0 d{d} {r + 1} {s!r} run\n"
                for r, (d, s) in enumerate(zip(docs.tolist(), scores.tolist(), strict=True))
            )


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.trec"
        write_run(path, args.queries, args.docs)
        lines = args.queries * args.docs
        print(f"{lines:,} lines, {path.stat().st_size / 2**20:.0f} MiB")
        ours = read_trec_run(path)
        assert ours == _read_trec_run_lines(path)
        assert ranx.Run.from_file(str(path), kind="trec").to_dict() == ours.to_dict()
        fast = median_time(lambda: read_trec_run(path), args.repeats)
        slow = median_time(lambda: _read_trec_run_lines(path), args.repeats)
        peer = median_time(lambda: ranx.Run.from_file(str(path), kind="trec"), args.repeats)
    print(f"rankarena read_trec_run (Arrow fast path)  {fast:7.3f} s")
    print(f"rankarena line reader                      {slow:7.3f} s  ({slow / fast:.1f}x slower)")
    print(f"ranx Run.from_file(kind='trec')            {peer:7.3f} s  ({peer / fast:.1f}x slower)")


if __name__ == "__main__":
    main()
