"""Stability audits (``rankarena.leaderboard.stability``, ``rankarena audit``): the exact
task search against brute force, the greedy bound, the query version against brute force,
the missing-data study, MTEB(eng, v2) and the command line."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankarena.cli.main import main
from rankarena.core.host import plugin_manager
from rankarena.data.score_table import Ranking, ScoreTable
from rankarena.errors import ParameterError
from rankarena.leaderboard.stability import (
    drop_tasks,
    fewest_queries_changing,
    fewest_queries_changing_winner,
    fewest_tasks_changing,
    missing_data_study,
    top_set,
)


def mean_rule(table: ScoreTable) -> Ranking:
    return Ranking.from_scores("mean", table.systems, np.nanmean(table.scores, axis=1))


def wins_rule(table: ScoreTable) -> Ranking:
    """Task wins (plurality-like): scores do not always separate the systems."""
    wins = (table.scores == np.nanmax(table.scores, axis=0, keepdims=True)).sum(axis=1)
    return Ranking.from_scores("wins", table.systems, wins)


def make_table(values) -> ScoreTable:
    values = np.asarray(values, dtype=float)
    systems = tuple(f"s{i}" for i in range(values.shape[0]))
    tasks = tuple(f"t{j}" for j in range(values.shape[1]))
    return ScoreTable(systems, tasks, values)


def brute_tasks(table: ScoreTable, rule, k: int) -> int | None:
    top = top_set(rule(table), k)
    n = len(table.tasks)
    for size in range(1, n):
        for removed in itertools.combinations(range(n), size):
            if top_set(rule(drop_tasks(table, removed)), k) != top:
                return size
    return None


def small_tables(max_systems=4, max_tasks=5):
    return st.integers(3, max_systems).flatmap(
        lambda s: st.integers(2, max_tasks).flatmap(
            lambda t: st.lists(
                st.lists(st.integers(0, 4), min_size=t, max_size=t), min_size=s, max_size=s
            )
        )
    )


@settings(max_examples=60, deadline=None)
@given(small_tables(), st.sampled_from([mean_rule, wins_rule]), st.integers(1, 2))
def test_exact_task_search_equals_brute_force(values, rule, k):
    table = make_table(values)
    result = fewest_tasks_changing(table, rule, top_k=k)
    assert result.exact
    assert result.size == brute_tasks(table, rule, k)
    if result.size is not None:
        assert len(result.tasks) == result.size
        assert result.lower_bound == result.size
        kept = drop_tasks(table, [table.tasks.index(t) for t in result.tasks])
        assert top_set(rule(kept), k) == result.new_top != result.top
    else:
        assert result.tasks == () and result.lower_bound == len(table.tasks)


@settings(max_examples=60, deadline=None)
@given(small_tables(max_systems=5, max_tasks=6), st.sampled_from([mean_rule, wins_rule]))
def test_greedy_is_a_sound_upper_bound(values, rule):
    table = make_table(values)
    exact = fewest_tasks_changing(table, rule)
    greedy = fewest_tasks_changing(table, rule, exact_budget=1)  # no exhaustive size at all
    assert greedy.lower_bound == 1
    n = len(table.tasks)
    assert greedy.calls <= 1 + n * (n + 1) // 2 - 1
    if greedy.size is not None:
        assert exact.size is not None and greedy.size >= exact.size
        assert greedy.exact == (greedy.size == 1)
        kept = drop_tasks(table, [table.tasks.index(t) for t in greedy.tasks])
        assert top_set(rule(kept), 1) == greedy.new_top != greedy.top
    else:
        assert not greedy.exact


def test_budget_switches_to_greedy_with_the_searched_sizes_as_lower_bound():
    rng = np.random.default_rng(3)
    table = make_table(rng.normal(size=(5, 8)) + np.array([[2.0]] + [[0.0]] * 4))
    budget = 1 + 8 + 28  # sizes 1 and 2 exhaustively, not size 3 (56 subsets)
    result = fewest_tasks_changing(table, mean_rule, exact_budget=budget)
    full = fewest_tasks_changing(table, mean_rule, exact_budget=10**6)
    assert full.exact and full.size > 2
    assert not result.exact or result.size == 3
    assert result.lower_bound == 3
    assert result.size is None or result.size >= full.size
    assert "greedy" in result.describe() or result.exact


def test_task_search_names_ties_and_refuses_bad_k():
    tied = make_table([[1, 1], [1, 1], [0, 0]])
    result = fewest_tasks_changing(tied, mean_rule)
    assert result.size is None and result.exact and result.top == {"s0", "s1"}
    with pytest.raises(ParameterError, match="below the number of systems"):
        fewest_tasks_changing(tied, mean_rule, top_k=3)
    with pytest.raises(ParameterError, match="positive integer"):
        fewest_tasks_changing(tied, mean_rule, top_k=0)


def brute_queries(values: np.ndarray, k: int) -> int | None:
    q = values.shape[1]
    top = _top(values.sum(axis=1), k)
    for size in range(1, q):
        for removed in itertools.combinations(range(q), size):
            keep = [i for i in range(q) if i not in removed]
            if _top(values[:, keep].sum(axis=1), k) != top:
                return size
    return None


def _top(sums: np.ndarray, k: int) -> frozenset[int]:
    return top_set(Ranking.from_scores("mean", range(len(sums)), sums), k)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda s: st.integers(1, 6).flatmap(
            lambda q: st.lists(
                st.lists(st.integers(0, 3), min_size=q, max_size=q), min_size=s, max_size=s
            )
        )
    ),
    st.integers(1, 2),
)
def test_query_version_equals_brute_force(values, k):
    values = np.asarray(values, dtype=float)
    if k >= len(values):
        k = 1
    result = fewest_queries_changing(values, top_k=k)
    truth = brute_queries(values, k)
    if result.exact:
        assert result.size == truth
    elif result.size is not None:  # a tie across the k-th place: an upper bound
        assert truth is not None and result.size >= truth
    if result.size is not None:
        keep = [i for i in range(values.shape[1]) if i not in result.queries]
        new = _top(values[:, keep].sum(axis=1), k)
        assert new == result.new_top != result.top


def test_query_version_names_queries_and_challenger():
    values = np.array([[0.9, 0.8, 0.1, 0.7], [0.5, 0.5, 0.5, 0.5], [0.0, 0.1, 0.2, 0.3]])
    result = fewest_queries_changing_winner(values, ["a", "b", "c"], ["q1", "q2", "q3", "q4"])
    # a leads b by 0.5 in total; removing q1 (+0.4) is not enough, q1 and q2 (+0.7) is
    assert result.size == 2 and set(result.queries) == {"q1", "q2"}
    assert result.challenger == "b" and result.against == "a" and result.new_top == {"b"}


def test_missing_data_study_is_reproducible_and_exact_at_share_zero():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(12, 9))
    values[0, 0] = np.nan  # an incomplete system: left out
    table = make_table(values)
    rules = {"mean": mean_rule, "wins": wins_rule}
    one = missing_data_study(table, rules, shares=(0.0, 0.2), repeats=5, seed=7)
    two = missing_data_study(table, rules, shares=(0.0, 0.2), repeats=5, seed=7)
    other = missing_data_study(table, rules, shares=(0.0, 0.2), repeats=5, seed=8)
    assert repr(one.rows) == repr(two.rows) and repr(one.rows) != repr(other.rows)
    rows = {(r["rule"], r["share"]): r for r in one.rows}
    assert rows["mean", 0.0]["tau_mean"] == 1.0 and rows["mean", 0.0]["tau_sd"] == 0.0
    assert rows["mean", 0.0]["systems"] == 11 and rows["mean", 0.2]["masked"] == 20
    assert rows["mean", 0.2]["tau_min"] < 1.0
    assert one.to_table().num_rows == 4
    with pytest.raises(ParameterError, match=r"\[0, 1\)"):
        missing_data_study(table, rules, shares=(1.0,))


@pytest.fixture(scope="module")
def mteb_table(mteb_dir):
    from rankarena.leaderboard.score_sources import read_scores

    table = read_scores(mteb_dir / "scores.parquet", benchmark="MTEB(eng, v2)")
    table = table.with_coverage(1.0)
    keep = np.argsort(-np.nanmean(table.scores, axis=1))[:30]
    columns = list(range(0, len(table.tasks), 3))  # 14 of the 41 tasks
    return ScoreTable(
        tuple(table.systems[i] for i in keep),
        tuple(table.tasks[j] for j in columns),
        table.scores[np.ix_(keep, columns)],
        table.task_types,
    )


def test_mteb_subset_with_borda_and_mean(mteb_table):
    host = plugin_manager()
    for name in ("borda", "mean"):
        rule = host.aggregators.create(name).aggregate
        result = fewest_tasks_changing(mteb_table, rule, exact_budget=2_000)
        assert result.size is not None and result.size >= result.lower_bound >= 1
        assert result.new_top != result.top
        kept = drop_tasks(mteb_table, [mteb_table.tasks.index(t) for t in result.tasks])
        assert top_set(rule(kept), 1) == result.new_top
        if result.exact and result.size > 1:  # no single task does it
            for j in range(len(mteb_table.tasks)):
                assert top_set(rule(drop_tasks(mteb_table, [j])), 1) == result.top
    rules = {n: host.aggregators.create(n).aggregate for n in ("borda", "mean")}
    study = missing_data_study(mteb_table, rules, shares=(0.0, 0.1), repeats=3)
    rows = {(r["rule"], r["share"]): r for r in study.rows}
    assert rows["borda", 0.0]["tau_mean"] == 1.0
    assert 0.5 < rows["borda", 0.1]["tau_mean"] < 1.0
    assert rows["mean", 0.1]["unranked_mean"] > 0  # the strict mean drops incomplete rows


@pytest.fixture
def scores_csv(tmp_path):
    rng = np.random.default_rng(1)
    lines = ["system,task,score"]
    for s in range(6):
        for t in range(5):
            lines.append(f"sys{s},task{t},{rng.normal() + 0.3 * s:.4f}")
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_audit_end_to_end(scores_csv, tmp_path, capsys):
    out = tmp_path / "missing.parquet"
    code = main(
        [
            "audit",
            str(scores_csv),
            "--method",
            "borda,mean",
            "--top-k",
            "1,2",
            "--mask",
            "0,0.2",
            "--repeats",
            "3",
            "--output",
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "6 systems × 5 tasks" in text
    assert "borda, winner:" in text and "mean, top-2 set:" in text
    assert "Kendall τ-b" in text
    import pyarrow.parquet as pq

    written = pq.read_table(out)
    assert written.num_rows == 4
    assert set(written.column("rule").to_pylist()) == {"borda", "mean"}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--top-k", "0"], "--top-k takes positive integers"),
        (["--top-k", "1,x"], "--top-k takes positive integers"),
        (["--top-k", "6"], "below the number of systems (6)"),
        (["--mask", "1.0"], "--mask takes shares in [0, 1)"),
        (["--method", "nosuch"], "nosuch"),
        (["--param", "other.x=1"], "METHOD one of mean, borda"),
        (["--output", "x.txt"], ".parquet or .csv"),
    ],
)
def test_cli_audit_bad_parameters(scores_csv, capsys, option, message):
    code = main(["audit", str(scores_csv), *option])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rankarena: error:") and message in err
    assert err.count("\n") == 1
