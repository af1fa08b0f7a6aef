"""Coverage of the two-level bootstrap's rank intervals, by spacing of the true means.

    python benchmarks/coverage_rank_intervals.py [--spacings 0.05,0.1,0.25,0.5,1.0]

Tables drawn from the model the task-level bootstrap assumes: 8 systems, 30 i.i.d. tasks,
score[s, t] = mu_s + task effect_t + noise[s, t] (both standard normal), true means
``spacing`` apart (true rank of system s: s + 1), ranked by the ``mean`` aggregator;
``--tables`` tables × ``--samples`` resamples, seed 2026 (the suite's
``tests/test_uncertainty.py::test_rank_interval_coverage_simulation`` asserts two points of
this curve). Prints the share of (system, table) pairs whose interval holds the true rank.
"""

from __future__ import annotations

import argparse

import numpy as np

import rankarena
from rankarena import ScoreTable
from rankarena.leaderboard.uncertainty import two_level_bootstrap


def coverage(spacing: float, tables: int, samples: int, seed: int, level: float) -> float:
    """Share of (system, table) pairs whose ``level`` rank interval holds the true rank."""
    mean = rankarena.plugin_manager().aggregators.create("mean").aggregate
    rng = np.random.default_rng(seed)
    size, tasks = 8, 30
    truth = np.arange(1, size + 1)
    mu = -spacing * np.arange(size)
    systems = tuple(f"s{i}" for i in range(size))
    names = tuple(f"t{j}" for j in range(tasks))
    covered = 0
    for _ in range(tables):
        scores = mu[:, None] + rng.normal(size=tasks)[None, :] + rng.normal(size=(size, tasks))
        table = ScoreTable(systems, names, scores)
        found = two_level_bootstrap(
            mean, table, samples=samples, seed=int(rng.integers(2**31)), level=level
        )
        covered += int(((found.low <= truth) & (truth <= found.high)).sum())
    return covered / (tables * size)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spacings", default="0.05,0.1,0.25,0.5,1.0")
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--level", type=float, default=0.95)
    args = parser.parse_args()
    print("| spacing | coverage |\n| ---: | ---: |")
    for spacing in (float(s) for s in args.spacings.split(",")):
        found = coverage(spacing, args.tables, args.samples, args.seed, args.level)
        print(f"| {spacing:g} | {found:.1%} |", flush=True)


if __name__ == "__main__":
    main()
