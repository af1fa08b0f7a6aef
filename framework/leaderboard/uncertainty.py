"""How sure is a leaderboard? A two-level bootstrap of tasks and queries, for any rule.

Method (the nonparametric bootstrap, Efron & Tibshirani, "An Introduction to the
Bootstrap", 1993, ch. 6 and 13; for data in two stages, Davison & Hinkley, "Bootstrap
Methods and their Application", 1997, §3.8). Each of ``samples`` resamples of a
systems × tasks ``ScoreTable``:

1. **tasks** — draw T of the T tasks with replacement (a task drawn twice appears twice,
   as ``task#2``, its type kept);
2. **queries** — for each drawn task copy that has per-query values (``QueryValues``), draw
   its Q queries with replacement (a fresh draw per copy) and recompute every system's
   task score as the mean of its values over the drawn queries (a query drawn twice counts
   twice; queries the system lacks are skipped; no drawn query: a missing cell). A system
   without any per-query value on the task keeps its score. Tasks without per-query values
   keep their scores: the resample is task-level only there (``levels``);
3. the resampled table is ranked by the same rule (any ``ScoreTable -> Ranking``).

From the ranks r_b(i) of the resamples it reports, per system, the percentile interval of
its rank (the (α/2, 1 − α/2) nearest-rank percentiles, ``inverted_cdf``, as
``rank_intervals.bootstrap_ranks``, α = 1 − ``level``), the win probabilities
``beats[i, j]`` = share of resamples with r_b(i) < r_b(j) (strictly better; so
``beats[i, j] + beats[j, i] <= 1``, the rest being ties), and tied groups.

**Tied groups** (after Hall & Miller, "Using the bootstrap to quantify the authority of an
empirical ranking", Ann. Statist. 37(6B), 2009, which shows that near-ties make single
ranks unreliable). The systems are ordered by their point rank (the rule on the full
table; equal ranks by name). Two neighbours s_k, s_k+1 are *separated* when
``beats[s_k, s_k+1] >= 1 − α/2``: the percentile interval of the rank difference
r_b(s_k+1) − r_b(s_k) lies strictly above 0. A tied group is a maximal run of consecutive
systems with no separation inside. This answers the question a reader asks of a
leaderboard — how many of its adjacent places can be told apart at this level — with
one number per pair, instead of reading overlaps of marginal intervals (two intervals
may overlap while the pair's order is stable across resamples). Groups do not chain
non-adjacent comparisons: 1 and 3 may be separable while 1–2 and 2–3 are not.

**Borda basis.** A table read from an MTEB results folder carries mteb's ``BordaBasis``
(Borda ranks on the mean of whatever each model scored, among more models). It is
resampled consistently: the drawn task names select both the table's columns and the
basis's columns (a table task the basis lacks adds no basis column), so ``borda`` still
ranks each resample on mteb's basis; the basis itself is resampled at the task level only
(per-query values never come with it).

Caveat: resampling both levels with replacement counts the within-task query noise twice
(once through the task draw, once through the query draw), so the intervals are somewhat
conservative when each task has few queries relative to the between-task spread
(Davison & Hinkley 1997, §3.8); the task level alone is the usual estimate.

Memory: the ranks of every resample (int64, plus the copies ``np.quantile`` sorts) and two
systems × systems matrices, checked with ``require_memory`` before the first resample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.score_table import BordaBasis, Ranking, ScoreTable
from ..errors import DataFormatError, ParameterError
from .pairwise import require_memory
from .rank_intervals import RANK_COPIES


@dataclass(frozen=True)
class QueryValues:
    """Per-query values of a metric, per task: ``values[task]`` is a systems × queries float
    matrix (rows ``systems``, columns ``queries[task]``; NaN where a system lacks a query)."""

    systems: tuple[str, ...]
    values: Mapping[str, np.ndarray]
    queries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def for_table(self, table: ScoreTable) -> list[np.ndarray | None]:
        """Per task of ``table``, its matrix with rows aligned to ``table.systems`` (NaN rows
        for systems not here), or None where the task has no per-query values."""
        at = {s: i for i, s in enumerate(self.systems)}
        rows = np.array([at.get(s, -1) for s in table.systems], dtype=np.int64)
        aligned: list[np.ndarray | None] = []
        for task in table.tasks:
            matrix = self.values.get(task)
            if matrix is None or matrix.shape[1] == 0:
                aligned.append(None)
                continue
            out = np.full((len(table.systems), matrix.shape[1]), np.nan)
            out[rows >= 0] = matrix[rows[rows >= 0]]
            aligned.append(out if (~np.isnan(out)).any() else None)
        return aligned


@dataclass(frozen=True)
class RankUncertainty:
    """The two-level bootstrap of one rule (see the module docstring).

    ``low``/``high``: per system (``systems`` order) the rank interval; ``beats[i, j]``: the
    share of resamples where i ranks strictly better than j; ``order``: system indices by
    point rank (ties by name); ``group``: per system its tied group, 1 = the top group;
    ``levels``: per task 2 (tasks and its queries resampled) or 1 (the task only).
    """

    systems: tuple[str, ...]
    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    beats: np.ndarray
    order: np.ndarray
    group: np.ndarray
    levels: tuple[int, ...]
    samples: int
    level: float

    @property
    def tied_groups(self) -> list[tuple[str, ...]]:
        """The tied groups, best first, each in point-rank order."""
        groups: list[list[str]] = []
        for i in self.order:
            if len(groups) < self.group[i]:
                groups.append([])
            groups[-1].append(self.systems[i])
        return [tuple(g) for g in groups]

    @property
    def separable(self) -> int:
        """How many adjacent pairs (in point-rank order) are separated."""
        return len(self.tied_groups) - 1

    @property
    def pairs(self) -> int:
        """Adjacent pairs in point-rank order: systems − 1."""
        return max(len(self.systems) - 1, 0)

    def summary(self) -> str:
        """``k of n adjacent pairs separable; G tied groups``."""
        return (
            f"{self.separable} of {self.pairs} adjacent pairs separable; "
            f"{len(self.tied_groups)} tied groups"
        )


def two_level_bootstrap(
    aggregate: Callable[[ScoreTable], Ranking],
    table: ScoreTable,
    query_values: QueryValues | None = None,
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> RankUncertainty:
    """Rank intervals, win probabilities and tied groups of ``aggregate`` on ``table`` from
    ``samples`` resamples of its tasks and, where ``query_values`` has them, of each
    drawn task's queries (see the module docstring for the method)."""
    if isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 1:
        raise ParameterError(f"uncertainty: samples must be a positive integer; got {samples!r}")
    if not 0.0 < float(level) < 1.0:
        raise ParameterError(f"uncertainty: level must be in (0, 1); got {level!r}")
    size, n_tasks = len(table.systems), len(table.tasks)
    if size == 0 or n_tasks == 0:
        raise ParameterError("uncertainty: the table has no systems or no tasks")
    needed = 8 * RANK_COPIES * samples * size + 16 * size * size
    require_memory("uncertainty", needed, table, f"the ranks of {samples} resamples")
    per_query = query_values.for_table(table) if query_values is not None else [None] * n_tasks
    resampler = _Resampler(table, per_query)
    point = np.asarray(aggregate(table).ranks, dtype=np.int64)
    rng = np.random.default_rng(seed)
    ranks = np.empty((samples, size), dtype=np.int64)
    wins = np.zeros((size, size), dtype=np.int32)
    for b in range(samples):
        ranks[b] = aggregate(resampler.draw(rng)).ranks
        wins += ranks[b][:, None] < ranks[b][None, :]
    alpha = 1.0 - float(level)
    low = np.quantile(ranks, alpha / 2, axis=0, method="inverted_cdf").astype(np.int64)
    high = np.quantile(ranks, 1 - alpha / 2, axis=0, method="inverted_cdf").astype(np.int64)
    beats = wins / samples
    order = np.lexsort((np.array(table.systems, dtype=str), point))
    group = np.empty(size, dtype=np.int64)
    current = 1
    for k, i in enumerate(order):
        if k > 0 and beats[order[k - 1], i] >= 1 - alpha / 2:
            current += 1
        group[i] = current
    levels = tuple(1 if m is None else 2 for m in per_query)
    return RankUncertainty(
        table.systems, point, low, high, beats, order, group, levels, samples, float(level)
    )


