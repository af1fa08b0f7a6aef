"""The two-level bootstrap of a leaderboard (rankarena.leaderboard.uncertainty): rank
intervals, win probabilities and tied groups on real tables (a slice of the MTEB(eng, v2)
export; a results store of real SciFact per-query nDCG@10 values), the CLI end to end, and
a coverage simulation with known true ranks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import rankarena
from rankarena import BordaBasis, ScoreTable
from rankarena.cli.main import main
from rankarena.data.results import Results
from rankarena.errors import ParameterError
from rankarena.leaderboard.board import build_leaderboard
from rankarena.leaderboard.score_sources import (
    read_query_values,
    read_results_store,
    read_scores,
)
from rankarena.leaderboard.uncertainty import QueryValues, two_level_bootstrap

HOST = rankarena.plugin_manager()


def rule(name: str):
    return HOST.aggregators.create(name).aggregate


@pytest.fixture(scope="module")
def mteb_slice(mteb_dir) -> ScoreTable:
    """The first 40 complete models of MTEB(eng, v2) (export order), all 41 tasks."""
    table = read_scores(mteb_dir / "scores.parquet", benchmark="MTEB(eng, v2)")
    complete = np.flatnonzero(~np.isnan(table.scores).any(axis=1))[:40]
    return ScoreTable(
        tuple(table.systems[i] for i in complete),
        table.tasks,
        table.scores[complete],
        table.task_types,
    )


@pytest.fixture(scope="module")
def store(scifact, scifact_tfidf_run, tmp_path_factory):
    """A results store of real per-query nDCG@10 on the 300 SciFact test queries, cut into
    five 'datasets' of 60 queries: TF-IDF, the same with its per-query values shuffled
    within each dataset order (same means), and a seeded perturbation of TF-IDF. Each
    (system, dataset) has its mean row and 60 per-query rows; one per-query row is stored
    twice (the newer value wins) and one robustness variant has per-query rows too."""
    evaluation = rankarena.evaluate(scifact_tfidf_run, scifact.qrels("test"), ["ndcg@10"])
    ids = [str(q) for q in evaluation.query_ids]
    a = np.asarray(evaluation.per_query["ndcg@10"], dtype=np.float64)
    rng = np.random.default_rng(3)
    systems = {
        "tfidf": a,
        "tfidf-noisy": np.clip(a + rng.normal(0.03, 0.2, len(a)), 0.0, 1.0),
        "tfidf-worse": np.clip(a - rng.uniform(0.0, 0.1, len(a)), 0.0, 1.0),
    }
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for system, values in systems.items():
        for part in range(5):
            span = slice(60 * part, 60 * part + 60)
            base = dict(system=system, dataset=f"scifact-{part}", split="test", metric="ndcg@10")
            base.update(run_id=f"run-{system}", created_at=now, variant="")
            rows.append(dict(base, value=float(values[span].mean()), query_id=None))
            rows += [
                dict(base, value=float(v), query_id=q)
                for q, v in zip(ids[span], values[span], strict=True)
            ]
            if part == 0:
                rows.append(dict(base, value=0.5, query_id=None, variant="typos@0.3"))
                rows.append(dict(base, value=0.5, query_id=ids[0], variant="typos@0.3"))
    stale = dict(rows[1], value=-1.0)
    rows.insert(1, stale)  # an older copy of a per-query row: the later one wins
    path = tmp_path_factory.mktemp("store") / "results.parquet"
    Results.from_rows(rows).to_parquet(path)
    return path, systems, ids


def test_intervals_contain_the_point_rank_and_beats_is_a_probability(mteb_slice):
    for name in ("borda", "mean"):
        found = two_level_bootstrap(rule(name), mteb_slice, samples=200, seed=1)
        point = rule(name)(mteb_slice).ranks
        assert np.array_equal(found.point, point)
        assert np.all(found.low <= point) and np.all(point <= found.high)
        assert np.all((found.beats >= 0) & (found.beats <= 1))
        assert np.all(found.beats + found.beats.T <= 1 + 1e-12)
        assert np.all(np.diag(found.beats) == 0)
        assert found.levels == (1,) * len(mteb_slice.tasks)


def test_tied_groups_partition_the_point_order(mteb_slice):
    found = two_level_bootstrap(rule("borda"), mteb_slice, samples=200, seed=2, level=0.9)
    order = [mteb_slice.systems[i] for i in found.order]
    groups = found.tied_groups
    assert [s for g in groups for s in g] == order
    ranks = found.point[found.order]
    assert np.all(np.diff(ranks) >= 0)  # the order is the point order
    steps = np.diff(found.group[found.order])
    assert found.group[found.order[0]] == 1 and set(steps.tolist()) <= {0, 1}
    for k in range(len(order) - 1):  # a new group starts exactly at a separated pair
        separated = found.beats[found.order[k], found.order[k + 1]] >= 1 - 0.1 / 2
        assert bool(steps[k]) == separated
    assert found.separable == len(groups) - 1 and found.pairs == len(order) - 1
    assert found.summary() == (
        f"{len(groups) - 1} of {len(order) - 1} adjacent pairs separable; {len(groups)} tied groups"
    )
    assert 1 < len(groups) < len(order)  # a real table: some pairs are told apart, not all


def test_seeded_runs_repeat_and_seeds_differ(mteb_slice):
    one = two_level_bootstrap(rule("borda"), mteb_slice, samples=100, seed=5)
    two = two_level_bootstrap(rule("borda"), mteb_slice, samples=100, seed=5)
    other = two_level_bootstrap(rule("borda"), mteb_slice, samples=100, seed=6)
    assert np.array_equal(one.beats, two.beats) and np.array_equal(one.low, two.low)
    assert not np.array_equal(one.beats, other.beats)


def test_the_borda_basis_is_resampled_with_the_tasks(mteb_slice):
    """A basis with more systems than the table, as an MTEB results folder has: every
    resample's basis holds exactly the drawn tasks (repeats included), column for column."""
    rng = np.random.default_rng(0)
    extra = rng.uniform(0, 1, (5, len(mteb_slice.tasks)))
    basis = BordaBasis(
        mteb_slice.systems + tuple(f"extra-{i}" for i in range(5)),
        mteb_slice.tasks,
        np.vstack([mteb_slice.scores, extra]),
        len(mteb_slice.systems),
        tuple(range(len(mteb_slice.systems))),
    )
    table = ScoreTable(
        mteb_slice.systems, mteb_slice.tasks, mteb_slice.scores, mteb_slice.task_types, basis
    )
    seen = []
    borda = rule("borda")

    def spy(resampled: ScoreTable):
        got = resampled.borda_basis
        assert got is not None and got.systems == basis.systems and got.rows == basis.rows
        drawn = [name.split("#")[0] for name in resampled.tasks]
        assert list(got.tasks) == drawn
        for k, task in enumerate(drawn):
            column = mteb_slice.tasks.index(task)
            np.testing.assert_array_equal(got.scores[:, k], basis.scores[:, column])
            np.testing.assert_array_equal(resampled.scores[:, k], table.scores[:, column])
        seen.append(len(set(drawn)))
        return borda(resampled)

    found = two_level_bootstrap(spy, table, samples=20, seed=0)
    assert len(seen) == 21 and min(seen) < len(table.tasks)  # the point, then the repeats
    assert np.array_equal(found.point, borda(table).ranks)


