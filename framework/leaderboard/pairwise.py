"""Pairwise outcomes of a ``ScoreTable``: who beats whom on which task.

Every pairwise aggregation rule (Condorcet, Copeland, Minimax, Kemeny, Elo, Bradley-Terry,
Swiss tournaments) starts from the same comparison: on task t, system i beats system j when
both have a score and s[i, t] > s[j, t]. A pair where either score is missing is *not
compared* on that task (neither a win nor a loss); equal scores are a tie.

**Memory.** The comparison of every pair on every task is a systems × systems × tasks
array: 5,000 systems × 200 tasks make 5·10⁹ cells, 37 GiB as float64. Nothing here holds
it at once: the matrices summed over tasks (``preference_matrix``, ``strict_wins``) are
built a block of rows (systems i) at a time, each block comparing its rows with every
system on every task in at most ``BLOCK_BYTES`` of int8/bool work arrays. The comparisons
are made on per-task ranks (``task_ranks``, float32: the same order, half the bytes of the
scores). Summing block by block changes nothing: each cell is reduced over the tasks
exactly as over the whole array, so the results are bit for bit those of the unblocked
computation (``tests/test_social_choice.py``).

What must be held (the systems × systems results, ``outcomes``' full array) is estimated
first and refused when it exceeds the limit (``require_memory``): ``RANKARENA_MAX_MEMORY``
or, unset, half of the machine's physical memory (``rankarena.core.memory``).
The refusal is one line: ``aggregator 'copeland' needs 18.7 GiB for 25000 systems x 200
tasks (pairwise matrices); limit: 5.0 GiB (RANKARENA_MAX_MEMORY=5G)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..core import memory
from ..data.score_table import ScoreTable
from ..errors import ParameterError

BLOCK_BYTES = 32 * 2**20
"""Work arrays of one block of rows (2 bytes per (row, system, task) compared; 10 beyond
``EINSUM_BUFFER`` tasks)."""
EINSUM_BUFFER = 8192
"""Elements NumPy's ``einsum`` casts at a time (its iterator's default buffer)."""
PAIRWISE_MATRICES = 4
"""systems × systems float64 matrices a pairwise rule may hold at once (estimate)."""


# ------------------------------------------------------------------------------- memory


def require_memory(who: str, needed: int, table: ScoreTable, what: str) -> None:
    """Raise a one-line ``RankarenaError`` when ``needed`` bytes exceed the memory limit
    (``rankarena.core.memory``): ``{who} needs 37.3 GiB for 5000 systems x 200 tasks
    ({what}); limit: ...``."""
    memory.require_memory(
        who, needed, f"for {len(table.systems)} systems x {len(table.tasks)} tasks ({what})"
    )


def matrices_bytes(table: ScoreTable) -> int:
    """Estimate of a pairwise rule's memory: ``PAIRWISE_MATRICES`` float64 matrices
    systems × systems, plus one block of work arrays."""
    size, tasks = len(table.systems), len(table.tasks)
    return PAIRWISE_MATRICES * 8 * size * size + block_bytes(size, tasks, 10)


def block_bytes(systems: int, tasks: int, cell_bytes: int) -> int:
    """Work memory of one block of rows: ``BLOCK_BYTES``, or less for a small table (all
    rows at once), or more when one row alone is larger (``cell_bytes`` per cell)."""
    whole = cell_bytes * systems * systems * tasks
    return max(min(BLOCK_BYTES, whole), cell_bytes * systems * tasks)


def row_blocks(
    systems: int, tasks: int, rows: int | None = None, cell_bytes: int = 2
) -> Iterator[slice]:
    """Consecutive row ranges covering ``systems`` rows, each comparing its rows with every
    system on every task in at most ``BLOCK_BYTES`` (``cell_bytes`` per cell; at least one
    row). ``rows`` forces the block height (the tests compare block sizes)."""
    height = rows or max(1, BLOCK_BYTES // max(cell_bytes * systems * tasks, 1))
    for start in range(0, systems, height):
        yield slice(start, min(start + height, systems))


# --------------------------------------------------------------------------- comparisons


def task_ranks(scores: np.ndarray) -> np.ndarray:
    """Per task (column) the dense rank of each score, 0 for the lowest, equal scores equal
    ranks, NaN where missing: r[i, t] > r[j, t] exactly when s[i, t] > s[j, t].

    float32 (exact for ranks below 2²⁴, else float64): comparing ranks moves half the bytes
    of comparing the float64 scores, for the same outcome.
    """
    dtype = np.float32 if len(scores) < 2**24 else np.float64
    order = np.argsort(scores, axis=0, kind="stable")  # NaN last
    ordered = np.take_along_axis(scores, order, axis=0)
    step = np.ones(ordered.shape, dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=step[1:])
    ranks = np.empty(scores.shape, dtype=dtype)
    np.put_along_axis(ranks, order, (np.cumsum(step, axis=0) - 1).astype(dtype), axis=0)
    ranks[np.isnan(scores)] = np.nan
    return ranks


def _points(ranks: np.ndarray, rows: slice, ties: bool) -> np.ndarray:
    """int8 [rows, S, T]: [r_it > r_jt] (+ [r_it >= r_jt] when ``ties``) for i in ``rows``,
    r = ``task_ranks``; 0 where either score is missing (NaN compares false). With ties:
    2 win, 1 tie, 0 loss."""
    here, there = ranks[rows, None, :], ranks[None, :, :]
    points = np.greater(here, there).view(np.int8)
    if ties:
        points += np.greater_equal(here, there).view(np.int8)
    return points


def outcomes(
    table: ScoreTable, *, who: str = "pairwise outcomes", rows: int | None = None
) -> np.ndarray:
    """``O[i, j, t]`` as int8: +1 when i beats j on task t, −1 when j beats i, 0 on a tie
    or when either score is missing (see ``compared`` to tell those apart).

    O = [s_it > s_jt] − [s_it < s_jt], filled a block of rows at a time; the whole array
    (systems² × tasks bytes) must fit the memory limit (``rankarena.core.memory``).
    """
    size, tasks = table.scores.shape
    needed = size * size * tasks + block_bytes(size, tasks, 2)
    require_memory(who, needed, table, "pairwise outcomes")
    result = np.empty((size, size, tasks), dtype=np.int8)
    ranks = task_ranks(table.scores)
    for block in row_blocks(size, tasks, rows):
        here, there = ranks[block, None, :], ranks[None, :, :]
        beats = np.greater(here, there).view(np.int8)
        np.subtract(beats, np.less(here, there).view(np.int8), out=result[block])
    return result


def compared(
    table: ScoreTable, *, who: str = "pairwise comparisons", rows: int | None = None
) -> np.ndarray:
    """``C[i, j, t]``: True where both i and j have a score on task t (and i ≠ j)."""
    size, tasks = table.scores.shape
    needed = size * size * tasks + block_bytes(size, tasks, 2)
    require_memory(who, needed, table, "pairwise comparisons")
    present = ~np.isnan(table.scores)
    both = np.empty((size, size, tasks), dtype=bool)
    for block in row_blocks(size, tasks, rows):
        np.logical_and(present[block, None, :], present[None, :, :], out=both[block])
    both[np.arange(size), np.arange(size), :] = False
    return both


def task_weights(table: ScoreTable, weights: Sequence[float] | None) -> np.ndarray:
    """One non-negative weight per task (default all 1), checked against the table."""
    if weights is None:
        return np.ones(len(table.tasks))
    values = np.asarray(weights, dtype=np.float64)
    if values.shape != (len(table.tasks),) or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ParameterError(
            f"task weights: need {len(table.tasks)} finite non-negative numbers, got {weights!r}"
        )
    return values


def preference_matrix(
    table: ScoreTable,
    weights: Sequence[float] | None = None,
    *,
    who: str = "pairwise preferences",
    rows: int | None = None,
) -> np.ndarray:
    """``P[i, j]`` = Σ_t w_t · ([i beats j on t] + ½ [tie on t]) over the tasks comparing them.

    ``P[i, j] + P[j, i]`` is the total weight of the tasks where both have a score. Built by
    blocks of rows as Σ_t (w_t / 2) · ([s_it > s_jt] + [s_it ≥ s_jt]), the same products
    w_t · {0, ½, 1} summed in the same order as over the whole array; P[i, i] = 0.
    """
    w = task_weights(table, weights)
    require_memory(who, matrices_bytes(table), table, "pairwise matrices")
    return _summed(table, w * 0.5, rows, ties=True)


def strict_wins(
    table: ScoreTable,
    weights: np.ndarray,
    *,
    who: str = "pairwise wins",
    rows: int | None = None,
) -> np.ndarray:
    """``W[i, j]`` = Σ_t w_t [i scores strictly higher than j on t], over tasks with both.

    ``W[i, j]`` is the weighted number of voters preferring i to j; ties count for neither.
    Built by blocks of rows, like ``preference_matrix``.
    """
    require_memory(who, matrices_bytes(table), table, "pairwise matrices")
    return _summed(table, np.asarray(weights, dtype=np.float64), rows, ties=False)


def _summed(table: ScoreTable, w: np.ndarray, rows: int | None, ties: bool) -> np.ndarray:
    """Σ_t w_t · h[i, j, t] by blocks of rows, h from ``_points``; P[i, i] = 0.

    ``einsum`` casts an int8 operand through a buffer of ``EINSUM_BUFFER`` elements; a
    longer task axis would have its sums split there (a different rounding), so such rows
    are cast to float64 first and every sum runs in one piece, as over the whole array.
    """
    size, tasks = table.scores.shape
    wide = tasks > EINSUM_BUFFER
    ranks = task_ranks(table.scores)
    result = np.empty((size, size))
    for block in row_blocks(size, tasks, rows, cell_bytes=10 if wide else 2):
        points = _points(ranks, block, ties)
        if wide:
            points = points.astype(np.float64)
        np.einsum("ijt,t->ij", points, w, out=result[block])
    result[np.arange(size), np.arange(size)] = 0.0  # a system ties itself: no pair
    return result
