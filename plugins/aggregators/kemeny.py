"""Built-in aggregator ``kemeny``: the Kemeny-Young consensus ranking of the tasks' rankings.

Each task ranks the systems by score; the Kemeny consensus is the order that disagrees
least with them, summed over tasks (Kendall tau distance). Colombo, Noiry, Irurozki and
Clémençon, "What are the best systems? New perspectives on NLP Benchmarking", NeurIPS 2022,
aggregate benchmarks with it; J. G. Kemeny, "Mathematics without numbers", Daedalus 88(4),
1959, and H. P. Young and A. Levenglick, "A consistent extension of Condorcet's election
principle", SIAM Journal on Applied Mathematics 35(2), 1978, define it.

Finding it is NP-hard. Up to ``exact_max`` systems the optimum is found by dynamic
programming over subsets; beyond, by insertion local search from several starts.
"""

from __future__ import annotations

import numpy as np

import rankarena
from rankarena import ParameterError, ScoreTable
from rankarena.api.aggregation import preference_matrix
from rankarena.plugins.aggregators.social_choice import (
    Groups,
    Scored,
    VotingRule,
    Weights,
    majority_of,
    tolerance,
)

__all__ = ["EXACT_LIMIT", "Kemeny", "kemeny_exact", "kemeny_local_search", "kemeny_objective"]

EXACT_LIMIT = 20
"""Largest ``exact_max`` accepted: the dynamic program holds 2^n values (2^20 ≈ 1M)."""


def kemeny_objective(prefs: np.ndarray, order: np.ndarray) -> float:
    """Σ over pairs (i placed before j) of ``prefs[i, j]``: the agreement to maximise."""
    placed = prefs[np.ix_(order, order)]
    return float(np.triu(placed, k=1).sum())


def kemeny_exact(prefs: np.ndarray) -> tuple[np.ndarray, float]:
    """The order maximising ``kemeny_objective``, by dynamic programming over subsets.

    f(∅) = 0 and f(S) = max_{k ∈ S} f(S \\ {k}) + Σ_{i ∈ S \\ {k}} P[i, k]: the best
    agreement of ordering the set S among themselves, k being the last of them. Subsets are
    processed by size, all subsets of one size and all k at once (NumPy), in O(2^n · n^2)
    time and O(2^n) memory. Ties between optimal orders go to the smallest k as the last
    element, so the answer is deterministic.
    """
    n = len(prefs)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    masks = np.arange(1 << n, dtype=np.int64)
    bit_values = np.int64(1) << np.arange(n, dtype=np.int64)
    bits = (masks[:, None] & bit_values[None, :]) != 0
    size = bits.sum(axis=1)
    best = np.full(1 << n, -np.inf)
    best[0] = 0.0
    last = np.zeros(1 << n, dtype=np.int8)
    by_size = np.argsort(size, kind="stable")
    bounds = np.searchsorted(size[by_size], np.arange(n + 2))
    for s in range(1, n + 1):
        layer = by_size[bounds[s] : bounds[s + 1]]  # every subset with s members
        inside = bits[layer]
        gain = inside.astype(np.float64) @ prefs  # gain[S, k] = Σ_{i∈S} P[i, k] (P[k,k]=0)
        before = best[layer[:, None] ^ bit_values[None, :]]
        candidate = np.where(inside, before + gain, -np.inf)
        choice = candidate.argmax(axis=1)
        best[layer] = candidate[np.arange(len(layer)), choice]
        last[layer] = choice
    order = []
    mask = (1 << n) - 1
    while mask:
        k = int(last[mask])
        order.append(k)
        mask ^= 1 << k
    order_array = np.array(order[::-1], dtype=np.int64)
    return order_array, kemeny_objective(prefs, order_array)


def _improve(margin: np.ndarray, order: np.ndarray, tol: float) -> np.ndarray:
    """Move single systems to their best position until no move gains more than ``tol``.

    Moving x from position p up to q < p changes the objective by Σ_{q ≤ k < p} D[x, o_k];
    moving it down to q > p by −Σ_{p < k ≤ q} D[x, o_k], with D = P − Pᵀ. Both come from
    one cumulative sum per system, so a pass over all systems costs O(n^2).
    """
    order = order.copy()
    n = len(order)
    improved = True
    while improved:
        improved = False
        for x in order.copy():
            p = int(np.flatnonzero(order == x)[0])
            cumulative = np.concatenate(([0.0], np.cumsum(margin[x, order])))
            gains = np.empty(n)
            gains[:p] = cumulative[p] - cumulative[:p]
            gains[p] = 0.0
            gains[p + 1 :] = cumulative[p + 1] - cumulative[p + 2 :]
            q = int(gains.argmax())
            if gains[q] > tol:
                order = np.insert(np.delete(order, p), q, x)
                improved = True
    return order


