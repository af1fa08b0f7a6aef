"""The social-choice aggregators (Vote'n'Rank, Rofin et al., EACL 2023) and ``kemeny``.

Hand-computed textbook profiles, hypothesis properties (Condorcet consistency, task
weights as duplicated tasks, two-step mode), missing scores, the pairwise matrices built
in blocks (bit for bit the unblocked ones; 5,000 systems × 200 tasks; memory refusals),
parameter errors, and the real MTEB(eng, v2) table.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import _data_folder
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

import rankarena
from rankarena import ParameterError, Ranking, ScoreTable
from rankarena.leaderboard import pairwise

RULES = ("plurality", "dowdall", "threshold", "baldwin", "condorcet", "copeland", "minimax")
ALL_RULES = (*RULES, "kemeny")
CONDORCET_CONSISTENT = (
    ("condorcet", {}),
    ("copeland", {}),
    ("minimax", {}),
    ("minimax", {"variant": "margins"}),
    ("kemeny", {}),
    ("kemeny", {"exact_max": 0}),  # the heuristic also puts a Condorcet winner first
)


def create(name: str, **params):
    return rankarena.plugin_manager().aggregators.create(name, **params)


def run(name: str, table: ScoreTable, **params) -> Ranking:
    return create(name, **params).aggregate(table)


def by_system(ranking: Ranking) -> dict[str, float]:
    return {s: float(v) for s, v in zip(ranking.systems, ranking.scores, strict=True)}


def order(ranking: Ranking) -> list[str]:
    """Systems from best to worst (ties: table order)."""
    return [ranking.systems[i] for i in np.argsort(ranking.ranks, kind="stable")]


def from_orders(systems: tuple[str, ...], orders: list[tuple[str, ...]]) -> ScoreTable:
    """One task per preference order (best first), scored n − position."""
    scores = np.zeros((len(systems), len(orders)))
    for t, preference in enumerate(orders):
        for position, system in enumerate(preference):
            scores[systems.index(system), t] = len(preference) - position
    return ScoreTable(systems, tuple(f"t{t}" for t in range(len(orders))), scores)


# The "Tennessee capital" profile (a standard textbook example): 42% Memphis > Nashville >
# Chattanooga > Knoxville, 26% N > C > K > M, 15% C > K > N > M, 17% K > C > N > M.
# Nashville is the Condorcet winner; the rules below disagree on the rest.
CITIES = ("M", "N", "C", "K")
TENNESSEE = from_orders(
    CITIES, [("M", "N", "C", "K"), ("N", "C", "K", "M"), ("C", "K", "N", "M"), ("K", "C", "N", "M")]
)
VOTERS = [42, 26, 15, 17]


# ---------------------------------------------------------------- hypothesis helpers

CELL = st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0, math.nan])
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@st.composite
def profiles(draw, min_systems: int = 1, max_systems: int = 6, max_tasks: int = 7):
    """Small score tables with ties and missing cells."""
    n = draw(st.integers(min_systems, max_systems))
    m = draw(st.integers(1, max_tasks))
    rows = draw(st.lists(st.lists(CELL, min_size=m, max_size=m), min_size=n, max_size=n))
    return ScoreTable(
        tuple(f"s{i}" for i in range(n)), tuple(f"t{j}" for j in range(m)), np.array(rows)
    )


def condorcet_winner(table: ScoreTable, weights=None) -> int | None:
    """The system beating each other one on more (weighted) tasks than it loses, by loops."""
    n, m = table.scores.shape
    w = [1.0] * m if weights is None else list(weights)
    scored = [i for i in range(n) if not np.isnan(table.scores[i]).all()]  # others left out
    for i in scored:
        beats_all = True
        for j in scored:
            if j == i:
                continue
            pro = con = 0.0
            for t in range(m):
                a, b = table.scores[i, t], table.scores[j, t]
                if math.isnan(a) or math.isnan(b):
                    continue
                pro += w[t] * (a > b)
                con += w[t] * (a < b)
            beats_all &= pro > con
        if beats_all:
            return i
    return None


def same_ranking(left: Ranking, right: Ranking) -> None:
    assert left.systems == right.systems
    np.testing.assert_allclose(left.scores, right.scores, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(left.ranks, right.ranks)


# ----------------------------------------------------------------------------- registry


def test_every_rule_is_registered_with_its_parameters():
    host = rankarena.plugin_manager()
    for name in ALL_RULES:
        spec = host.aggregators.get(name)
        params = {p.name for p in spec.parameters}
        assert {"task_weights", "groups", "group_weights"} <= params, name
        assert spec.description, name
    assert {p.name for p in host.aggregators.get("minimax").parameters} >= {"variant"}
    kemeny = {p.name: p.default for p in host.aggregators.get("kemeny").parameters}
    assert kemeny["exact_max"] == 16 and kemeny["restarts"] == 4 and kemeny["seed"] == 0


# ------------------------------------------------------------ hand-computed profiles


def test_plurality_on_tennessee():
    # first places: M 42, N 26, C 15, K 17
    ranking = run("plurality", TENNESSEE, task_weights=VOTERS)
    assert by_system(ranking) == {"M": 42, "N": 26, "C": 15, "K": 17}
    assert order(ranking) == ["M", "N", "K", "C"]


def test_dowdall_on_tennessee():
    # M: 42/1 + 58/4; N: 42/2 + 26/1 + 32/3; C: 42/3 + 26/2 + 15/1 + 17/2;
    # K: 42/4 + 26/3 + 15/2 + 17/1
    ranking = run("dowdall", TENNESSEE, task_weights=VOTERS)
    expected = {"M": 56.5, "N": 21 + 26 + 32 / 3, "C": 50.5, "K": 10.5 + 26 / 3 + 7.5 + 17}
    assert by_system(ranking) == pytest.approx(expected)
    assert order(ranking) == ["N", "M", "C", "K"]


def test_threshold_on_tennessee():
    # last places: M 58, N 0, C 0, K 42; N and C tie there, second-to-last: N 32 < C 42.
    ranking = run("threshold", TENNESSEE, task_weights=VOTERS)
    assert order(ranking) == ["N", "C", "K", "M"]
    assert ranking.extras["last_places"] == [58, 0, 0, 42]
    assert list(ranking.ranks) == [4, 1, 2, 3]


def test_baldwin_on_tennessee():
    # Borda (3,2,1,0): M 126, N 194, C 173, K 107 -> K out; then M 84, N 126, C 90 -> M out;
    # then N 68 vs C 32 -> C out. Reverse elimination order: N, C, M, K.
    ranking = run("baldwin", TENNESSEE, task_weights=VOTERS)
    assert ranking.extras["borda"] == [126, 194, 173, 107]
    assert order(ranking) == ["N", "C", "M", "K"]
    assert by_system(ranking) == {"K": 1, "M": 2, "C": 3, "N": 4}


def test_baldwin_differs_from_borda_and_elects_the_condorcet_winner():
    # 3 voters A > B > C, 2 voters B > C > A: Borda A 6, B 7, C 2 picks B, but A beats B
    # and C 3-2. Baldwin drops C, then A beats B 3-2 on the recomputed Borda.
    table = from_orders(("A", "B", "C"), [("A", "B", "C"), ("B", "C", "A")])
    ranking = run("baldwin", table, task_weights=[3, 2])
    assert ranking.extras["borda"] == [6, 7, 2]
    assert order(ranking) == ["A", "B", "C"]


@PROPERTY_SETTINGS
@given(n=st.integers(2, 6), m=st.integers(1, 7), data=st.data())
def test_baldwin_elects_a_condorcet_winner_of_strict_complete_profiles(n, m, data):
    # Borda scores of a Condorcet winner exceed the average in every subset containing it
    # (strict, complete rankings), so Baldwin never eliminates it.
    columns = [data.draw(st.permutations(range(n))) for _ in range(m)]
    table = ScoreTable(
        tuple(f"s{i}" for i in range(n)),
        tuple(f"t{j}" for j in range(m)),
        np.array(columns, dtype=np.float64).T,
    )
    winner = condorcet_winner(table)
    assume(winner is not None)
    ranking = run("baldwin", table)
    assert ranking.ranks[winner] == 1 and np.sum(ranking.ranks == 1) == 1


def test_pairwise_rules_on_tennessee():
    # Majorities: N beats all (58, 68, 68 of 100); C beats K (83) and M (58); K beats M (58).
    copeland = run("copeland", TENNESSEE, task_weights=VOTERS)
    assert by_system(copeland) == {"M": -3, "N": 3, "C": 1, "K": -1}
    condorcet = run("condorcet", TENNESSEE, task_weights=VOTERS)
    assert condorcet.extras["condorcet_winner"] == [False, True, False, False]
    assert order(condorcet) == ["N", "C", "K", "M"]
    # winning votes: M's worst defeat 58, C's 68 (by N), K's 83 (by C), N undefeated.
    minimax = run("minimax", TENNESSEE, task_weights=VOTERS)
    assert by_system(minimax) == {"M": -58, "N": 0, "C": -68, "K": -83}
    assert minimax.extras["worst_defeat_by"] == ["N", None, "N", "C"]
    # margins: M loses everything by 16, C by 36 to N, K by 66 to C, N's best "defeat" -16.
    margins = run("minimax", TENNESSEE, task_weights=VOTERS, variant="margins")
    assert by_system(margins) == {"M": -16, "N": 16, "C": -36, "K": -66}
    kemeny = run("kemeny", TENNESSEE, task_weights=VOTERS)
    assert order(kemeny) == ["N", "C", "K", "M"]


def test_plurality_splits_a_tie_at_the_top():
    table = ScoreTable(("a", "b", "c"), ("t1", "t2"), np.array([[1, 3], [1, 2], [0, 1.0]]))
    assert by_system(run("plurality", table)) == {"a": 1.5, "b": 0.5, "c": 0.0}


def test_dowdall_ties_share_the_best_position():
    table = ScoreTable(("a", "b", "c", "d"), ("t",), np.array([[4.0], [3], [3], [1]]))
    assert by_system(run("dowdall", table)) == pytest.approx(
        {"a": 1, "b": 1 / 2, "c": 1 / 2, "d": 1 / 4}
    )


def test_threshold_ties_share_the_worst_place():
    # b and c tie at the bottom of t1: both count a last place (Vote'n'Rank's max ranks).
    # Places from the bottom (v_0, v_1, v_2): a (1, 0, 1) (t2 last, t1 first),
    # b (1, 0, 1) (t1 last, t2 first), c (1, 1, 0): a and b tie, ahead of c.
    table = ScoreTable(("a", "b", "c"), ("t1", "t2"), np.array([[2, 1], [1, 3], [1, 2.0]]))
    ranking = run("threshold", table)
    assert ranking.extras["last_places"] == [1, 1, 1]
    assert list(ranking.ranks) == [1, 1, 3]


def test_baldwin_eliminates_tied_systems_together():
    # a first everywhere; b and c alternate: they tie on Borda and leave in the same round.
    table = ScoreTable(("a", "b", "c"), ("t1", "t2"), np.array([[3, 3], [2, 1], [1, 2.0]]))
    ranking = run("baldwin", table)
    assert by_system(ranking) == {"a": 2, "b": 1, "c": 1}
    assert list(ranking.ranks) == [1, 2, 2]


def baldwin_by_recounting(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Baldwin's rule as its definition reads: every round recounts Borda among the rest."""
    n = len(scores)
    here, there = scores[:, None, :], scores[None, :, :]
    wins = (np.greater(here, there) * weights).sum(axis=2)  # NaN compares false
    remaining, rounds, current = np.ones(n, dtype=bool), np.zeros(n), 1
    tol = 1e-9 * max(1.0, weights.sum())
    while remaining.any():
        borda = wins[:, remaining].sum(axis=1)
        alive = borda[remaining]
        if alive.max() - alive.min() <= tol:
            rounds[remaining] = current
            break
        out = remaining & (borda <= alive.min() + tol)
        rounds[out], remaining, current = current, remaining & ~out, current + 1
    return rounds