class _Resampler:
    """Draws resampled tables of ``table``: the work that does not depend on the draw
    (task names of repeats, zero-filled query matrices, the basis's columns) done once."""

    def __init__(self, table: ScoreTable, per_query: Sequence[np.ndarray | None]):
        self.table = table
        for t, matrix in enumerate(per_query):
            if matrix is not None:
                _require_means(table, t, matrix)
        self.query = [
            None if m is None else _QueryTask(m, table.scores[:, t])
            for t, m in enumerate(per_query)
        ]
        self.basis = table.borda_basis
        if self.basis is not None:
            at = {task: j for j, task in enumerate(self.basis.tasks)}
            self.basis_column = np.array([at.get(t, -1) for t in table.tasks], dtype=np.int64)

    def draw(self, rng: np.random.Generator) -> ScoreTable:
        table = self.table
        n_tasks = len(table.tasks)
        columns = rng.integers(0, n_tasks, n_tasks)
        scores = table.scores[:, columns]
        for k, column in enumerate(columns):
            query = self.query[column]
            if query is not None:
                scores[:, k] = query.draw(rng)
        names, types = self._renamed(columns)
        basis = None
        if self.basis is not None:
            keep = self.basis_column[columns]
            keep = keep[keep >= 0]
            b = self.basis
            basis = BordaBasis(
                b.systems, tuple(b.tasks[j] for j in keep), b.scores[:, keep], b.n, b.rows
            )
        return ScoreTable(table.systems, names, scores, types, basis)

    def _renamed(self, columns: np.ndarray) -> tuple[tuple[str, ...], dict[str, str]]:
        """Task names of the drawn columns (a repeat k ≥ 2 of a task is ``task#k``)."""
        tasks, task_types = self.table.tasks, self.table.task_types
        seen: dict[int, int] = {}
        names, types = [], {}
        for column in columns.tolist():
            count = seen[column] = seen.get(column, 0) + 1
            name = tasks[column] if count == 1 else f"{tasks[column]}#{count}"
            names.append(name)
            kind = task_types.get(tasks[column])
            if kind is not None:
                types[name] = kind
        return tuple(names), types