def kemeny_local_search(
    prefs: np.ndarray, starts: list[np.ndarray], tol: float = 1e-9
) -> tuple[np.ndarray, float]:
    """The best local optimum of insertion moves (see ``_improve``) over the ``starts``.

    A heuristic: the result maximises ``kemeny_objective`` against every single-system
    move, not necessarily globally. Ties between starts go to the earliest start.
    """
    margin = prefs - prefs.T
    best_order, best_value = None, -np.inf
    for start in starts:
        order = _improve(margin, np.asarray(start, dtype=np.int64), tol)
        value = kemeny_objective(prefs, order)
        if value > best_value + tol:
            best_order, best_value = order, value
    if best_order is None:
        raise ValueError("kemeny_local_search needs at least one starting order")
    return best_order, best_value


class Kemeny(VotingRule):
    """Kemeny-Young consensus: the order closest to the tasks' rankings in Kendall tau.

    With P[i, j] = Σ_t w_t ([s_it > s_jt] + ½ [s_it = s_jt]) over the tasks where both
    have a score (``rankarena.leaderboard.pairwise.preference_matrix``), the consensus maximises
    Σ_{i placed before j} P[i, j], which is minimising the weighted sum over tasks of
    Kendall tau distances to the tasks' rankings (a tie costs ½ either way; a pair with a
    missing score costs nothing). It places a Condorcet winner first. Colombo et al., "What
    are the best systems? New perspectives on NLP Benchmarking", NeurIPS 2022; Kemeny 1959;
    Young and Levenglick 1978.

    Up to ``exact_max`` systems the optimum is exact (dynamic programming over subsets,
    O(2^n · n^2)). Beyond, a heuristic: insertion local search (move one system to its best
    position while that gains) started from the Borda order, the Copeland order and
    ``restarts`` random orders (``seed``), keeping the best. The score is n − position (a
    strict order; ties between equally good orders are broken deterministically, by
    system name: the systems are solved in name order, whatever the table's row order); extras
    ``objective`` (the maximised agreement) and ``exact`` repeat on every row.

    Cost: O(n² T) time for the preference matrix (in blocks of rows), then O(2^n · n²)
    exact, or O(n²) per pass of the local search over every system, per start; memory
    O(n²) (a few n × n float64 matrices).

    :param exact_max: largest number of systems solved exactly (0 to 20; default 16).
    :param restarts: random starting orders of the heuristic, besides Borda and Copeland.
    :param seed: seed of those random orders.
    :param task_weights: and ``groups``, ``group_weights``, ``min_coverage``: as in
        ``VotingRule`` (``rankarena.plugins.aggregators.social_choice``).
    """

    method = "kemeny"

    def __init__(
        self,
        exact_max: int = 16,
        restarts: int = 4,
        seed: int = 0,
        task_weights: Weights = None,
        groups: Groups = None,
        group_weights: dict[str, float] | None = None,
        min_coverage: float = 0.0,
    ):
        for name, value, top in (
            ("exact_max", exact_max, EXACT_LIMIT),
            ("restarts", restarts, None),
            ("seed", seed, None),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ParameterError(f"{self._where}: {name} must be an int >= 0, got {value!r}")
            if top is not None and value > top:
                raise ParameterError(
                    f"{self._where}: {name} must be at most {top} (2^n memory), got {value!r}"
                )
        super().__init__(
            task_weights=task_weights,
            groups=groups,
            group_weights=group_weights,
            min_coverage=min_coverage,
        )
        self.exact_max, self.restarts, self.seed = exact_max, restarts, seed

    def _starts(
        self, table: ScoreTable, weights: np.ndarray, prefs: np.ndarray
    ) -> list[np.ndarray]:
        """Borda order, Copeland order (Borda breaking ties), then seeded random orders."""
        borda = prefs.sum(axis=1)
        beats = majority_of(prefs, tolerance(weights))
        copeland = beats.sum(axis=1)
        starts = [np.lexsort((-borda,)), np.lexsort((-borda, -copeland))]
        rng = np.random.default_rng(self.seed)
        starts += [rng.permutation(len(prefs)) for _ in range(self.restarts)]
        return starts

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        # solved with the systems in name order, so that which of several optimal orders
        # wins (and the heuristic's random starts) never depends on the table's row order
        canon = np.argsort(np.array(table.systems, dtype=object), kind="stable")
        prefs = preference_matrix(table, weights, who=self._where)[np.ix_(canon, canon)]
        n = len(table.systems)
        exact = n <= self.exact_max
        if exact:
            order, value = kemeny_exact(prefs)
        else:
            starts = self._starts(table, weights, prefs)
            order, value = kemeny_local_search(prefs, starts, tolerance(weights))
        order = canon[order]
        position = np.empty(n)
        position[order] = np.arange(n)
        return n - position, {"objective": [value] * n, "exact": [exact] * n}


@rankarena.hookimpl
def register_aggregators(register) -> None:
    """Register ``kemeny``."""
    register("kemeny", Kemeny)