@pytest.mark.parametrize("seed", [0, 1])
def test_baldwin_over_many_rounds_equals_recounting_every_round(seed):
    # 150 systems: more rounds than RECOUNT_EVERY, so both the subtractions and the recounts
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=(150, 1)) + rng.normal(size=(150, 9)), 1)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    weights = rng.choice([0.5, 1.0, 1.5], size=9)
    table = ScoreTable(
        tuple(f"s{i:03d}" for i in range(150)), tuple(f"t{k}" for k in range(9)), scores
    )
    ranking = run("baldwin", table, task_weights=weights.tolist())
    expected = baldwin_by_recounting(scores, weights)
    assert max(expected) > 64
    assert [by_system(ranking)[s] for s in table.systems] == expected.tolist()


def test_condorcet_cycle_has_no_winner():
    # rock-paper-scissors: every system wins one majority and loses one.
    table = from_orders(("r", "p", "s"), [("r", "s", "p"), ("p", "r", "s"), ("s", "p", "r")])
    condorcet = run("condorcet", table)
    assert condorcet.extras["condorcet_winner"] == [False, False, False]
    assert list(condorcet.ranks) == [1, 1, 1]
    assert list(run("copeland", table).scores) == [0, 0, 0]


# --------------------------------------------------------------------- Condorcet property


