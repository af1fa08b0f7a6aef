"""The ``swiss`` aggregator: Competitive Swiss-System Dynamics (Liu et al., arXiv 2512.21010).

Invariants (hypothesis), exact small cases, the vectorised engine against the plain
per-tournament loop (statistically), parameter errors, and a run on the real MTEB table.
"""

from __future__ import annotations

import dataclasses
import math
import tracemalloc

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import _data_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swiss_reference import reference_tournaments

import rankarena
from rankarena import ParameterError, ScoreTable
from rankarena.leaderboard.pairwise import outcomes as pairwise_outcomes
from rankarena.plugins.aggregators import swiss
from rankarena.plugins.aggregators.swiss import (
    SwissTournament,
    active_counts,
    elimination_schedule,
    match_count,
    sensitivity,
    simulate,
    win_tensor,
)

NAN = math.nan


def make_table(scores, systems=None, tasks=None) -> ScoreTable:
    values = np.asarray(scores, dtype=np.float64)
    s, t = values.shape
    systems = systems or tuple(f"s{i}" for i in range(s))
    tasks = tasks or tuple(f"t{k}" for k in range(t))
    return ScoreTable(tuple(systems), tuple(tasks), values)


def strength_table(systems: int, tasks: int, seed: int = 0, digits: int | None = None):
    """Scores = system strength + task noise; ``digits`` rounds them (ties)."""
    rng = np.random.default_rng(seed)
    scores = np.linspace(1.0, 0.0, systems)[:, None] + 0.5 * rng.standard_normal((systems, tasks))
    if digits is not None:
        scores = np.round(scores, digits)
    return make_table(scores)


def plan_of(table, **params):
    """The engine's checked plan, with the aggregator's defaults for what is not given."""
    rules = dict(rounds=None, task_order="given", elimination="none", ties="coin", byes="group")
    return swiss._plan(table, **{**rules, **params})


# ------------------------------------------------------------------------------ registry


def test_registered_and_ranks_with_extras():
    host = rankarena.plugin_manager()
    agg = host.aggregators.create("swiss", tournaments=500, seed=3)
    assert isinstance(agg, SwissTournament)
    table = strength_table(6, 5)
    ranking = agg.aggregate(table)
    assert ranking.method == "swiss"
    assert ranking.systems == table.systems
    assert set(ranking.extras) == {"std", "se", "p_first", "p_survive", "exit_round"}
    rows = ranking.to_table().to_pylist()
    assert [r["rank"] for r in rows] == sorted(r["rank"] for r in rows)
    assert rows[0]["score"] == pytest.approx(max(ranking.scores))


def test_win_tensor_is_binary_and_antisymmetric():
    table = make_table([[1.0, 2.0, NAN], [1.0, 3.0, 0.5], [0.0, 2.5, 0.7]])
    w = win_tensor(table)
    assert w.dtype == bool and w.shape == (3, 3, 3)
    assert not (w & w.transpose(1, 0, 2)).any()
    assert not w[0, 1, 0] and not w[1, 0, 0]  # tie
    assert not w[0, :, 2].any() and not w[:, 0, 2].any()  # missing
    assert w[1, 0, 1] and w[2, 0, 1] and w[1, 2, 1]


# ------------------------------------------------------------------------ determinism