def _require_means(table: ScoreTable, task: int, matrix: np.ndarray) -> None:
    """Each system's mean over its per-query values of task ``task`` must be its task score
    (to 1e-6): otherwise the resamples would be centred elsewhere than the leaderboard (the
    per-query rows of another run, or a metric whose summary is not the mean)."""
    present = ~np.isnan(matrix)
    counts = present.sum(axis=1)
    sums = np.where(present, matrix, 0.0).sum(axis=1)
    for s in np.flatnonzero(counts > 0):
        mean, stored = sums[s] / counts[s], table.scores[s, task]
        if not abs(mean - stored) <= 1e-6 * max(1.0, abs(stored)):
            raise DataFormatError(
                None,
                f"uncertainty: the per-query values of {table.systems[s]} on "
                f"{table.tasks[task]} average {mean:.6f}, but its task score is {stored:.6f} "
                "(per-query rows of another run, or a metric not averaged over queries); "
                "store both from one evaluation, or leave out --uncertainty",
            )


class _QueryTask:
    """One task's per-query values, ready for weighted means: a draw of the queries is a
    count per query, and each system's score is Σ count·value / Σ count over its present
    queries (NaN when none was drawn); rows without any value keep the task score."""

    def __init__(self, matrix: np.ndarray, task_scores: np.ndarray):
        present = ~np.isnan(matrix)
        self.values = np.where(present, matrix, 0.0)
        self.present = present.astype(np.float64)
        self.fixed = ~present.any(axis=1)
        self.task_scores = task_scores[self.fixed]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        n = self.values.shape[1]
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        total = self.values @ counts
        weight = self.present @ counts
        scores = np.divide(total, weight, out=np.full(len(total), np.nan), where=weight > 0)
        scores[self.fixed] = self.task_scores
        return scores