@PROPERTY_SETTINGS
@given(table=profiles(min_systems=2), data=st.data())
def test_a_condorcet_winner_is_elected(table, data):
    weights = data.draw(
        st.lists(st.integers(1, 3), min_size=len(table.tasks), max_size=len(table.tasks))
    )
    winner = condorcet_winner(table, weights)
    assume(winner is not None)
    for name, params in CONDORCET_CONSISTENT:
        ranking = run(name, table, task_weights=weights, **params)
        assert ranking.ranks[winner] == 1, (name, params)
        assert np.sum(ranking.ranks == 1) == 1, (name, params)
    flags = run("condorcet", table, task_weights=weights).extras["condorcet_winner"]
    assert [bool(flag) for flag in flags] == [i == winner for i in range(len(table.systems))]


@PROPERTY_SETTINGS
@given(table=profiles(min_systems=2))
def test_without_a_condorcet_winner_none_is_flagged(table):
    assume(condorcet_winner(table) is None)
    flags = run("condorcet", table).extras["condorcet_winner"]
    assert not any(flag for flag in flags if flag is not None)


# --------------------------------------------------------------------------- task weights


@PROPERTY_SETTINGS
@given(table=profiles(max_systems=5, max_tasks=5), data=st.data())
def test_integer_weights_equal_duplicated_tasks(table, data):
    m = len(table.tasks)
    weights = data.draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    columns = [t for t in range(m) for _ in range(weights[t])]
    copies = ScoreTable(
        table.systems, tuple(f"c{k}" for k in range(len(columns))), table.scores[:, columns]
    )
    for name in ALL_RULES:
        same_ranking(run(name, table, task_weights=weights), run(name, copies))


