"""Pairwise outcomes of a ``ScoreTable``: who beats whom on which task.

Every pairwise aggregation rule (Condorcet, Copeland, Minimax, Kemeny, Elo, Bradley-Terry,
Swiss tournaments) starts from the same comparison: on task t, system i beats system j when
both have a score and s[i, t] > s[j, t]. A pair where either score is missing is *not
compared* on that task (neither a win nor a loss); equal scores are a tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rankarena.scoretable import ScoreTable


def outcomes(table: ScoreTable) -> np.ndarray:
    """``O[i, j, t]`` as int8: +1 when i beats j on task t, −1 when j beats i, 0 on a tie
    or when either score is missing (see ``compared`` to tell those apart)."""
    scores = table.scores
    diff = scores[:, None, :] - scores[None, :, :]
    return np.nan_to_num(np.sign(diff), nan=0.0).astype(np.int8)


def compared(table: ScoreTable) -> np.ndarray:
    """``C[i, j, t]``: True where both i and j have a score on task t (and i ≠ j)."""
    present = ~np.isnan(table.scores)
    both = present[:, None, :] & present[None, :, :]
    both[np.arange(len(table.systems)), np.arange(len(table.systems)), :] = False
    return both


def task_weights(table: ScoreTable, weights: Sequence[float] | None) -> np.ndarray:
    """One non-negative weight per task (default all 1), checked against the table."""
    from rankarena.errors import ParameterError

    if weights is None:
        return np.ones(len(table.tasks))
    values = np.asarray(weights, dtype=np.float64)
    if values.shape != (len(table.tasks),) or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ParameterError(
            f"task weights: need {len(table.tasks)} finite non-negative numbers, got {weights!r}"
        )
    return values


def preference_matrix(table: ScoreTable, weights: Sequence[float] | None = None) -> np.ndarray:
    """``P[i, j]`` = Σ_t w_t · ([i beats j on t] + ½ [tie on t]) over the tasks comparing them.

    ``P[i, j] + P[j, i]`` is the total weight of the tasks where both have a score.
    """
    w = task_weights(table, weights)
    result = outcomes(table)
    both = compared(table)
    wins = (result > 0) + 0.5 * ((result == 0) & both)
    return np.einsum("ijt,t->ij", wins.astype(np.float64), w)