def test_same_seed_same_result_other_seed_differs():
    table = strength_table(10, 8, digits=1)
    params = dict(tournaments=3000, elimination="fraction:0.2", task_order="random", block=700)
    a, b = simulate(table, seed=7, **params), simulate(table, seed=7, **params)
    for field in ("expected", "std", "p_first", "p_survive", "exit_round"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = simulate(table, seed=8, **params)
    assert not np.array_equal(a.expected, c.expected)
    np.testing.assert_allclose(a.expected, c.expected, atol=0.2)


def test_moments_merged_over_blocks_equal_numpy_on_all_tournaments():
    table = strength_table(7, 5, seed=6)
    result = simulate(table, tournaments=2500, block=300, elimination="fixed:1")
    plan = plan_of(table, elimination="fixed:1")
    starts = range(0, 2500, 300)
    games = [
        swiss._play_block(plan, min(300, 2500 - s), swiss._block_rng(0, b))
        for b, s in enumerate(starts)
    ]
    points = np.concatenate([g.points for g in games])
    np.testing.assert_allclose(result.expected, points.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(result.std, points.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(result.se, result.std / math.sqrt(2500))
    exits = np.concatenate([g.exit_round for g in games])
    np.testing.assert_allclose(result.exit_round, exits.mean(axis=0))
    np.testing.assert_allclose(result.p_survive, (exits == 5).mean(axis=0))


# ------------------------------------------------------------------------- invariants

cells = st.sampled_from([0.0, 1.0, 2.0, 3.0, NAN])


@st.composite
def tournaments_setup(draw):
    """A small table with ties and missing cells, and rules with a valid schedule."""
    systems = draw(st.integers(1, 9))
    tasks = draw(st.integers(1, 6))
    scores = draw(st.lists(cells, min_size=systems * tasks, max_size=systems * tasks))
    table = make_table(np.reshape(scores, (systems, tasks)))
    rounds = draw(st.integers(1, tasks))
    kind = draw(st.sampled_from(["none", "fixed", "fraction", "list"]))
    if kind == "fixed":
        elimination = f"fixed:{draw(st.integers(0, 4))}"
    elif kind == "fraction":
        elimination = f"fraction:{draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]))}"
    elif kind == "list":
        elimination, active = [], systems
        for _ in range(rounds - 1):
            cut = draw(st.integers(0, max(active - 2, 0)))
            elimination.append(cut)
            active -= cut
    else:
        elimination = "none"
    rules = dict(
        rounds=rounds,
        elimination=elimination,
        byes=draw(st.sampled_from(["group", "float"])),
        ties=draw(st.sampled_from(["coin", "half", "zero"])),
        task_order=draw(st.sampled_from(["given", "random"])),
    )
    return table, rules


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tournaments_setup(), st.integers(0, 2**32))
def test_points_and_matches_invariants(setup, seed):
    """Per tournament: Σ_m S_m = matches (coin, half) or <= (zero); the coin count is the
    exact ``match_count`` of the schedule; exits and the first place add up."""
    table, rules = setup
    plan = plan_of(table, **rules)
    games = swiss._play_block(plan, 40, np.random.default_rng(seed))
    rounds, schedule = plan.rounds, plan.schedule
    total = games.points.sum(axis=1)
    if rules["ties"] == "zero":
        assert np.all(total <= games.matches)
    else:
        np.testing.assert_array_equal(total, games.matches)
    if rules["ties"] == "coin":
        expected = match_count(len(table.systems), schedule, rounds, rules["byes"])
        assert np.all(games.matches == expected)
    if rules["byes"] == "float":
        counts = active_counts(schedule, len(table.systems))
        assert np.all(games.matches == sum(a // 2 for a in counts))
    assert np.all((games.points >= 0) & (games.points <= rounds))
    assert np.all(games.points * 2 == np.round(games.points * 2))
    np.testing.assert_allclose(games.first.sum(axis=1), 1.0)
    final = active_counts(schedule, len(table.systems))[-1]
    assert np.all((games.exit_round == rounds).sum(axis=1) == final)
    exits = sum(r * cut for r, cut in enumerate(schedule, start=1)) + rounds * final
    assert np.all(games.exit_round.sum(axis=1) == exits)
    assert np.all(games.first[games.exit_round < rounds] == 0)


@settings(max_examples=40, deadline=None)
@given(tournaments_setup())
def test_expected_scores_sum_to_the_matches(setup):
    table, rules = setup
    result = simulate(table, tournaments=90, block=40, seed=1, **rules)
    if rules["ties"] == "coin":
        count = match_count(len(table.systems), result.schedule, result.rounds, rules["byes"])
        assert result.matches == count
    if rules["ties"] == "zero":
        assert result.expected.sum() <= result.matches + 1e-9
    else:
        assert result.expected.sum() == pytest.approx(result.matches, rel=1e-12)
    assert result.p_first.sum() == pytest.approx(1.0)
    assert result.p_survive.sum() == pytest.approx(
        active_counts(result.schedule, len(table.systems))[-1]
    )
    assert np.all(result.std >= 0) and np.all(result.se <= result.std)


def test_fixed_pairing_equals_the_per_tournament_scan():
    """group + coin: the precomputed pair pattern and the per-tournament scan of the score
    groups see the same draws, so they must agree bit for bit."""
    table = strength_table(13, 9, seed=2, digits=1)
    for elimination in ("none", "fraction:0.2", [3, 0, 1, 2, 0, 0, 1, 0]):
        plan = plan_of(table, elimination=elimination)
        assert plan.pairs is not None
        scanned = dataclasses.replace(plan, pairs=None)
        a = swiss._play_block(plan, 300, np.random.default_rng(5))
        b = swiss._play_block(scanned, 300, np.random.default_rng(5))
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.exit_round, b.exit_round)
        np.testing.assert_array_equal(a.matches, b.matches)


def test_match_count_by_hand():
    # 8 systems, 4 rounds, group byes: 4 + 4 + (1+2+1) + (0+1+1+0) = 14 matches
    assert match_count(8, (0, 0, 0), 4, "group") == 14
    assert match_count(8, (0, 0, 0), 4, "float") == 16
    # 5 systems, a cut of 2 after round 1: round 1 plays 2 matches (one bye) either way;
    # round 2: 3 active, float pairs two of them; group: the two 1-point winners meet and
    # the one 0-point survivor sits out
    assert match_count(5, (2,), 2, "float") == 2 + 1
    assert match_count(5, (2,), 2, "group") == 2 + 1


# ------------------------------------------------------------------ dominant system, byes


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 6).map(lambda k: 2 * k), st.integers(1, 6), st.integers(0, 2**32))
def test_a_system_winning_every_task_gets_every_point_float_byes(systems, tasks, seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((systems, tasks))
    best = int(rng.integers(systems))
    scores[best] = 2.0
    result = simulate(make_table(scores), tournaments=200, block=64, seed=seed, byes="float")
    assert result.expected[best] == tasks
    assert result.p_first[best] == result.p_first.max()  # may share the first place
    assert result.to_ranking().ranks[best] == 1


def test_a_system_winning_every_task_gets_every_point_group_byes():
    """With 2^k systems and at most k rounds every score group is even: no byes."""
    rng = np.random.default_rng(0)
    scores = rng.random((16, 4))
    scores[5] = 2.0
    ranking = SwissTournament(tournaments=400).aggregate(make_table(scores))
    assert ranking.scores[5] == 4 and ranking.ranks[5] == 1
    assert sum(ranking.ranks == 1) == 1


def test_odd_group_gives_a_random_member_a_zero_point_bye():
    """3 systems, 1 round: one random system sits out, so the best scores 2/3 on average."""
    table = make_table([[3.0], [2.0], [1.0]])
    result = simulate(table, tournaments=30_000)
    assert result.matches == 1
    p = np.array([2 / 3, 1 / 3, 0.0])  # best wins unless it has the bye; middle beats worst
    assert np.all(np.abs(result.expected - p) <= 5 * np.sqrt(p * (1 - p) / 30_000) + 1e-12)


def test_a_lone_bottom_system_keeps_its_bye_under_group_byes():
    """The issue's rule has no float-down: a system alone at the lowest score never plays
    again. ``float`` lets it play (and win the tasks it wins)."""
    scores = np.tile(np.linspace(1.0, 0.3, 8)[:, None], (1, 6))
    scores[0] = [-1, -1, -1, 9, 9, 9]  # last on the first three tasks, first afterwards
    table = make_table(scores)
    group = simulate(table, tournaments=500)
    floating = simulate(table, tournaments=500, byes="float")
    assert group.expected[0] == 0.0
    assert floating.expected[0] == 3.0


# ------------------------------------------------------------------- ties and missing


def test_missing_and_tied_pairs_follow_the_ties_rule():
    """Two systems with float byes, so they meet every round: on t0 they tie, on t1 s1's
    score is missing (a score against a missing one is not a win: the tie rule decides)."""
    table = make_table([[1.0, 5.0], [1.0, NAN]])
    n = 20_000
    coin = simulate(table, tournaments=n, seed=4, ties="coin", byes="float")
    assert coin.expected.sum() == 2.0 and coin.matches == 2
    assert np.all(np.abs(coin.expected - 1.0) < 5 * math.sqrt(0.5 / n))  # two fair coins
    half = simulate(table, tournaments=n, ties="half", byes="float")
    np.testing.assert_array_equal(half.expected, [1.0, 1.0])
    np.testing.assert_array_equal(half.std, [0.0, 0.0])
    zero = simulate(table, tournaments=n, ties="zero", byes="float")
    np.testing.assert_array_equal(zero.expected, [0.0, 0.0])
    assert zero.p_first.tolist() == [0.5, 0.5]  # equal points share the first place


def test_zero_ties_only_award_decided_matches():
    table = make_table([[NAN, NAN], [NAN, NAN]])
    result = simulate(table, tournaments=50, ties="zero")
    np.testing.assert_array_equal(result.expected, [0.0, 0.0])
    assert result.matches == 2


# --------------------------------------------------------------- task order and rounds


def test_explicit_task_order_is_a_column_permutation():
    table = strength_table(7, 5, seed=3)
    names = ["t3", "t0", "t4"]
    a = simulate(table, tournaments=800, task_order=names, elimination="fixed:1")
    columns = [table.tasks.index(n) for n in names]
    reordered = make_table(table.scores[:, columns], tasks=tuple(names))
    b = simulate(reordered, tournaments=800, elimination="fixed:1")
    np.testing.assert_array_equal(a.expected, b.expected)
    assert a.tasks == tuple(names) and a.rounds == 3 and a.schedule == (1, 1)


def test_rounds_cut_the_sequence_and_random_order_uses_distinct_tasks():
    table = strength_table(6, 6, seed=1)
    assert simulate(table, tournaments=100, rounds=2).tasks == ("t0", "t1")
    # one system wins task t5 only: with random order it meets it in round 1 one time in 6
    scores = np.zeros((2, 6))
    scores[0, 5] = 1.0
    scores[1, :5] = 1.0
    result = simulate(make_table(scores), tournaments=30_000, rounds=1, task_order="random")
    assert result.tasks is None
    assert abs(result.expected[0] - 1 / 6) < 5 * math.sqrt(5 / 36 / 30_000)


# ------------------------------------------------------------------ vs the plain loop


def _max_z(a: np.ndarray, b: np.ndarray) -> float:
    n_a, n_b = len(a), len(b)
    se = np.sqrt(a.var(axis=0, ddof=1) / n_a + b.var(axis=0, ddof=1) / n_b)
    diff = a.mean(axis=0) - b.mean(axis=0)
    same = (se == 0) & (diff == 0)
    return float(np.max(np.where(same, 0.0, np.abs(diff) / np.where(se > 0, se, 1e-300))))


@pytest.mark.parametrize(
    "rules",
    [
        dict(),
        dict(elimination="fixed:2", task_order="random"),
        dict(ties="half", byes="float", elimination=[3, 0, 1, 0, 1]),
        dict(ties="zero", elimination="fraction:0.2"),
    ],
    ids=["default", "fixed-random", "half-float-list", "zero-group-fraction"],
)
def test_vectorised_agrees_with_the_plain_loop(rules):
    """E[S_m], P(first) and the exit round agree within 4.5 standard errors (N = 20,000)."""
    rng = np.random.default_rng(11)
    scores = np.round(np.linspace(1, 0, 9)[:, None] + rng.standard_normal((9, 6)), 0)
    scores[rng.random(scores.shape) < 0.15] = NAN
    plan = plan_of(make_table(scores), **rules)
    n = 20_000
    fast = swiss._play_block(plan, n, np.random.default_rng(1))
    loop = reference_tournaments(plan, n, seed=2)
    assert _max_z(fast.points, loop.points) < 4.5
    assert _max_z(fast.first, loop.first) < 4.5
    assert _max_z(fast.exit_round.astype(float), loop.exit_round.astype(float)) < 4.5
    assert _max_z(fast.matches[:, None] * 1.0, loop.matches[:, None] * 1.0) < 4.5


# ------------------------------------------------------------------------- schedules


def test_schedule_shorthands():
    assert elimination_schedule("none", 10, 4) == (0, 0, 0)
    assert elimination_schedule("fixed:3", 10, 5) == (3, 3, 2, 0)
    assert elimination_schedule("fraction:0.1", 64, 5) == (6, 5, 5, 4)
    assert elimination_schedule("fraction:0.3", 10, 3) == (3, 2)
    assert elimination_schedule([1, 2], 5, 3) == (1, 2)
    assert elimination_schedule("fixed:5", 1, 3) == (0, 0)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 45),
    st.one_of(
        st.integers(0, 80).map(lambda n: f"fixed:{n}"),
        st.floats(0, 0.99).map(lambda f: f"fraction:{f}"),
    ),
)
def test_shorthand_schedules_keep_two_players(systems, rounds, spec):
    schedule = elimination_schedule(spec, systems, rounds)
    assert len(schedule) == rounds - 1
    assert min(active_counts(schedule, systems)) >= min(2, systems)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        (dict(elimination="fixd:2"), "did you mean 'fixed'"),
        (dict(elimination="fixed:-1"), "integer N >= 0"),
        (dict(elimination="fixed:x"), "integer N >= 0"),
        (dict(elimination="fixed:²"), "integer N >= 0"),
        (dict(elimination="fraction:1.0"), "0 <= F < 1"),
        (dict(elimination="fraction:abc"), "0 <= F < 1"),
        (dict(elimination="half"), "'none', 'fixed:N', 'fraction:F'"),
        (dict(elimination=[1, -1]), "non-negative integers"),
        (dict(elimination=[1, True]), "non-negative integers"),
        (dict(ties="coins"), "did you mean 'coin'"),
        (dict(byes="flaot"), "did you mean 'float'"),
        (
            dict(task_order="randm"),
            "task_order must be one of given, random or a list of task names, got 'randm' "
            "(did you mean 'random'?)",
        ),
        (dict(task_order=[]), "task names"),
        (dict(tournaments=0), "tournaments must be an integer >= 1"),
        (dict(block=0), "block must be an integer >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(rounds=0), "rounds must be an integer >= 1"),
    ],
)
def test_parameter_errors_are_one_line(params, needle):
    with pytest.raises(ParameterError) as error:
        rankarena.plugin_manager().aggregators.create("swiss", **params)
    message = str(error.value)
    assert needle in message and "\n" not in message
    assert message.startswith("aggregator 'swiss'")


