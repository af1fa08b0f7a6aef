"""Built-in aggregators that rate systems from pairwise task outcomes: ``elo``, ``bradley-terry``.

Every task is a tournament of matches between the systems that both have a score on it
(``rankarena.leaderboard.pairwise``): the higher score wins, equal scores draw (½ each), a pair
with a
missing score does not play.

* ``elo`` (Elo, "The Rating of Chessplayers, Past and Present", 1978): ratings start at
  ``initial``; a match of i against j with result S ∈ {1, ½, 0} updates
  R_i ← R_i + K (S − E_ij) and R_j ← R_j − K (S − E_ij), E_ij = 1 / (1 + 10^((R_j − R_i)/400)).
  Elo depends on the order of the matches, so the final ratings are averaged over ``orders``
  random orders (seeded). An order here is: the tasks in random order; within a task, every
  pair once, scheduled as a round-robin (circle method) under a random seating, the rounds in
  random order. The matches of one round share no system, so each round is one vectorised
  update, exactly equal to playing its matches one after another. Each match reads the two
  scores it compares, so memory stays O(orders × systems), whatever the number of tasks.
* ``bradley-terry`` (Bradley & Terry, Biometrika 1952; Zermelo 1929): P(i beats j) =
  σ(β_i − β_j). β maximises the log-likelihood Σ_{i≠j} W_ij log σ(β_i − β_j) − (λ/2)‖β‖²
  with W_ij the (weighted) number of tasks i beats j (draws count ½ to each), under
  Σ β = 0; the small ridge λ keeps β finite when a system wins or loses every match.
  Standard errors: the square roots of the diagonal of the inverse of the observed
  information, the Hessian H = Σ_{i<j} n_ij p_ij (1 − p_ij) (e_i − e_j)(e_i − e_j)ᵀ + λI,
  restricted to Σ β = 0 (Moore–Penrose inverse).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import rankarena
from rankarena import ParameterError, Ranking, ScoreTable
from rankarena.api.aggregation import preference_matrix, require_memory, row_blocks
from rankarena.api.checks import non_negative_number

FIT_MATRICES = 2
"""systems × systems float64 matrices ``BradleyTerry`` holds besides the win matrix (the
Hessian, the blocks of the likelihood), for the memory estimate."""
BLOCK_ARRAYS = 6
"""block × systems float64 arrays one block of the likelihood or Hessian holds at once."""


class Elo:
    """Elo ratings from task outcomes, averaged over random match orders.

    :param k: the update step K (4, as LMSYS's Chatbot Arena; 32 is the chess habit).
    :param initial: the starting rating.
    :param orders: random orders averaged over.
    :param seed: seed of the orders.
    :param rounds_per_task: play only this many of the n − 1 rounds of each task's round
        robin (the first ones of its random round order), for large fields; default: all.

    Cost: O(orders × tasks × n²) time for the full round robin (orders × tasks × (n − 1)
    vectorised rounds of n/2 matches), O(orders × tasks × rounds_per_task × n) with
    ``rounds_per_task``; memory O(orders × n + systems × tasks), whatever the size.

    The orders are drawn for the table with its systems and tasks in name order, and
    without the tasks fewer than two systems have a score on (they play no match), so the
    ratings depend neither on the order the table lists them in nor on such tasks.
    """

    missing_cells = "skip"  # a match with a missing score is not played

    def __init__(
        self,
        k: float = 4.0,
        initial: float = 1000.0,
        orders: int = 20,
        seed: int = 0,
        rounds_per_task: int | None = None,
    ):
        if k <= 0 or orders < 1:
            raise ParameterError(f"aggregator 'elo': need k > 0 and orders >= 1, got {k}, {orders}")
        per_task = rounds_per_task
        if per_task is not None and (type(per_task) is not int or per_task < 1):
            raise ParameterError(
                "aggregator 'elo': rounds_per_task must be an integer >= 1, "
                f"got {rounds_per_task!r}"
            )
        self.k, self.initial, self.orders, self.seed = float(k), float(initial), orders, seed
        self.rounds_per_task = rounds_per_task

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Mean final rating per system; extras: its standard deviation over orders."""
        named = scores.in_name_order()  # the draws never depend on the table's order
        playable = (~np.isnan(named.scores)).sum(axis=0) >= 2  # a task with a match at all
        named = ScoreTable(
            named.systems,
            tuple(t for t, keep in zip(named.tasks, playable, strict=True) if keep),
            named.scores[:, playable],
        )
        ratings = self.ratings(named)
        return Ranking.from_scores(
            "elo", named.systems, ratings.mean(axis=0), rating_std=ratings.std(axis=0).tolist()
        ).in_order(scores.systems)

    def ratings(self, scores: ScoreTable) -> np.ndarray:
        """Final ratings, one row per random order: [orders, systems]."""
        n = len(scores.systems)
        rng = np.random.default_rng(self.seed)
        # one extra column: the bye seat of an odd field, never read back
        ratings = np.full((self.orders, n + 1), self.initial)
        if n < 2:
            return ratings[:, :n]
        by_task = np.ascontiguousarray(scores.scores.T).ravel()  # [task * n + system]
        rows = np.arange(self.orders)[:, None]
        for task in _task_orders(rng, len(scores.tasks), self.orders).T:  # one task per order
            seats = np.argsort(rng.random((self.orders, n + n % 2)), axis=1)
            played = rng.permuted(np.tile(np.arange(n + n % 2 - 1), (self.orders, 1)), axis=1)
            for round_number in played.T[: self.rounds_per_task]:
                a, b = _round_pairs(seats, round_number)  # disjoint: plain += is exact
                won, played = _match(by_task, task[:, None] * n, a, b, n)
                expected = 1.0 / (1.0 + 10.0 ** ((ratings[rows, b] - ratings[rows, a]) / 400.0))
                step = np.where(played, self.k * (won - expected), 0.0)
                ratings[rows, a] += step
                ratings[rows, b] -= step
        return ratings[:, :n]


def _match(
    by_task: np.ndarray, offset: np.ndarray, a: np.ndarray, b: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(S, played) of the matches a vs b: S = 1, ½, 0 as a's score on the task is higher,
    equal or lower than b's; played where both are systems (< n, not the bye) with a score.
    The scores are read per match (``by_task[task · n + system]``), never as a systems ×
    systems × tasks array."""
    first = by_task[offset + np.minimum(a, n - 1)]
    second = by_task[offset + np.minimum(b, n - 1)]
    won = (np.greater(first, second).astype(np.float64) + np.greater_equal(first, second)) / 2
    played = (a < n) & (b < n) & ~np.isnan(first) & ~np.isnan(second)
    return won, played


def _task_orders(rng: np.random.Generator, n_tasks: int, orders: int) -> np.ndarray:
    """[orders, tasks]: a random permutation of the tasks per order."""
    return rng.permuted(np.tile(np.arange(n_tasks), (orders, 1)), axis=1)


def _round_pairs(seats: np.ndarray, round_number: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round ``r`` of the circle-method round-robin on ``m`` (even) seats: seat m−1 is fixed,
    the others rotate; pair p plays (r + p) mod (m−1) against (r − p) mod (m−1) for p ≥ 1,
    and seat m−1 meets seat r. Returns the systems (values ≥ n are byes) as [orders, m/2]."""
    m = seats.shape[1]
    r = round_number[:, None]
    p = np.arange(1, m // 2)[None, :]
    first = np.concatenate([np.full_like(r, m - 1), (r + p) % (m - 1)], axis=1)
    second = np.concatenate([r, (r - p) % (m - 1)], axis=1)
    rows = np.arange(len(seats))[:, None]
    return seats[rows, first], seats[rows, second]


class BradleyTerry:
    """Bradley-Terry strengths by maximum likelihood, with standard errors.

    :param ridge: λ of the ridge penalty (keeps strengths finite for unbeaten systems).
    :param task_weights: one weight per task, in the table's task order (default all 1).

    Cost: O(n² T) time for the win matrix (in blocks of rows), O(n²) per L-BFGS step of
    the fit, O(n³) for the standard errors (one Cholesky inverse); memory: the win matrix
    and the Hessian (2 n × n float64 matrices, 1.5 GiB at 10,000 systems).
    """

    missing_cells = "skip"  # a match with a missing score is not played

    def __init__(self, ridge: float = 1e-3, task_weights: Sequence[float] | None = None):
        self.ridge = non_negative_number("aggregator 'bradley-terry'", "ridge", ridge)
        self.task_weights = task_weights

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank by strength β; extras: ``se`` (standard error of β)."""
        who = "aggregator 'bradley-terry'"
        n = len(scores.systems)
        require_memory(who, FIT_MATRICES * 8 * n * n, scores, "Hessian for the standard errors")
        beta, se = self.fit(preference_matrix(scores, self.task_weights, who=who))
        return Ranking.from_scores("bradley-terry", scores.systems, beta, se=se.tolist())

    def fit(self, wins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(β, standard errors) from the win matrix ``wins[i, j]``.

        The log-likelihood and its gradient g_i = Σ_j n_ij p_ij − Σ_j W_ij + λβ_i
        (n = W + Wᵀ, p_ij = σ(β_i − β_j)) are summed a block of rows at a time: memory
        O(n²) for ``wins`` plus O(block × n), time O(n²) per L-BFGS step.
        """
        n = len(wins)
        if n == 0:
            return np.zeros(0), np.zeros(0)
        blocks = list(row_blocks(n, 1, cell_bytes=8 * BLOCK_ARRAYS))
        won = wins.sum(axis=1)

        def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = 0.5 * self.ridge * beta @ beta, self.ridge * beta - won
            for rows in blocks:
                log_p = -np.logaddexp(0.0, beta[None, :] - beta[rows, None])  # log σ(β_i − β_j)
                value -= float((wins[rows] * log_p).sum())
                grad[rows] += ((wins[rows] + wins[:, rows].T) * np.exp(log_p)).sum(axis=1)
            return value, grad

        from scipy.optimize import minimize  # here, not at import: the host loads fast

        solution = minimize(objective, np.zeros(n), jac=True, method="L-BFGS-B")
        beta = solution.x - solution.x.mean()
        return beta, self.standard_errors(wins, beta)

    def hessian(self, wins: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """H = Σ_{i<j} n_ij p_ij (1 − p_ij) (e_i − e_j)(e_i − e_j)ᵀ + λI, by blocks of rows."""
        n = len(beta)
        hessian = np.empty((n, n))
        for rows in row_blocks(n, 1, cell_bytes=8 * BLOCK_ARRAYS):
            p = 1.0 / (1.0 + np.exp(beta[None, :] - beta[rows, None]))
            np.multiply(wins[rows] + wins[:, rows].T, p * (p - 1.0), out=hessian[rows])
        diagonal = np.diag_indices(n)
        hessian[diagonal] = 0.0
        hessian[diagonal] = self.ridge - hessian.sum(axis=1)
        return hessian

    def standard_errors(self, wins: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """√diag of the Moore–Penrose inverse of the Hessian restricted to Σ β = 0.

        H1 = λ1, so with a > 0 (the mean of H's diagonal) and J = 11ᵀ, on Σ β = 0 the
        restricted inverse is (H + (a/n) J)⁻¹ − J/(n (a + λ)): its diagonal comes from one
        Cholesky inverse, in place (O(n³) time, one n × n matrix). Where that matrix is
        singular (a system without a match and no ridge), the general pseudo-inverse of
        the centred Hessian is taken instead.
        """
        n = len(beta)
        hessian = self.hessian(wins, beta)
        shift = float(np.mean(np.diag(hessian))) or 1.0
        hessian += shift / n
        from scipy.linalg import lapack  # here, not at import: the host loads fast

        # H is symmetric: its transpose is the Fortran-ordered matrix LAPACK works in place on
        factor, info = lapack.dpotrf(hessian.T, lower=1, overwrite_a=1, clean=0)
        if info == 0:
            inverse, info = lapack.dpotri(factor, lower=1, overwrite_c=1)
        if info == 0:
            variance = np.diag(inverse) - 1.0 / (n * (shift + self.ridge))
        else:
            centre = np.eye(n) - 1.0 / n
            variance = np.diag(np.linalg.pinv(centre @ self.hessian(wins, beta) @ centre))
        return np.sqrt(np.clip(variance, 0.0, None))


@rankarena.hookimpl
def register_aggregators(register) -> None:
    register("elo", Elo)
    register("bradley-terry", BradleyTerry)
