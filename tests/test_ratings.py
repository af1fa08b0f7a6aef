"""Elo and Bradley-Terry from pairwise task outcomes; bootstrap rank intervals; the
leaderboard of several rules and ``rankarena aggregate``."""

from __future__ import annotations

import re

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

import rankarena
from rankarena import ParameterError, ScoreTable
from rankarena.cli.main import main
from rankarena.leaderboard.board import build_leaderboard
from rankarena.leaderboard.rank_intervals import bootstrap_ranks, resample_tasks
from rankarena.plugins.aggregators.ratings import BradleyTerry

HOST = rankarena.plugin_manager()


def table_of(scores: np.ndarray) -> ScoreTable:
    systems = tuple(f"s{i}" for i in range(scores.shape[0]))
    return ScoreTable(systems, tuple(f"t{k}" for k in range(scores.shape[1])), scores)


def test_bradley_terry_recovers_strengths_with_calibrated_errors():
    rng = np.random.default_rng(1)
    beta = rng.normal(size=8)
    beta -= beta.mean()
    p = 1 / (1 + np.exp(-(beta[:, None] - beta[None, :])))
    z = []
    for _ in range(30):  # independent matches: 200 games per pair
        upper = np.triu(rng.binomial(200, p), 1)
        wins = (upper + np.tril(200 - upper.T, -1)).astype(float)
        estimate, se = BradleyTerry(ridge=0.0).fit(wins)
        z.append((estimate - beta) / se)
    z = np.array(z)
    assert abs(z.mean()) < 0.2 and 0.8 < z.std() < 1.2  # errors match the standard errors
    assert 0.9 < np.mean(np.abs(z) < 1.96) <= 1.0