def test_registry_checks_types():
    with pytest.raises(ParameterError, match="tournaments"):
        rankarena.plugin_manager().aggregators.create("swiss", tournaments="many")


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        (dict(elimination=[1, 1]), "needs one count after each round but the last (3 for 4"),
        (dict(elimination=[3, 1, 0]), "leaves 1 of 5 systems for round 3"),
        (dict(elimination=[5, 0, 0]), "leaves 0 of 5 systems for round 2"),
        (dict(rounds=5), "rounds must be <= the 4 tasks"),
        (dict(task_order=["t0", "t9"]), "not in the table: 't9'"),
        (dict(task_order=["t0", "t0"]), "names a task twice"),
    ],
)
def test_table_dependent_errors(params, needle):
    table = strength_table(5, 4)
    with pytest.raises(ParameterError) as error:
        SwissTournament(tournaments=10, **params).aggregate(table)
    assert needle in str(error.value) and "\n" not in str(error.value)


# ----------------------------------------------------------------------- sensitivity


def test_sensitivity_tells_a_specialist_from_generalists():
    """Last on the first three tasks, first on the last three: fine without elimination,
    eliminated early under any cut (float byes, so the lone bottom system plays)."""
    scores = np.tile(np.linspace(1.0, 0.3, 8)[:, None], (1, 6))
    scores[0] = [-1, -1, -1, 9, 9, 9]
    table = make_table(scores, systems=("specialist", *[f"g{i}" for i in range(1, 8)]))
    out = sensitivity(table, ["none", "fixed:1", "fixed:2"], tournaments=1500, byes="float")
    rows = {r["system"]: r for r in out.to_pylist()}
    assert out.column_names[:3] == ["system", "score:none", "rank:none"]
    assert rows["specialist"]["score:none"] == 3.0
    assert rows["specialist"]["rank:fixed:2"] == 8
    assert rows["specialist"]["rank_shift"] >= 3
    assert rows["specialist"]["rank_spread"] == max(r["rank_spread"] for r in rows.values())
    assert rows["g1"]["rank_spread"] == 0
    direct = simulate(table, tournaments=1500, byes="float", elimination="fixed:1")
    assert rows["g2"]["score:fixed:1"] == direct.expected[2]
    method = SwissTournament(tournaments=1500, byes="float").sensitivity(table, ["none"])
    assert method.column("score:none").to_pylist() == out.column("score:none").to_pylist()


