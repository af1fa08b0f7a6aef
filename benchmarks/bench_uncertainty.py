"""Two-level bootstrap (``rankarena.leaderboard.uncertainty``): time per rule on MTEB(eng, v2).

    python benchmarks/bench_uncertainty.py
    python benchmarks/bench_uncertainty.py --samples 1000 --budget 10 --repeats 3

Data: the MTEB(eng, v2) table of the MTEB leaderboard export,
``read_scores(DATA/mteb/scores.parquet, benchmark="MTEB(eng, v2)")`` (317 models × 41 tasks,
missing cells kept; ``$RANKARENA_DATA_DIR``, default ``../shared/data``). It has task scores
only, so the resamples are task-level (level 1); the per-query draw is not timed here.

Timed, in this process: ``two_level_bootstrap(rule, table, samples=--samples)`` for
``borda`` (``--repeats`` runs, the median; target: under 1 s for 1,000 resamples), then once
for every other registered aggregator (default parameters): ``--samples`` resamples, or
fewer for a slow rule, as many as one aggregation's time fits in ``--budget`` seconds (at
least 5; swiss with ``--swiss-tournaments``); each line gives the resamples, the total and
the time per resample. The exit status is 1 when borda misses the target.

Then ``bench_compare``: ``rankarena.compare`` of 10 BM25 systems on SciFact (300 test
queries), all pairs, 10,000 permutations, the randomisation test with max-T, against ranx's
``compare`` with its Fisher test on the same runs (the ratio in the same run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import rankarena
from rankarena.leaderboard.score_sources import read_scores
from rankarena.leaderboard.uncertainty import two_level_bootstrap

SECONDS_TARGET = 1.0
BUDGET = 10.0
"""Seconds aimed at per other rule: a slow rule gets fewer resamples (at least 5)."""
DATA = Path(
    os.environ.get("RANKARENA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def timed(aggregate, table, samples: int) -> tuple[float, object]:
    started = time.perf_counter()
    found = two_level_bootstrap(aggregate, table, samples=samples, seed=0)
    return time.perf_counter() - started, found


def bench_compare(permutations: int = 10_000, repeats: int = 3) -> None:
    """``rankarena.compare`` of 10 BM25 systems (k1 x b grid) on the 300 SciFact test
    queries, all 45 pairs, the randomisation test with max-T, against ranx's ``compare``
    with its Fisher randomisation test on the same runs; both evaluate nDCG@10 from the
    runs and run ``permutations`` permutations. Medians of ``repeats`` (ranx warmed up
    once first: its numba functions compile on the first call)."""
    import itertools
    import os

    import ranx

    import rankarena

    host = rankarena.plugin_manager()
    data = os.environ.get("RANKARENA_DATA_DIR", "../shared/data")
    dataset = host.datasets.create("beir", path=os.path.join(data, "scifact"))
    queries, qrels = dataset.queries("test"), dataset.qrels("test")
    runs = {}
    for k1, b in itertools.product((0.6, 0.9, 1.2, 1.5, 2.0), (0.4, 0.75)):
        bm25 = host.retrievers.create("bm25", k1=k1, b=b, show_progress=False)
        runs[f"bm25-k1={k1}-b={b}"] = bm25.index(dataset.corpus).search(queries, k=100)
    ranx_qrels = ranx.Qrels.from_dict(_nested(qrels.table, "doc_id", "relevance", int))
    ranx_runs = []
    for name, run in runs.items():
        ranx_run = ranx.Run.from_dict(_nested(run.table, "doc_id", "score", float))
        ranx_run.name = name
        ranx_runs.append(ranx_run)

    def ours():
        return rankarena.compare(
            runs=runs,
            qrels=qrels,
            test="randomisation",
            correction="max-t",
            permutations=permutations,
            host=host,
        )

    def theirs():
        return ranx.compare(
            ranx_qrels, ranx_runs, ["ndcg@10"], stat_test="fisher", n_permutations=permutations
        )

    theirs()  # numba compiles
    ours_s = _median_seconds(ours, repeats)
    theirs_s = _median_seconds(theirs, repeats)
    print(
        f"compare, 10 systems x 300 queries, all 45 pairs, {permutations:,} permutations: "
        f"rankarena (randomisation + max-T) {ours_s:.3f} s, ranx (fisher, no correction) "
        f"{theirs_s:.3f} s: {theirs_s / ours_s:.2f}x"
    )
    result, report = ours(), theirs()
    gaps = []
    for row in result.table.rows:
        p = report.comparisons[row["system"], row["versus"]]["ndcg@10"]["p_value"]
        gaps.append(abs(p - row["p_value"]))
    print(f"p-values: largest |rankarena - ranx| over the 45 pairs {max(gaps):.4f} (Monte Carlo)")


def _median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _nested(table, doc_column: str, value_column: str, cast) -> dict:
    """{query_id: {doc_id: value}} of a qrels or run Arrow table (ranx's input)."""
    out: dict = {}
    columns = zip(
        table["query_id"].to_pylist(),
        table[doc_column].to_pylist(),
        table[value_column].to_pylist(),
        strict=True,
    )
    for query, doc, value in columns:
        out.setdefault(query, {})[doc] = cast(value)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=BUDGET, help="seconds per other rule")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--benchmark", default="MTEB(eng, v2)")
    parser.add_argument(
        "--swiss-tournaments",
        type=int,
        default=1000,
        help="swiss's Monte Carlo tournaments per aggregation (default 1000; its own "
        "default, 100000, takes minutes per resample)",
    )
    parser.add_argument("--permutations", type=int, default=10_000, help="of the compare timing")
    parser.add_argument("--no-compare", action="store_true", help="skip the compare timing")
    args = parser.parse_args()
    if min(args.samples, args.repeats, args.budget) <= 0:
        parser.error("--samples, --repeats and --budget must be positive")

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {cpus} CPUs available")
    table = read_scores(DATA / "mteb" / "scores.parquet", benchmark=args.benchmark)
    print(f"{args.benchmark}: {len(table.systems)} systems × {len(table.tasks)} tasks")
    host = rankarena.plugin_manager()
    borda = host.aggregators.create("borda").aggregate
    timed(borda, table, 10)  # warm-up
    times = [timed(borda, table, args.samples)[0] for _ in range(args.repeats)]
    best = statistics.median(times)
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(
        f"borda: {args.samples} resamples in {best:.3f} s (median of {runs}); "
        f"{1000 * best / args.samples:.3f} ms per resample; target < {SECONDS_TARGET:g} s"
        f" for 1000: {'met' if best * 1000 / args.samples < SECONDS_TARGET else 'MISSED'}"
    )
    for spec in host.aggregators.specs():
        if spec.name == "borda":
            continue
        params = {"tournaments": args.swiss_tournaments} if spec.name == "swiss" else {}
        aggregate = host.aggregators.create(spec.name, **params).aggregate
        started = time.perf_counter()
        aggregate(table)
        once = time.perf_counter() - started
        samples = min(args.samples, max(5, int(args.budget / max(once, 1e-9))))
        seconds, found = timed(aggregate, table, samples)
        shown = f"{spec.name} ({args.swiss_tournaments} tournaments)" if params else spec.name
        print(
            f"{shown}: {samples} resamples in {seconds:.3f} s; "
            f"{1000 * seconds / samples:.2f} ms per resample; {found.summary()}"
        )
    if not args.no_compare:
        bench_compare(args.permutations, args.repeats)
    return 0 if best * 1000 / args.samples < SECONDS_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