@pytest.mark.parametrize(
    "samples, level", [(0, 0.95), (-3, 0.95), (10, 0.0), (10, 1.0), (10, 1.5), (10, -0.1)]
)
def test_bad_samples_or_level_is_one_line(mteb_slice, samples, level):
    with pytest.raises(ParameterError) as info:
        two_level_bootstrap(rule("mean"), mteb_slice, samples=samples, level=level)
    assert "\n" not in str(info.value) and "uncertainty" in str(info.value)


def test_read_query_values_matches_the_store_tasks(store):
    path, systems, ids = store
    stored = pq.read_table(path)
    table = read_results_store(stored, path)
    found = read_query_values(stored, path)
    assert set(found.values) == {t for t in table.tasks if "[" not in t}  # no variant
    assert "scifact-0[typos@0.3]" in table.tasks
    assert found.systems == tuple(sorted(systems))
    for task in found.values:
        part = int(task.split("-")[1])
        assert found.queries[task] == tuple(sorted(ids[60 * part : 60 * part + 60]))
        means = np.nanmean(found.values[task], axis=1)
        for i, system in enumerate(found.systems):
            cell = table.scores[table.systems.index(system), table.tasks.index(task)]
            assert means[i] == pytest.approx(cell)  # the newer copy won: no -1.0 left
    assert not (np.concatenate(list(found.values.values()), axis=1) < 0).any()


def test_level_two_resamples_queries_and_changes_the_result(store):
    path, _, _ = store
    stored = pq.read_table(path)
    table = read_results_store(stored, path)
    values = read_query_values(stored, path)
    both = two_level_bootstrap(rule("mean"), table, values, samples=300, seed=0)
    tasks_only = two_level_bootstrap(rule("mean"), table, None, samples=300, seed=0)
    assert both.levels == tuple(1 if "[" in t else 2 for t in table.tasks)
    assert tasks_only.levels == (1,) * len(table.tasks)
    assert not np.array_equal(both.beats, tasks_only.beats)
    # the query draw adds the within-task noise: the orders are less sure than over tasks
    sure = np.abs(both.beats - both.beats.T).sum()
    assert sure < np.abs(tasks_only.beats - tasks_only.beats.T).sum()
    i, j = table.systems.index("tfidf"), table.systems.index("tfidf-worse")
    assert both.beats[i, j] == 1.0  # worse on every query: worse on every draw