def test_sensitivity_rejects_repeated_schedules_and_elimination():
    table = strength_table(4, 3)
    with pytest.raises(ParameterError, match="distinct schedules"):
        sensitivity(table, ["none", "none"], tournaments=10)
    with pytest.raises(ParameterError, match="not 'elimination'"):
        sensitivity(table, ["none"], tournaments=10, elimination="fixed:1")


# ------------------------------------------------------------------------- edge cases


def test_one_system_plays_no_match():
    result = simulate(make_table([[1.0, 2.0]]), tournaments=10)
    assert result.expected.tolist() == [0.0] and result.matches == 0
    assert result.p_first.tolist() == [1.0]


def test_empty_table_is_a_data_error():
    with pytest.raises(rankarena.DataFormatError, match="at least one system and one task"):
        simulate(ScoreTable(("a",), (), np.zeros((1, 0))), tournaments=10)


# ------------------------------------------------------------------------------ memory


def test_matches_read_the_two_scores_as_the_win_tensor_says():
    rng = np.random.default_rng(4)
    scores = np.round(rng.standard_normal((9, 6)), 1)
    scores[rng.random(scores.shape) < 0.3] = np.nan
    table = make_table(scores)
    plan = plan_of(table)
    outcome = pairwise_outcomes(table)
    pairs = np.array([(a, b) for a in range(9) for b in range(9)])  # rows: a then b
    for t in range(6):
        result = swiss._outcome(plan.scores[t].take(pairs))[:, 0]
        assert np.array_equal(result, outcome[pairs[:, 0], pairs[:, 1], t])