def test_zero_weight_drops_the_task():
    table = ScoreTable(("a", "b", "c"), ("t1", "t2"), np.array([[1, 0], [2, np.nan], [0, 5.0]]))
    dropped = ScoreTable(("a", "b", "c"), ("t2",), table.scores[:, [1]])
    for name in ALL_RULES:
        weighted = run(name, table, task_weights={"t1": 0})
        same_ranking(weighted, run(name, dropped))
        assert math.isnan(by_system(weighted)["b"])  # b had a score only on t1


def test_weights_as_mapping_or_list_agree():
    for name in ALL_RULES:
        same_ranking(
            run(name, TENNESSEE, task_weights=VOTERS),
            run(name, TENNESSEE, task_weights={"t0": 42, "t1": 26, "t2": 15, "t3": 17}),
        )
    # unlisted tasks weigh 1
    same_ranking(run("dowdall", TENNESSEE, task_weights={"t0": 1}), run("dowdall", TENNESSEE))


# ------------------------------------------------------------------------- two-step mode

TYPED = ScoreTable(
    ("A", "B", "C"),
    ("r1", "r2", "r3", "s1", "c1"),
    np.array([[3, 3, 3, 1, 1], [2, 2, 2, 3, 2], [1, 1, 1, 2, 3.0]]),
    {"r1": "Retrieval", "r2": "Retrieval", "r3": "Retrieval", "s1": "STS", "c1": "Clustering"},
)