def pinv_standard_errors(model: BradleyTerry, wins: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The textbook route: the pseudo-inverse of the centred Hessian, built densely."""
    n = len(beta)
    p = 1.0 / (1.0 + np.exp(-(beta[:, None] - beta[None, :])))
    weight = (wins + wins.T) * p * (1 - p)
    np.fill_diagonal(weight, 0.0)
    hessian = np.diag(weight.sum(axis=1)) - weight + model.ridge * np.eye(n)
    centre = np.eye(n) - 1.0 / n
    return np.sqrt(np.clip(np.diag(np.linalg.pinv(centre @ hessian @ centre)), 0.0, None))


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 1.0])
@pytest.mark.parametrize("n", [2, 7, 60])
def test_bradley_terry_cholesky_errors_equal_the_pseudo_inverse(ridge, n):
    rng = np.random.default_rng(n)
    wins = rng.integers(0, 20, size=(n, n)).astype(float)
    np.fill_diagonal(wins, 0.0)
    model = BradleyTerry(ridge=ridge)
    beta, se = model.fit(wins)
    np.testing.assert_allclose(se, pinv_standard_errors(model, wins, beta), rtol=1e-8)


def test_bradley_terry_errors_of_a_system_without_matches():
    wins = np.array([[0, 3, 0], [2, 0, 0], [0, 0, 0]], dtype=float)  # s2 never plays
    model = BradleyTerry(ridge=0.0)
    beta, se = model.fit(wins)  # a Hessian of rank n - 2
    np.testing.assert_allclose(se, pinv_standard_errors(model, wins, beta), rtol=1e-8, atol=1e-9)


def test_bradley_terry_on_task_scores_orders_by_strength():
    rng = np.random.default_rng(2)
    beta = np.linspace(-2, 2, 10)
    # Gumbel noise: P(i scores above j on a task) = σ(β_i − β_j), the Bradley-Terry model
    table = table_of(beta[:, None] + rng.gumbel(size=(10, 300)))
    ranking = HOST.aggregators.create("bradley-terry").aggregate(table)
    assert np.corrcoef(ranking.scores, beta)[0, 1] > 0.99
    assert ranking.ranks.tolist() == list(range(10, 0, -1))


def test_bradley_terry_task_weights_equal_duplicated_tasks():
    rng = np.random.default_rng(3)
    scores = rng.random((5, 4))
    weighted = HOST.aggregators.create("bradley-terry", task_weights=[2, 1, 1, 0])
    duplicated = table_of(np.column_stack([scores[:, 0], scores[:, 0], scores[:, 1:3]]))
    np.testing.assert_allclose(
        weighted.aggregate(table_of(scores)).scores,
        HOST.aggregators.create("bradley-terry").aggregate(duplicated).scores,
        atol=1e-6,
    )


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 9), tasks=st.integers(1, 6), seed=st.integers(0, 1000), odd=st.booleans())
def test_elo_invariants(n, tasks, seed, odd):
    rng = np.random.default_rng(seed)
    scores = rng.random((n, tasks))
    scores[rng.random((n, tasks)) < 0.2] = np.nan
    elo = HOST.aggregators.create("elo", orders=5, seed=seed, initial=1500.0)
    ratings = elo.ratings(table_of(scores))
    # zero-sum: every update moves rating from one system to the other
    np.testing.assert_allclose(ratings.sum(axis=1), 1500.0 * n)
    again = HOST.aggregators.create("elo", orders=5, seed=seed, initial=1500.0)
    np.testing.assert_array_equal(ratings, again.ratings(table_of(scores)))


def test_elo_plays_every_pair_once_per_task():
    # with K tiny, Elo is linear: R_i − initial ≈ K/2 · (wins − losses) over all matches
    rng = np.random.default_rng(4)
    scores = rng.random((7, 5))
    ratings = HOST.aggregators.create("elo", k=1e-6, orders=3).ratings(table_of(scores))
    diff = np.sign(scores[:, None, :] - scores[None, :, :]).sum(axis=(1, 2))
    np.testing.assert_allclose((ratings - 1000.0) / 1e-6, np.tile(diff / 2, (3, 1)), atol=1e-3)


def test_elo_winner_of_every_task_is_first_and_params_are_checked():
    scores = np.random.default_rng(5).random((6, 8))
    scores[2] = 2.0
    assert HOST.aggregators.create("elo").aggregate(table_of(scores)).ranks[2] == 1
    with pytest.raises(ParameterError, match="aggregator 'elo': need k > 0"):
        HOST.aggregators.create("elo", k=0.0)


def test_elo_rounds_per_task_plays_that_many_rounds_of_each_round_robin():
    rng = np.random.default_rng(7)
    scores = rng.random((9, 4))  # odd: 9 rounds of 4 matches and a bye
    table = table_of(scores)
    full = HOST.aggregators.create("elo", orders=3).ratings(table)
    every = HOST.aggregators.create("elo", orders=3, rounds_per_task=9).ratings(table)
    np.testing.assert_array_equal(full, every)  # all the rounds: the same draws, the same play
    # with K tiny, Elo is linear: each order plays 2 rounds x 4 matches on each of 4 tasks
    tiny = HOST.aggregators.create("elo", k=1e-6, orders=3, rounds_per_task=2).ratings(table)
    played = np.abs(np.round((tiny - 1000.0) / 1e-6 * 2)).sum(axis=1)  # |wins - losses| summed
    assert np.all(played <= 2 * 4 * 4 * 2) and np.all(played > 0)
    all_rounds = HOST.aggregators.create("elo", k=1e-6, orders=3).ratings(table)
    assert np.abs((tiny - all_rounds) / 1e-6).max() > 0.5  # fewer matches, other ratings


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_elo_rounds_per_task_is_checked(bad):
    with pytest.raises(ParameterError, match=r"rounds_per_task.* must be (an integer >= 1|int)"):
        HOST.aggregators.create("elo", rounds_per_task=bad)


def test_bootstrap_intervals_contain_the_point_rank():
    rng = np.random.default_rng(6)
    strength = np.linspace(0, 1, 8)
    table = table_of(strength[:, None] + 0.3 * rng.normal(size=(8, 30)))
    mean = HOST.aggregators.create("mean")
    low, high = bootstrap_ranks(mean.aggregate, table, samples=200, seed=1)
    point = mean.aggregate(table).ranks
    assert np.all(low <= point) and np.all(point <= high)
    assert high[0] - low[0] >= 0 and low[-1] == 1  # the strongest can only be near the top
    again = bootstrap_ranks(mean.aggregate, table, samples=200, seed=1)
    np.testing.assert_array_equal(again[0], low)
    # with one dominating system and identical tasks, its interval is exactly [1, 1]
    fixed = table_of(np.tile(np.arange(5.0)[:, None], (1, 6)))
    low, high = bootstrap_ranks(mean.aggregate, fixed, samples=50)
    assert low.tolist() == high.tolist() == [5, 4, 3, 2, 1]


def test_resampled_tasks_keep_their_types():
    table = ScoreTable(("a",), ("x", "y"), np.array([[1.0, 2.0]]), {"x": "STS", "y": "Retrieval"})
    resampled = resample_tasks(table, np.array([1, 1, 0]))
    assert resampled.tasks == ("y", "y#2", "x")
    assert resampled.task_types == {"y": "Retrieval", "y#2": "Retrieval", "x": "STS"}


def test_leaderboard_columns_and_agreement():
    scores = np.random.default_rng(7).random((6, 5))
    board = build_leaderboard(table_of(scores), ["mean", "borda", "bradley-terry"], HOST)
    tau = board.kendall()
    assert np.allclose(np.diag(tau), 1) and np.allclose(tau, tau.T)
    expected = kendalltau(board.rankings["mean"].ranks, board.rankings["borda"].ranks).statistic
    assert tau[0, 1] == pytest.approx(expected)
    table = board.to_table()
    assert table.column_names[:3] == ["system", "mean:rank", "mean:score"]
    assert table.column("mean:rank").to_pylist() == sorted(table.column("mean:rank").to_pylist())


def test_cli_aggregate_prints_writes_and_rejects(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "scores.csv"
    rows = [f"s{i},t{k},{(i + 1) * (k + 2) % 7}" for i in range(5) for k in range(4)]
    path.write_text("system,task,score\n" + "\n".join(rows) + "\n")
    output = tmp_path / "board.parquet"
    code = main(
        ["aggregate", str(path), "--method", "borda,mean,elo", "--bootstrap", "20",
         "--param", "elo.orders=3", "--output", str(output)]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "Kendall" in out and "bootstrap interval" in out  # titles wrap to the table
    assert re.search(r"\d \[\d–\d\]", out)  # a rank and its interval
    board = pq.read_table(output)
    assert {"borda:rank", "elo:rank_low", "mean:rank_high"} <= set(board.column_names)
    assert main(["aggregate", str(path), "--method", "brda"]) == 2
    assert "unknown aggregator 'brda' (did you mean 'borda'" in capsys.readouterr().err
    assert main(["aggregate", str(path), "--param", "elo.k=2"]) == 2
    assert "METHOD one of mean, borda" in capsys.readouterr().err


def test_cli_aggregate_on_mteb(mteb_dir, capsys):
    code = main(
        ["aggregate", str(mteb_dir / "scores.parquet"), "--benchmark", "MTEB(eng, v2)",
         "--method", "borda,mean", "--top", "5"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "317 systems × 41 tasks" in out
