"""The ``kemeny`` aggregator: exact dynamic program against brute force, the local-search
heuristic against the exact optimum, scaling, and the real MTEB(eng, v2) table."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import _data_folder
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

import rankarena
from rankarena import ScoreTable
from rankarena.leaderboard.pairwise import preference_matrix
from rankarena.plugins.aggregators.kemeny import (
    kemeny_exact,
    kemeny_local_search,
    kemeny_objective,
)


def kemeny(table: ScoreTable, **params):
    return rankarena.plugin_manager().aggregators.create("kemeny", **params).aggregate(table)


def random_table(
    rng: np.random.Generator, n: int, m: int, missing: float = 0.0, noise: float = 1.0
) -> ScoreTable:
    """Scores from a latent quality plus task noise, rounded (ties), some cells missing
    (every system keeps at least one score)."""
    quality = rng.normal(size=n)
    scores = np.round(quality[:, None] + rng.normal(scale=noise, size=(n, m)), 1)
    holes = rng.random((n, m)) < missing
    holes[np.arange(n), rng.integers(0, m, size=n)] = False
    scores[holes] = np.nan
    return ScoreTable(tuple(f"s{i}" for i in range(n)), tuple(f"t{j}" for j in range(m)), scores)


def order_of(ranking) -> np.ndarray:
    return np.argsort(ranking.ranks, kind="stable")


def brute_force(prefs: np.ndarray) -> tuple[float, set[tuple[int, ...]]]:
    """The best objective over all n! orders and the set of orders attaining it."""
    best, winners = -math.inf, set()
    for perm in itertools.permutations(range(len(prefs))):
        value = kemeny_objective(prefs, np.array(perm))
        if value > best + 1e-9:
            best, winners = value, {perm}
        elif abs(value - best) <= 1e-9:
            winners.add(perm)
    return best, winners


# ----------------------------------------------------------------- exact = brute force


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), tasks=st.integers(1, 9), missing=st.sampled_from([0, 0.2]))
def test_exact_solver_matches_brute_force_on_seven_systems(seed, tasks, missing):
    table = random_table(np.random.default_rng(seed), 7, tasks, missing)
    prefs = preference_matrix(table)
    best, winners = brute_force(prefs)
    order, value = kemeny_exact(prefs)
    assert value == pytest.approx(best)
    assert tuple(int(i) for i in order) in winners  # equal up to ties in the objective
    ranking = kemeny(table)
    assert ranking.extras["exact"] == [True] * 7
    assert ranking.extras["objective"][0] == pytest.approx(best)
    assert tuple(int(i) for i in order_of(ranking)) in winners


def test_objective_is_the_kendall_distance_complement():
    # three tasks, no ties or missing cells: objective + Σ_t KendallDistance = 3 · C(n, 2)
    rng = np.random.default_rng(7)
    n, m = 6, 3
    scores = np.array([rng.permutation(n) for _ in range(m)], dtype=float).T
    table = ScoreTable(tuple("abcdef"), ("x", "y", "z"), scores)
    ranking = kemeny(table)
    consensus = order_of(ranking)
    position = np.empty(n, dtype=int)
    position[consensus] = np.arange(n)
    distance = sum(
        (position[i] < position[j]) != (scores[i, t] > scores[j, t])
        for t in range(m)
        for i, j in itertools.combinations(range(n), 2)
    )
    assert ranking.extras["objective"][0] + distance == m * n * (n - 1) / 2


def test_unanimous_and_single_task_profiles_are_reproduced():
    scores = np.array([[3.0, 30], [1, 10], [2, 20], [0, 0]])
    ranking = kemeny(ScoreTable(("a", "b", "c", "d"), ("t1", "t2"), scores))
    assert list(ranking.ranks) == [1, 3, 2, 4]
    heuristic = kemeny(ScoreTable(("a", "b", "c", "d"), ("t1", "t2"), scores), exact_max=0)
    assert list(heuristic.ranks) == [1, 3, 2, 4] and heuristic.extras["exact"][0] is False


def test_pairs_never_compared_cost_nothing():
    # a and c never share a task: any order of them is as good; b is below both.
    table = ScoreTable(("a", "b", "c"), ("t1", "t2"), np.array([[1, np.nan], [0, 0], [np.nan, 1]]))
    ranking = kemeny(table)
    assert ranking.ranks[1] == 3 and ranking.extras["objective"][0] == 2


# -------------------------------------------------------------------- the heuristic


def test_heuristic_reaches_the_optimum_mostly_and_never_beats_it():
    rng = np.random.default_rng(2022)
    hits, trials = 0, 40
    for _ in range(trials):
        n = int(rng.integers(8, 13))
        table = random_table(rng, n, int(rng.integers(3, 12)), missing=0.1, noise=3.0)
        exact = kemeny(table)
        heuristic = kemeny(table, exact_max=0)
        assert heuristic.extras["exact"][0] is False
        value, optimum = heuristic.extras["objective"][0], exact.extras["objective"][0]
        assert value <= optimum + 1e-9
        # the reported objective is the objective of the reported order
        prefs = preference_matrix(table)
        assert kemeny_objective(prefs, order_of(heuristic)) == pytest.approx(value)
        hits += math.isclose(value, optimum)
    assert hits >= 0.9 * trials


def test_heuristic_result_is_a_local_optimum_of_insertions():
    rng = np.random.default_rng(3)
    table = random_table(rng, 25, 15, missing=0.1)
    prefs = preference_matrix(table)
    order, value = kemeny_local_search(prefs, [rng.permutation(25)])
    for x, q in itertools.product(range(25), range(25)):
        moved = np.insert(np.delete(order, x), q, order[x])
        assert kemeny_objective(prefs, moved) <= value + 1e-9


def test_heuristic_scales_to_64_systems():
    rng = np.random.default_rng(64)
    n = 64
    table = random_table(rng, n, 40)
    started = time.perf_counter()
    ranking = kemeny(table, restarts=4)
    elapsed = time.perf_counter() - started
    assert elapsed < 10
    assert ranking.extras["exact"][0] is False
    prefs = preference_matrix(table)
    borda_order = np.argsort(-prefs.sum(axis=1), kind="stable")
    assert ranking.extras["objective"][0] >= kemeny_objective(prefs, borda_order)
    # it recovers the latent order behind the noise (mean score as a proxy) closely
    assert kendalltau(ranking.scores, table.scores.mean(axis=1)).statistic > 0.8


def test_seed_makes_the_heuristic_reproducible():
    table = random_table(np.random.default_rng(5), 30, 8, missing=0.2)
    first, second = kemeny(table, exact_max=0, seed=11), kemeny(table, exact_max=0, seed=11)
    np.testing.assert_array_equal(first.ranks, second.ranks)


def test_exact_solver_handles_the_largest_default_size_quickly():
    rng = np.random.default_rng(16)
    table = random_table(rng, 16, 10)
    started = time.perf_counter()
    ranking = kemeny(table)
    assert time.perf_counter() - started < 5
    assert ranking.extras["exact"][0] is True
    heuristic = kemeny(table, exact_max=0)
    assert heuristic.extras["objective"][0] <= ranking.extras["objective"][0] + 1e-9


# ---------------------------------------------------------------------- real MTEB data


@pytest.fixture(scope="module")
def mteb_complete() -> ScoreTable:
    """MTEB(eng, v2) as mteb's leaderboard selects it, models with all 41 task scores."""
    rows = pq.read_table(_data_folder("mteb") / "scores.parquet")
    rows = rows.filter(pc.and_(rows["lb_selected"], rows["in_mteb_eng_v2"]))
    table = ScoreTable.from_long(rows, system="model", task="task", score="main_score")
    complete = np.flatnonzero(~np.isnan(table.scores).any(axis=1))
    return ScoreTable(
        tuple(table.systems[i] for i in complete), table.tasks, table.scores[complete]
    )


@pytest.mark.slow
def test_kemeny_on_mteb_beats_the_mean_order_and_agrees_with_it(mteb_complete):
    table = mteb_complete
    ranking = kemeny(table)
    assert ranking.extras["exact"][0] is False
    prefs = preference_matrix(table)
    mean = table.scores.mean(axis=1)
    mean_order = np.argsort(-mean, kind="stable")
    value = ranking.extras["objective"][0]
    assert value >= kemeny_objective(prefs, mean_order)
    assert kemeny_objective(prefs, order_of(ranking)) == pytest.approx(value)
    assert kendalltau(ranking.scores, mean).statistic > 0.8
    # Reordering a contiguous block leaves every pair with an outside model unchanged, so
    # in an optimal order each block is itself optimally ordered: check the top 12 block
    # against the exact solver.
    top = order_of(ranking)[:12]
    sub = ScoreTable(tuple(table.systems[i] for i in top), table.tasks, table.scores[top])
    exact = kemeny(sub)
    assert exact.extras["exact"][0] is True
    block_value = kemeny_objective(preference_matrix(sub), np.arange(12))
    assert block_value == pytest.approx(exact.extras["objective"][0])