def test_two_step_makes_each_task_type_one_voter():
    # Flat: A wins the three retrieval tasks and beats B and C 3-2. By type: Retrieval
    # A > B > C, STS B > C > A, Clustering C > B > A, so B beats A and C 2-1.
    assert by_system(run("copeland", TYPED)) == {"A": 2, "B": 0, "C": -2}
    assert by_system(run("copeland", TYPED, groups="task_type")) == {"A": -2, "B": 2, "C": 0}
    assert by_system(run("plurality", TYPED)) == {"A": 3, "B": 1, "C": 1}
    assert by_system(run("plurality", TYPED, groups="task_type")) == {"A": 1, "B": 1, "C": 1}
    kemeny = run("kemeny", TYPED, groups="task_type")
    assert order(kemeny) == ["B", "C", "A"]
    # a mapping task -> group gives the same groups; group weights act like task weights
    mapping = dict(TYPED.task_types)
    same_ranking(run("copeland", TYPED, groups=mapping), run("copeland", TYPED, groups="task_type"))
    heavy = run("copeland", TYPED, groups="task_type", group_weights={"Retrieval": 3})
    assert by_system(heavy) == {"A": 2, "B": 0, "C": -2}


@PROPERTY_SETTINGS
@given(
    n=st.integers(1, 6),
    data=st.data(),
)
def test_singleton_groups_equal_the_flat_rule(n, data):
    # Each group one task without ties: the group's ranking is the task's ranking, so the
    # two-step result equals the one-step result (minimax excepted: one task's minimax
    # score only separates the top system from the rest).
    m = data.draw(st.integers(1, 5))
    columns = [data.draw(st.permutations(range(n))) for _ in range(m)]
    scores = np.array(columns, dtype=np.float64).T
    holes = data.draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))
    scores[np.array(holes).reshape(n, m) & (np.arange(n)[:, None] > 0)] = np.nan
    tasks = tuple(f"t{j}" for j in range(m))
    table = ScoreTable(tuple(f"s{i}" for i in range(n)), tasks, scores)
    groups = {t: f"g{t}" for t in tasks}
    for name in ALL_RULES:
        if name == "minimax":
            continue
        flat, grouped = run(name, table), run(name, table, groups=groups)
        np.testing.assert_array_equal(grouped.ranks, flat.ranks, err_msg=name)


def test_two_step_system_missing_from_a_whole_group():
    scores = TYPED.scores.copy()
    scores[2, 3] = np.nan  # C has no STS score: it is not ranked by the STS voter
    table = ScoreTable(TYPED.systems, TYPED.tasks, scores, TYPED.task_types)
    # plurality by type: Retrieval -> A, STS (A, B present) -> B, Clustering -> C
    assert by_system(run("plurality", table, groups="task_type")) == {"A": 1, "B": 1, "C": 1}
    # dowdall by type, groups scored by inner dowdall: Retrieval A>B>C; STS B>A; Clust C>B>A
    assert by_system(run("dowdall", table, groups="task_type")) == pytest.approx(
        {"A": 1 + 1 / 2 + 1 / 3, "B": 1 / 2 + 1 + 1 / 2, "C": 1 / 3 + 1}
    )


# ------------------------------------------------------------------------ missing scores

SPARSE = ScoreTable(
    ("A", "B", "C", "D", "E"),
    ("t1", "t2"),
    np.array([[0.9, np.nan], [0.5, 0.2], [np.nan, 0.8], [0.5, np.nan], [np.nan, np.nan]]),
)


def test_missing_scores_rank_among_present_systems():
    # t1 ranks A > B = D (C, E missing); t2 ranks C > B (A, D, E missing); E has no score.
    plurality = by_system(run("plurality", SPARSE))
    assert {k: plurality[k] for k in "ABCD"} == {"A": 1, "B": 0, "C": 1, "D": 0}
    dowdall = by_system(run("dowdall", SPARSE))
    assert {k: dowdall[k] for k in "ABCD"} == {"A": 1, "B": 1, "C": 1, "D": 0.5}
    # places from the bottom: A (t1: 2), B (t1: 0, t2: 0), C (t2: 1), D (t1: 0)
    threshold = run("threshold", SPARSE)
    assert order(threshold)[:4] == ["A", "C", "D", "B"]
    assert threshold.extras["last_places"][:4] == [0, 2, 0, 1]
    # pairs: A>B, A>D (t1), C>B (t2), B=D (t1); A-C and C-D never compared.
    copeland = by_system(run("copeland", SPARSE))
    assert {k: copeland[k] for k in "ABCD"} == {"A": 2, "B": -2, "C": 1, "D": -1}
    assert not any(run("condorcet", SPARSE).extras["condorcet_winner"][:4])
    # Borda (strict wins among present): A 2, B 0, C 1, D 0 -> B, D out; A and C tie.
    baldwin = by_system(run("baldwin", SPARSE))
    assert {k: baldwin[k] for k in "ABCD"} == {"A": 2, "B": 1, "C": 2, "D": 1}