def test_5000_systems_x_200_tasks_without_a_systems_squared_array():
    rng = np.random.default_rng(0)
    scores = rng.random((5000, 200))
    scores[rng.random(scores.shape) < 0.02] = np.nan
    scores[11] = 2.0  # wins every match it plays
    table = make_table(scores)
    tracemalloc.start()
    try:
        result = simulate(table, tournaments=20, block=20, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # the int8 win tensor alone would be 4.7 GiB
    assert result.to_ranking().ranks[11] == 1
    assert result.expected.sum() == pytest.approx(match_count(5000, (0,) * 199, 200))


def test_a_block_too_large_for_memory_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "1M")
    table = strength_table(100, 5)
    with pytest.raises(rankarena.RankarenaError) as caught:
        SwissTournament(tournaments=500).aggregate(table)
    assert str(caught.value) == (
        "aggregator 'swiss' needs 3.8 MiB for 100 systems x 5 tasks (500 tournaments played "
        "at once; a smaller block needs less); limit: 1.0 MiB (RANKARENA_MAX_MEMORY=1M)"
    )
    assert SwissTournament(tournaments=500, block=100).aggregate(table).method == "swiss"


# ----------------------------------------------------------------------- real MTEB table


def test_runs_on_the_mteb_english_v2_table():
    rows = pq.read_table(
        _data_folder("mteb") / "scores.parquet",
        columns=["model", "task", "main_score", "lb_selected", "in_mteb_eng_v2"],
    )
    rows = rows.filter(pc.and_(rows["lb_selected"], rows["in_mteb_eng_v2"]))
    table = ScoreTable.from_long(
        rows.select(["model", "task", "main_score"]),
        system="model",
        task="task",
        score="main_score",
    )
    assert len(table.tasks) == 41
    ranking = SwissTournament(tournaments=2000).aggregate(table)
    complete = ~np.isnan(table.scores).any(axis=1)
    mean = np.where(complete, np.nanmean(table.scores, axis=1), -np.inf)
    best = int(np.argmax(mean))
    assert ranking.ranks[best] <= 5
    assert np.all(ranking.scores <= 41) and np.all(ranking.scores >= 0)
    assert ranking.scores.sum() == pytest.approx(match_count(len(table.systems), (0,) * 40, 41))
