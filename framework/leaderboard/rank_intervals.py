"""Bootstrap intervals on ranks: how sure is a leaderboard of each system's place?

Resample the tasks with replacement (Efron & Tibshirani, "An Introduction to the
Bootstrap", 1993), aggregate each resampled table with the same rule, and report per system
the (α/2, 1 − α/2) percentiles of its rank over the resamples (95% by default). A task
drawn twice appears twice, under the names ``task#1``, ``task#2`` (its type kept).

The ranks of every resample are kept (8 bytes per resample and system, and two float
copies for the percentiles); that estimate is checked against
``rankarena.core.memory.memory_limit`` before the first resample.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data.score_table import Ranking, ScoreTable
from .pairwise import require_memory

RANK_COPIES = 3
"""int64 ranks plus the two float64 copies ``np.quantile`` sorts: bytes = 8 × this × B × S."""


def resample_tasks(table: ScoreTable, columns: np.ndarray) -> ScoreTable:
    """``table`` with the task columns ``columns`` (repeats renamed ``task#k``)."""
    seen: dict[str, int] = {}
    names, types = [], {}
    for column in columns:
        task = table.tasks[column]
        seen[task] = seen.get(task, 0) + 1
        name = task if seen[task] == 1 else f"{task}#{seen[task]}"
        names.append(name)
        if task in table.task_types:
            types[name] = table.task_types[task]
    return ScoreTable(table.systems, tuple(names), table.scores[:, columns], types)


def bootstrap_ranks(
    aggregate: Callable[[ScoreTable], Ranking],
    table: ScoreTable,
    samples: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): per system the percentile interval of its rank over ``samples``
    bootstrap resamples of the tasks (``level`` coverage, nearest-rank percentiles)."""
    needed = 8 * RANK_COPIES * samples * len(table.systems)
    require_memory("bootstrap", needed, table, f"the ranks of {samples} resamples")
    rng = np.random.default_rng(seed)
    n_tasks = len(table.tasks)
    ranks = np.empty((samples, len(table.systems)), dtype=np.int64)
    for b in range(samples):
        ranking = aggregate(resample_tasks(table, rng.integers(0, n_tasks, n_tasks)))
        ranks[b] = ranking.ranks
    alpha = (1.0 - level) / 2.0
    low = np.quantile(ranks, alpha, axis=0, method="inverted_cdf")
    high = np.quantile(ranks, 1.0 - alpha, axis=0, method="inverted_cdf")
    return low.astype(np.int64), high.astype(np.int64)