@pytest.mark.parametrize("name", ALL_RULES)
def test_min_coverage_leaves_out_sparse_systems(name):
    # coverage by task weight: with t1 weighing 3, A and D cover 3/4, C 1/4, B 1, E 0.
    weights = {"t1": 3}
    kept = run(name, SPARSE, task_weights=weights, min_coverage=0.75)
    assert [math.isnan(v) for v in kept.scores] == [False, False, True, False, True]
    rows = ScoreTable(("A", "B", "D"), SPARSE.tasks, SPARSE.scores[[0, 1, 3]])
    alone = run(name, rows, task_weights=weights)
    np.testing.assert_allclose(kept.scores[[0, 1, 3]], alone.scores)
    assert np.isnan(run(name, SPARSE, min_coverage=1.0).scores[[0, 2, 3, 4]]).all()
    same_ranking(run(name, SPARSE, min_coverage=0.5), run(name, SPARSE))


@pytest.mark.parametrize("name", ALL_RULES)
def test_a_system_without_scores_ranks_last_with_nan(name):
    ranking = run(name, SPARSE)
    assert math.isnan(by_system(ranking)["E"])
    assert ranking.ranks[4] == 5
    assert all(column[4] is None for column in ranking.extras.values())
    assert np.isfinite(ranking.scores[:4]).all()


@pytest.mark.parametrize("name", ALL_RULES)
def test_one_system_and_degenerate_tables(name):
    one = ScoreTable(("only",), ("t1", "t2"), np.array([[0.3, np.nan]]))
    ranking = run(name, one)
    assert list(ranking.ranks) == [1] and np.isfinite(ranking.scores).all()
    no_tasks = ScoreTable(("a", "b"), (), np.zeros((2, 0)))
    assert np.isnan(run(name, no_tasks).scores).all()
    nothing = ScoreTable((), ("t",), np.zeros((0, 1)))
    assert len(run(name, nothing).systems) == 0
    everything_missing = ScoreTable(("a", "b"), ("t",), np.full((2, 1), np.nan))
    empty = run(name, everything_missing)
    assert list(empty.ranks) == [1, 1]
    # the extras columns are there even when no system has a score
    assert set(empty.extras) == set(ranking.extras)
    assert all(column == [None, None] for column in empty.extras.values())


def test_a_single_system_is_the_condorcet_winner():
    one = ScoreTable(("only",), ("t",), np.array([[0.5]]))
    assert run("condorcet", one).extras["condorcet_winner"] == [True]


# --------------------------------------------------------------- pairwise matrices, memory


def make_table(scores: np.ndarray) -> ScoreTable:
    systems, tasks = scores.shape
    return ScoreTable(
        tuple(f"s{i}" for i in range(systems)), tuple(f"t{k}" for k in range(tasks)), scores
    )


