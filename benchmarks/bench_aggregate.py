"""Every registered aggregator at leaderboard scale: time and peak memory, 100 → 10,000 systems.

    python benchmarks/bench_aggregate.py                         # 100, 1000, 10000 x 500
    python benchmarks/bench_aggregate.py --systems 100 1000 --tasks 200 --only copeland swiss
    python benchmarks/bench_aggregate.py --systems 10000 --only elo --param elo.rounds_per_task=20

Data: ``systems`` x ``tasks`` scores from ``np.random.default_rng(--seed)``: strength
~ N(0, 1) per system plus noise ~ N(0, 1) per cell, and ``--missing`` of the cells empty
(MTEB tables have holes); aggregators that refuse holes (``missing_cells = "error"``) get
the full table.

Each (aggregator, size) runs in a fresh process (``python bench_aggregate.py --case``) so
that its peak resident memory (``ru_maxrss`` of the child) is its own; the table is built
in that process too and its bytes are counted in the peak (10,000 x 500 float64: 38 MiB).
A case that runs past ``--timeout`` seconds is reported as such. Goal (issue 19): every
built-in at 10,000 systems x 500 tasks within 8 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ERROR_ON_HOLES = "error"


def table(systems: int, tasks: int, missing: float, seed: int):
    """The benchmark's score table (see the module docstring)."""
    from rankarena import ScoreTable

    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(systems, 1)) + rng.normal(size=(systems, tasks))
    if missing > 0:
        scores[rng.random(scores.shape) < missing] = np.nan
    names = tuple(f"system-{i:05d}" for i in range(systems))
    return ScoreTable(names, tuple(f"task-{t:03d}" for t in range(tasks)), scores)


def run_case(name: str, systems: int, tasks: int, missing: float, seed: int, params: dict) -> dict:
    """Aggregate once in this process; return seconds and the ranking's first system."""
    from rankarena.core.host import plugin_manager

    host = plugin_manager()
    aggregator = host.aggregators.create(name, **params)
    holes = missing if getattr(aggregator, "missing_cells", "skip") != ERROR_ON_HOLES else 0.0
    scores = table(systems, tasks, holes, seed)
    start = time.perf_counter()
    ranking = aggregator.aggregate(scores)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "first": ranking.systems[0], "holes": holes}


def parameters(given: list[str], name: str) -> dict:
    """``--param NAME.KEY=VALUE`` settings of aggregator ``name`` (values read as JSON)."""
    found = {}
    for item in given:
        key, _, value = item.partition("=")
        owner, _, key = key.partition(".")
        if owner == name:
            found[key] = json.loads(value)
    return found


def measure(name: str, systems: int, tasks: int, args) -> dict:
    """Run one case in a child process; its time, peak RSS and outcome."""
    command = [sys.executable, __file__, "--case", name, "--systems", str(systems)]
    command += ["--tasks", str(tasks), "--missing", str(args.missing), "--seed", str(args.seed)]
    command += [f"--param={item}" for item in args.param]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"over {args.timeout} s"}
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"status": lines[-1][:120] if lines else f"exit {done.returncode}"}
    found = json.loads(done.stdout.strip().splitlines()[-1])  # with the child's own peak
    found["status"] = "ok"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--missing", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--only", nargs="+", help="these aggregators (default: every one)")
    parser.add_argument(
        "--param", action="append", default=[], help="NAME.KEY=VALUE: a parameter (JSON value)"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        params = parameters(args.param, args.case)
        found = run_case(args.case, args.systems[0], args.tasks, args.missing, args.seed, params)
        found["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(found))
        return
    from rankarena.core.host import plugin_manager

    names = args.only or plugin_manager().aggregators.names()
    print(f"{'aggregator':<20} {'systems':>8} {'tasks':>6} {'seconds':>9} {'peak RSS':>10}  status")
    for name in names:
        for systems in args.systems:
            found = measure(name, systems, args.tasks, args)
            given = parameters(args.param, name)
            name_shown = name + "".join(f" {k}={v}" for k, v in given.items())
            seconds = f"{found['seconds']:.2f}" if "seconds" in found else "-"
            peak = f"{found['peak_kib'] / 2**20:.2f} GiB" if found.get("peak_kib") else "-"
            print(
                f"{name_shown:<20} {systems:>8,} {args.tasks:>6} {seconds:>9} {peak:>10}  "
                f"{found['status']}",
                flush=True,
            )


if __name__ == "__main__":
    os.environ.setdefault("RANKARENA_MAX_MEMORY", "8G")  # the bound, for every case
    main()