def test_a_system_without_query_values_keeps_its_task_score():
    table = ScoreTable(("a", "b"), ("t",), np.array([[0.5], [0.4]]))
    values = QueryValues(("a",), {"t": np.array([[0.2, 0.8]])}, {"t": ("q1", "q2")})
    seen = []

    def spy(resampled: ScoreTable):
        seen.append(resampled.scores[:, 0].copy())
        return rule("mean")(resampled)

    found = two_level_bootstrap(spy, table, values, samples=50, seed=0)
    draws = np.array(seen[1:])
    assert set(np.round(draws[:, 0], 6)) <= {0.2, 0.5, 0.8} and len(set(draws[:, 0])) > 1
    assert np.all(draws[:, 1] == 0.4) and found.levels == (2,)


def test_cli_aggregate_with_uncertainty_end_to_end(store, tmp_path, capsys):
    path, _, _ = store
    board, wins = tmp_path / "board.csv", tmp_path / "wins.parquet"
    code = main(
        [
            "aggregate",
            str(path),
            "--method",
            "mean,borda",
            "--uncertainty",
            "200",
            "--level",
            "0.9",
            "--output",
            str(board),
            "--win-probabilities",
            str(wins),
        ]
    )
    out = " ".join(capsys.readouterr().out.split())  # (rich wraps long titles)
    assert code == 0
    assert "bootstrap over tasks and queries] (tied group)" in out
    assert "mean: " in out and "adjacent pairs separable;" in out and "tied groups" in out
    import pyarrow.csv as pcsv

    written = pcsv.read_csv(board)
    for method in ("mean", "borda"):
        for column in ("rank", "rank_low", "rank_high", "group"):
            assert f"{method}:{column}" in written.column_names
    long = pq.read_table(wins)
    assert long.column_names == ["method", "system", "other", "p_beats"]
    assert long.num_rows == 2 * 3 * 2
    assert set(long["method"].to_pylist()) == {"mean", "borda"}

    assert main(["aggregate", str(path), "--win-probabilities", str(wins)]) == 2
    assert "--win-probabilities needs --uncertainty" in capsys.readouterr().err
    assert main(["aggregate", str(path), "--uncertainty", "5", "--level", "1"]) == 2
    capsys.readouterr()
    assert main(["aggregate", str(path), "--bootstrap", "20"]) == 0  # still as before
    assert "[95% bootstrap interval over tasks]" in " ".join(capsys.readouterr().out.split())


def test_build_leaderboard_uncertainty_columns(mteb_slice):
    board = build_leaderboard(mteb_slice, ["borda", "mean"], HOST, uncertainty=50)
    table = board.to_table()
    assert {"borda:group", "mean:rank_low", "mean:rank_high"} <= set(table.column_names)
    assert board.win_probabilities().num_rows == 2 * 40 * 39
    with pytest.raises(ParameterError):
        build_leaderboard(mteb_slice, ["mean"], HOST, bootstrap=10, uncertainty=10)


def _coverage(spacing: float, tables: int, seed: int) -> float:
    """``benchmarks/coverage_rank_intervals.py``'s simulation (its docstring says the
    model), 200 resamples per table at level 0.95."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage_rank_intervals.py"
    spec = importlib.util.spec_from_file_location("coverage_rank_intervals", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.coverage(spacing, tables, samples=200, seed=seed, level=0.95)


def test_rank_interval_coverage_simulation():
    """Coverage of the true rank depends on how far apart the systems are, and the nominal
    95% is reached where ranks are in doubt. Measured (seed 2026, 200 tables) by spacing of
    the true means, in units of the noise sd (one standard error of a difference of two
    30-task means is 0.26): 0.05 → 94.3%, 0.1 → 97.6%, 0.25 → 99.7%, 0.5 and 1 → 100%.
    Near-ties (0.05: the adjacent pairs of a leaderboard that cannot be told apart) sit
    in 95% ± 2%; apart, an interval shrinks onto the true rank (an integer), so it covers
    more than nominal (conservative), never less."""
    assert abs(_coverage(0.05, tables=200, seed=2026) - 0.95) <= 0.02
    assert _coverage(0.25, tables=60, seed=7) >= 0.95


def test_per_query_values_must_average_to_the_task_score():
    """Per-query rows that do not average to the leaderboard's task score (another run's
    rows, a metric not averaged over queries) are an error, not resamples centred
    elsewhere."""
    table = ScoreTable(("a", "b"), ("t1", "t2"), np.array([[0.5, 0.4], [0.3, 0.2]]))
    good = QueryValues(("a", "b"), {"t1": np.array([[0.4, 0.6], [0.2, 0.4]])}, {"t1": ("q1", "q2")})
    found = two_level_bootstrap(rule("mean"), table, good, samples=20)
    assert found.levels == (2, 1)
    bad = QueryValues(("a", "b"), {"t1": np.array([[0.4, 0.7], [0.2, 0.4]])}, {"t1": ("q1", "q2")})
    with pytest.raises(rankarena.DataFormatError, match=r"values of a on t1 average 0\.550000"):
        two_level_bootstrap(rule("mean"), table, bad, samples=20)