def _unblocked(table: ScoreTable, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The systems × systems × tasks computation as it was before blocks: (P, W)."""
    diff = table.scores[:, None, :] - table.scores[None, :, :]
    result = np.nan_to_num(np.sign(diff), nan=0.0).astype(np.int8)
    present = ~np.isnan(table.scores)
    both = present[:, None, :] & present[None, :, :]
    both[np.arange(len(table.systems)), np.arange(len(table.systems)), :] = False
    wins = (result > 0) + 0.5 * ((result == 0) & both)
    prefs = np.einsum("ijt,t->ij", wins.astype(np.float64), w)
    strict = np.einsum("ijt,t->ij", (result > 0).astype(np.float64), w)
    return prefs, strict


@pytest.mark.parametrize(("systems", "tasks"), [(13, 7), (9, 40), (3, pairwise.EINSUM_BUFFER + 5)])
def test_blocked_pairwise_sums_equal_the_whole_array_bit_for_bit(systems, tasks):
    rng = np.random.default_rng(systems)
    scores = np.round(rng.standard_normal((systems, tasks)), 1)  # many ties
    scores[rng.random(scores.shape) < 0.25] = np.nan
    scores[0, :] = np.nan  # a system without any score
    scores[1, ::2] = -0.0  # equal to 0.0
    table = make_table(scores)
    w = rng.random(tasks) * 3.7  # rounding would show a different summation order
    prefs, strict = _unblocked(table, w)
    for rows in (None, 1, 2, 5):
        assert np.array_equal(pairwise.preference_matrix(table, w, rows=rows), prefs)
        assert np.array_equal(pairwise.strict_wins(table, w, rows=rows), strict)
        assert np.array_equal(pairwise.outcomes(table, rows=rows), pairwise.outcomes(table))
        assert np.array_equal(pairwise.compared(table, rows=rows), pairwise.compared(table))
    diff = np.sign(table.scores[:, None, :] - table.scores[None, :, :])
    assert np.array_equal(pairwise.outcomes(table), np.nan_to_num(diff, nan=0).astype(np.int8))


def test_copeland_on_5000_systems_x_200_tasks_works_in_blocks():
    rng = np.random.default_rng(0)
    scores = rng.random((5000, 200))
    scores[rng.random(scores.shape) < 0.02] = np.nan
    scores[7] = 2.0  # beats everyone on every task
    table = make_table(scores)
    tracemalloc.start()
    try:
        ranking = run("copeland", table)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**30  # the systems × systems × tasks array alone would be 37 GiB
    assert ranking.ranks[7] == 1 and ranking.scores[7] == 4999
    assert ranking.scores.sum() == 0  # every majority win is someone's loss


def test_pairwise_rules_refuse_what_does_not_fit_in_one_line(monkeypatch):
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "64M")
    table = make_table(np.random.default_rng(0).random((5000, 200)))
    for name in ("copeland", "condorcet", "minimax", "baldwin", "kemeny"):
        with pytest.raises(rankarena.RankarenaError) as caught:
            run(name, table)
        assert str(caught.value) == (
            f"aggregator {name!r} needs 794.9 MiB for 5000 systems x 200 tasks (pairwise "
            f"matrices); limit: 64.0 MiB (RANKARENA_MAX_MEMORY=64M)"
        )


def test_threshold_refuses_place_counts_that_do_not_fit_in_one_line(monkeypatch):
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "64M")
    table = make_table(np.random.default_rng(0).random((2000, 3)))
    with pytest.raises(rankarena.RankarenaError) as caught:
        run("threshold", table)
    assert str(caught.value) == (
        "aggregator 'threshold' needs 152.6 MiB for 2000 systems x 3 tasks (place counts and "
        "their sort); limit: 64.0 MiB (RANKARENA_MAX_MEMORY=64M)"
    )


# ---------------------------------------------------------------------- parameter errors


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("copeland", {"groups": "tasktype"}, "did you mean 'task_type'"),
        ("plurality", {"groups": 3}, "groups must be 'task_type'"),
        ("minimax", {"variant": "margin"}, "winning_votes, margins, pairwise_opposition"),
        ("dowdall", {"task_weights": [1, -1]}, "finite numbers >= 0"),
        ("dowdall", {"task_weights": "t1"}, "task_weights must be"),
        ("baldwin", {"group_weights": {"STS": 2}}, "group_weights needs groups"),
        ("kemeny", {"exact_max": 25}, "at most 20"),
        ("condorcet", {"min_coverage": 1.5}, "min_coverage must be in [0, 1]"),
        ("kemeny", {"restarts": -1}, "restarts must be an int >= 0"),
        ("threshold", {"tie_break": "x"}, "valid parameters: task_weights, groups"),
    ],
)
def test_bad_parameters_are_one_line_errors(name, params, expected):
    with pytest.raises(ParameterError) as error:
        create(name, **params)
    message = str(error.value)
    assert "\n" not in message and expected in message
    assert repr(name) in message


@pytest.mark.parametrize(
    ("params", "table", "expected"),
    [
        ({"task_weights": {"t9": 2}}, TENNESSEE, "unknown task(s) 't9'"),
        ({"task_weights": [1, 2]}, TENNESSEE, "2 weights for 4 tasks"),
        ({"groups": "task_type"}, TENNESSEE, "gives no group for 4 task(s)"),
        ({"groups": {"r1": "x"}}, TYPED, "gives no group for 4 task(s)"),
        (
            {"groups": "task_type", "group_weights": {"Retrieva": 2}},
            TYPED,
            "did you mean 'Retrieval'",
        ),
    ],
)
def test_parameters_not_matching_the_table_are_one_line_errors(params, table, expected):
    with pytest.raises(ParameterError) as error:
        run("copeland", table, **params)
    message = str(error.value)
    assert "\n" not in message and expected in message and "'copeland'" in message


# ------------------------------------------------------------------------ real MTEB data


@pytest.fixture(scope="module")
def mteb_tables() -> tuple[ScoreTable, ScoreTable]:
    """MTEB(eng, v2) as mteb's leaderboard selects it: the full table (317 models, many
    missing cells) and its complete rows (models with all 41 tasks)."""
    rows = pq.read_table(_data_folder("mteb") / "scores.parquet")
    rows = rows.filter(pc.and_(rows["lb_selected"], rows["in_mteb_eng_v2"]))
    table = ScoreTable.from_long(rows, system="model", task="task", score="main_score")
    types = dict(zip(rows["task"].to_pylist(), rows["task_type"].to_pylist(), strict=True))
    table = ScoreTable(table.systems, table.tasks, table.scores, types)
    complete = np.flatnonzero(~np.isnan(table.scores).any(axis=1))
    systems = tuple(table.systems[i] for i in complete)
    return table, ScoreTable(systems, table.tasks, table.scores[complete], types)


def mean_rank_of(values: np.ndarray, index: int) -> int:
    return 1 + int(np.sum(values > values[index]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_RULES)
def test_rules_on_mteb_agree_with_the_mean_at_the_top(mteb_tables, name):
    full, complete = mteb_tables
    assert len(full.systems) > 300 and len(complete.systems) > 150
    mean = complete.scores.mean(axis=1)
    # the full table, missing cells and all: every model gets a finite score
    ranking = run(name, full)
    assert np.isfinite(ranking.scores).all()
    assert ranking.ranks.min() == 1 and ranking.ranks.max() <= len(full.systems)
    on_complete = run(name, complete)
    # min_coverage=1 on the full table is the complete-rows table
    covered = run(name, full, min_coverage=1.0)
    in_covered = dict(zip(full.systems, covered.scores, strict=True))
    np.testing.assert_allclose([in_covered[s] for s in complete.systems], on_complete.scores)
    assert np.isnan(covered.scores).sum() == len(full.systems) - len(complete.systems)
    if name == "plurality":
        # plurality ignores everything but first places: most models tie at 0, and a
        # specialist can win (an STS model wins 6 of 41 tasks). Still, the task winners
        # sit near the top of the mean ranking.
        winners = np.flatnonzero(on_complete.scores > 0)
        ranks = [mean_rank_of(mean, i) for i in winners]
        assert np.median(ranks) <= len(complete.systems) / 4
        assert kendalltau(on_complete.scores, mean).statistic > 0.2
        return
    in_full = {s: v for s, v in zip(full.systems, ranking.scores, strict=True)}
    restricted = np.array([in_full[s] for s in complete.systems])
    assert kendalltau(restricted, mean).statistic > 0.5
    assert kendalltau(on_complete.scores, mean).statistic > 0.5
    assert mean_rank_of(mean, int(np.argmax(on_complete.scores))) <= 10


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_RULES)
def test_two_step_by_task_type_on_mteb(mteb_tables, name):
    full, complete = mteb_tables
    assert np.isfinite(run(name, full, groups="task_type").scores).all()
    types = sorted(set(complete.task_types.values()))
    assert len(types) == 7
    by_type = np.mean(
        [
            complete.scores[:, [complete.task_types[t] == g for t in complete.tasks]].mean(axis=1)
            for g in types
        ],
        axis=0,
    )  # MTEB's "Mean (TaskType)"
    ranking = run(name, complete, groups="task_type")
    if name in ("plurality", "minimax"):
        # seven voters: coarse scores with many ties; check only the winner
        assert mean_rank_of(by_type, int(np.argmax(ranking.scores))) <= 30
        return
    assert kendalltau(ranking.scores, by_type).statistic > 0.5
