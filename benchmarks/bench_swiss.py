"""Swiss-tournament aggregator (CSD): the vectorised engine vs a plain per-tournament loop.

    python benchmarks/bench_swiss.py
    python benchmarks/bench_swiss.py --tournaments 20000 --loop-tournaments 500
    python benchmarks/bench_swiss.py --elimination fraction:0.1 --byes float

Data: ``--systems`` x ``--tasks`` scores (``np.random.default_rng(--seed)``): system
strength ~ N(0, 1) plus task noise ~ N(0, 1) per cell, so the table has the shape of the
MTEB English v2 leaderboard (41 tasks) with a clear but noisy order.

Timed, in this process, with the same rules (``--elimination``, default ``none``, the
aggregator's default; ``--byes``, ``--ties``) and the given task order:

* the vectorised engine, ``simulate(table, tournaments=--tournaments, block=--block)``:
  the whole Monte Carlo, from the score table to E[S_m] (``--repeats`` runs, the median);
* the plain Python loop ``reference_tournaments`` of ``tests/swiss_reference.py``, one
  tournament after another, on ``--loop-tournaments`` tournaments, **scaled linearly** to
  ``--tournaments`` (the loop does the same work for every tournament, so its time is
  linear in their number).

Before the timings are trusted, the two must agree: E[S_m] of the loop's tournaments and of
the engine's, per system, within 5 standard errors of their difference; the exit status
is 1 otherwise. Targets: at least 50x faster than the loop, under 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from rankarena import ScoreTable
from rankarena.plugins.aggregators import swiss

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from swiss_reference import reference_tournaments  # the tests' plain per-tournament loop

SPEEDUP_TARGET = 50.0
SECONDS_TARGET = 10.0
AGREEMENT_Z = 5.0


def make_table(systems: int, tasks: int, seed: int) -> ScoreTable:
    """``strength[s] + noise[s, t]``, both standard normal."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(systems)[:, None] + rng.standard_normal((systems, tasks))
    return ScoreTable(
        tuple(f"system{i:03d}" for i in range(systems)),
        tuple(f"task{k:02d}" for k in range(tasks)),
        scores,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tournaments", type=int, default=100_000)
    parser.add_argument("--systems", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=41)
    parser.add_argument("--loop-tournaments", type=int, default=2_000)
    parser.add_argument("--elimination", default="none", help="none, fixed:N, fraction:F")
    parser.add_argument("--byes", default="group", choices=swiss.BYE_RULES)
    parser.add_argument("--ties", default="coin", choices=swiss.TIE_RULES)
    parser.add_argument("--block", type=int, default=1_000, help="tournaments played at once")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.tournaments, args.systems, args.tasks, args.loop_tournaments, args.repeats) < 1:
        parser.error("sizes and --repeats must be positive")

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {cpus} CPUs available")
    table = make_table(args.systems, args.tasks, args.seed)
    rules = dict(elimination=args.elimination, byes=args.byes, ties=args.ties)
    plan = swiss._plan(table, None, "given", args.elimination, args.ties, args.byes)
    print(
        f"table: {args.systems} systems x {args.tasks} tasks (strength + task noise, seed "
        f"{args.seed}); {plan.rounds} rounds, elimination {args.elimination!r} "
        f"(cuts {sum(plan.schedule)} systems), byes {args.byes!r}, ties {args.ties!r}"
    )

    def engine() -> swiss.SwissResult:
        return swiss.simulate(
            table, tournaments=args.tournaments, seed=args.seed, block=args.block, **rules
        )

    swiss.simulate(table, tournaments=min(args.block, 200), **rules)  # warm-up
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = engine()
        times.append(time.perf_counter() - start)
    fast = statistics.median(times)

    start = time.perf_counter()
    loop = reference_tournaments(plan, args.loop_tournaments, seed=args.seed + 1)
    loop_measured = time.perf_counter() - start
    loop_scaled = loop_measured * args.tournaments / args.loop_tournaments

    n_loop = args.loop_tournaments
    se = np.sqrt(result.std**2 / result.tournaments + loop.points.var(0, ddof=1) / n_loop)
    diff = result.expected - loop.points.mean(axis=0)
    z = np.abs(diff) / np.where(se > 0, se, np.inf)
    z[(se == 0) & (diff != 0)] = np.inf
    agree = bool(np.all(z <= AGREEMENT_Z))

    speedup = loop_scaled / fast
    per = 1e6 / args.tournaments
    print()
    print(f"{'implementation':<44} {'tournaments':>11} {'seconds':>9} {'us/tourn.':>10} {'x':>7}")
    print(
        f"{'vectorised simulate() (median of ' + str(args.repeats) + ')':<44} "
        f"{args.tournaments:>11,} {fast:>9.3f} {fast * per:>10.2f} {speedup:>7.1f}"
    )
    print(
        f"{'plain Python loop, measured':<44} {n_loop:>11,} {loop_measured:>9.3f} "
        f"{loop_measured * 1e6 / n_loop:>10.2f} {'':>7}"
    )
    print(
        f"{'plain Python loop, scaled linearly':<44} {args.tournaments:>11,} "
        f"{loop_scaled:>9.3f} {loop_scaled * per:>10.2f} {1.0:>7.1f}"
    )
    print(f"vectorised runs: {', '.join(f'{t:.3f}' for t in times)} s")
    print()
    top = np.argsort(-result.expected)[:3]
    print(
        "top E[S_m]: "
        + ", ".join(f"{table.systems[i]} {result.expected[i]:.3f}" for i in top)
        + f" (of {result.rounds} rounds; {result.matches:.1f} matches per tournament)"
    )
    print(
        f"agreement, vectorised vs loop E[S_m]: max |z| = {float(np.max(z)):.2f} over "
        f"{args.systems} systems (limit {AGREEMENT_Z}): {'OK' if agree else 'DISAGREE'}"
    )
    print(
        f"targets: speed-up {speedup:.1f}x >= {SPEEDUP_TARGET:.0f}x: "
        f"{'met' if speedup >= SPEEDUP_TARGET else 'NOT met'}; "
        f"{fast:.2f} s < {SECONDS_TARGET:.0f} s: {'met' if fast < SECONDS_TARGET else 'NOT met'}"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
