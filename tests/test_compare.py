"""``rankarena.compare`` / ``rankarena compare``: families of paired comparisons on real
SciFact per-query values, checked against scipy and statsmodels; max-T and the randomised
Tukey HSD against independent computations; the family-wise error rate of Holm, max-T and
Tukey in a simulation with ten equal systems."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import scipy.stats as st
from statsmodels.stats import multitest

import rankarena
from rankarena import Results
from rankarena.cli.main import main
from rankarena.errors import ParameterError, RankarenaError
from rankarena.significance import (
    QueryMatrix,
    adjust,
    compare_family,
    max_t_adjusted,
    randomisation_test,
    randomised_tukey_hsd,
)
from rankarena.significance.compare import CompareSettings
from rankarena.significance.joint_permutations import permuted_means, sign_flip_means

TOL = 1e-9
NAMES = ("tfidf", "rounded", "perturbed")


@pytest.fixture(scope="module")
def store(scifact_three_systems, tmp_path_factory):
    """A results store with the three systems' per-query nDCG@10 rows (and their means),
    plus an older run of `tfidf` whose rows must not be used."""
    three = scifact_three_systems
    rows = []
    for name, values in zip(NAMES, three.values, strict=True):
        for qid, value in zip(three.query_ids, values, strict=True):
            rows.append(_row(name, qid, float(value), f"run-{name}", "2026-12-01"))
        rows.append(_row(name, None, float(np.mean(values)), f"run-{name}", "2026-12-01"))
    for qid in three.query_ids:  # an older run of tfidf: not the newest, so ignored
        rows.append(_row("tfidf", qid, 0.0, "old-run", "2026-11-01"))
    path = tmp_path_factory.mktemp("compare") / "results.parquet"
    Results.from_rows(rows).to_parquet(path)
    return path


def _row(system, query_id, value, run_id, day):
    import datetime as dt

    return {
        "system": system,
        "dataset": "scifact",
        "split": "test",
        "variant": "",
        "metric": "ndcg@10",
        "value": value,
        "query_id": query_id,
        "run_id": run_id,
        "created_at": dt.datetime.fromisoformat(day + "T00:00:00+00:00"),
    }


def _by_pair(comparison):
    return {(r["system"], r["versus"]): r for r in comparison.table.rows}


def test_store_families_equal_scipy_and_statsmodels(store, scifact_three_systems):
    values = dict(zip(NAMES, scifact_three_systems.values, strict=True))
    scipy_tests = {
        "t-test": lambda a, b: st.ttest_rel(a, b).pvalue,
        "wilcoxon": lambda a, b: st.wilcoxon(a, b).pvalue,
        "sign": lambda a, b: st.binomtest(int(np.sum(a > b)), int(np.sum(a != b)), 0.5).pvalue,
    }
    methods = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}
    for test, reference in scipy_tests.items():
        for correction, sm_name in methods.items():
            result = rankarena.compare(store, test=test, correction=correction)
            rows = result.table.rows
            assert len(rows) == 3 and {r["queries"] for r in rows} == {300}
            raw = np.array([reference(values[r["system"]], values[r["versus"]]) for r in rows])
            np.testing.assert_allclose([r["p_value"] for r in rows], raw, rtol=0, atol=TOL)
            with mock.patch("gc.collect", lambda *args: 0):
                want = multitest.multipletests(raw, method=sm_name)[1]
            np.testing.assert_allclose([r["p_adjusted"] for r in rows], want, rtol=0, atol=TOL)
    # all pairs, better system first; effect sizes of system minus versus
    rows = _by_pair(rankarena.compare(store))
    a, c = values["tfidf"], values["perturbed"]
    first = ("perturbed", "tfidf") if c.mean() > a.mean() else ("tfidf", "perturbed")
    row = rows[first]
    d = values[first[0]] - values[first[1]]
    assert row["difference"] == pytest.approx(d.mean(), abs=TOL) and row["difference"] > 0
    ci = st.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=st.sem(d))
    assert (row["difference_low"], row["difference_high"]) == pytest.approx(ci, abs=TOL)
    assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1), abs=TOL)
    assert row["d_z_low"] < row["d_z"] < row["d_z_high"]
    assert (row["wins"], row["ties"], row["losses"]) == (
        int(np.sum(d > 0)),
        int(np.sum(d == 0)),
        int(np.sum(d < 0)),
    )


def test_randomisation_family_equals_the_pairwise_test(store, scifact_three_systems):
    values = dict(zip(NAMES, scifact_three_systems.values, strict=True))
    result = rankarena.compare(
        store, test="randomisation", correction="none", permutations=2_000, seed=4
    )
    for row in result.table.rows:
        want = randomisation_test(
            values[row["system"]], values[row["versus"]], permutations=2_000, seed=4
        )
        assert row["p_value"] == want.p_value and row["p_adjusted"] == want.p_value
        assert row["statistic"] == pytest.approx(want.statistic, abs=TOL)


def test_baseline_family(store):
    result = rankarena.compare(store, baseline="tfidf", test="randomisation", correction="max-t")
    rows = result.table.rows
    assert [r["versus"] for r in rows] == ["tfidf", "tfidf"]
    assert {r["system"] for r in rows} == {"rounded", "perturbed"}
    assert all(r["p_adjusted"] >= r["p_value"] for r in rows)
    with pytest.raises(ParameterError, match=r"baseline 'tfidff'.*did you mean 'tfidf'"):
        rankarena.compare(store, baseline="tfidff")


def test_max_t_of_one_pair_is_the_randomisation_test(scifact_three_systems):
    """The joint sign flips draw exactly the randomisation test's flips: with one pair the
    max-T p-value is the Monte Carlo randomisation p-value."""
    a, _, c = scifact_three_systems.values
    p = max_t_adjusted((a - c)[:, None], permutations=3_000, seed=9)
    assert p[0] == randomisation_test(a, c, permutations=3_000, seed=9).p_value
    flips = sign_flip_means(np.stack([a - c, c - a], axis=1), 500, seed=1)
    np.testing.assert_allclose(flips[:, 0], -flips[:, 1], rtol=0, atol=1e-15)


def test_max_t_by_brute_force_loop():
    """max-T against a loop written from Westfall & Young's algorithm 2.8 on the same
    sign flips, studentised statistics."""
    rng = np.random.default_rng(3)
    d = rng.normal([0.0, 0.1, 0.3, 0.05], [0.2, 0.3, 0.2, 0.1], size=(30, 4))
    got = max_t_adjusted(d, permutations=400, seed=2)
    flips = sign_flip_means(d, 400, seed=2)

    def t(means):
        s = np.sqrt((np.sum(d**2, axis=0) - 30 * means**2) / 29)
        return np.abs(means) / (s / np.sqrt(30))

    observed = t(d.mean(axis=0))
    null = np.array([t(row) for row in flips])
    order = np.argsort(-observed)
    want = np.empty(4)
    previous = 0.0
    for step, k in enumerate(order):
        rest = order[step:]
        count = sum(1 for row in null if row[rest].max() >= observed[k] * (1 - 1e-13))
        previous = max(previous, (count + 1) / 401)
        want[k] = previous
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_randomised_tukey_hsd_against_exact_enumeration():
    """With 3 systems and 5 queries all (3!)^5 = 7,776 label permutations can be listed:
    the Monte Carlo Tukey HSD p-values are within 4 standard errors of the exact ones."""
    rng = np.random.default_rng(8)
    values = rng.random((3, 5)) + np.array([[0.0], [0.2], [0.5]])
    means = values.mean(axis=1)
    perms = list(itertools.permutations(range(3)))
    ranges = []
    for choice in itertools.product(range(6), repeat=5):
        table = np.stack([values[list(perms[c]), q] for q, c in enumerate(choice)], axis=1)
        m = table.mean(axis=1)
        ranges.append(m.max() - m.min())
    ranges = np.array(ranges)
    permutations = 40_000
    got = randomised_tukey_hsd(values, permutations=permutations, seed=1)
    for k, (i, j) in enumerate(zip(*np.triu_indices(3, k=1), strict=True)):
        exact = np.mean(ranges >= abs(means[i] - means[j]) * (1 - 1e-13))
        se = np.sqrt(exact * (1 - exact) / permutations) + 1 / permutations
        assert abs(got[k] - exact) <= 4 * se, (i, j, got[k], exact)
    # the permuted means keep each query's values: every row sums as the observed one
    null = permuted_means(values, 100, seed=0)
    np.testing.assert_allclose(null.sum(axis=1), np.full(100, means.sum()), atol=1e-12)


def test_runs_and_qrels(scifact, scifact_three_systems, tmp_path):
    tfidf, rounded = scifact_three_systems.runs
    tfidf.to_parquet(tmp_path / "tfidf.parquet")
    result = rankarena.compare(
        runs={"tfidf": tmp_path / "tfidf.parquet", "rounded": rounded},
        qrels=scifact.qrels("test"),
        metrics=["ndcg@10", "recall@100"],
        test="wilcoxon",
    )
    families = result.table.families()
    assert set(families) == {("qrels", "", "ndcg@10"), ("qrels", "", "recall@100")}
    a, b, _ = scifact_three_systems.values
    (row,) = families[("qrels", "", "ndcg@10")]
    pair = (a, b) if row["system"] == "tfidf" else (b, a)
    assert row["p_value"] == pytest.approx(st.wilcoxon(*pair).pvalue, abs=TOL)
    assert row["queries"] == 300


def test_cli_store_writes_every_format(store, tmp_path, capsys):
    outputs = {}
    for suffix in (".csv", ".parquet", ".md", ".tex"):
        path = tmp_path / f"cmp{suffix}"
        assert main(["compare", str(store), "--test", "sign", "--output", str(path)]) == 0
        outputs[suffix] = path
    printed = capsys.readouterr().out
    assert "scifact/test, ndcg@10, 300 queries: sign, holm correction" in printed
    table = pq.read_table(outputs[".parquet"])
    assert table.num_rows == 3 and table.column_names == list(
        rankarena.significance.comparison_table.COLUMNS
    )
    assert pacsv.read_csv(outputs[".csv"]).num_rows == 3
    markdown = outputs[".md"].read_text()
    assert markdown.count("\n| ") == 5 and "| W/T/L |" in markdown
    latex = outputs[".tex"].read_text()
    assert "\\begin{tabular}" in latex and "d\\_z" in latex


def test_cli_stability_names_the_fewest_queries(store, scifact_three_systems, capsys):
    from rankarena.leaderboard.stability import fewest_queries_changing

    assert main(["compare", str(store), "--stability"]) == 0
    out = capsys.readouterr().out
    three = scifact_three_systems
    audit = fewest_queries_changing(np.stack(three.values), NAMES, three.query_ids)
    assert audit.size is not None and audit.size < 300
    assert f"stability, scifact/test ndcg@10: removing {audit.size} of 300 queries" in out


def test_cli_run_files(scifact_dir, scifact_three_systems, tmp_path, capsys):
    tfidf, rounded = scifact_three_systems.runs
    tfidf.to_parquet(tmp_path / "tfidf.parquet")
    rounded.to_parquet(tmp_path / "r.parquet")
    qrels = scifact_dir / "qrels" / "test.tsv"
    args = ["compare", "--qrels", str(qrels), str(tmp_path / "tfidf.parquet")]
    code = main(
        [
            *args,
            f"rounded={tmp_path / 'r.parquet'}",
            "--test",
            "randomisation",
            "--correction",
            "tukey",
            "--permutations",
            "500",
        ]
    )
    assert code == 0
    assert "test, ndcg@10, 300 queries: randomisation, tukey" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--test", "randomisation", "--correction", "max-t", "--metrics", "map"], "metric"),
        (["--correction", "max-t"], "use test 'randomisation'"),
        (["--dataset", "nfcorpus"], "known: scifact"),
        (["--systems", "tfidf,bm25"], "bm25"),
        (["--output", "x.json"], ".csv, .parquet, .md or .tex"),
        (["--baseline", "nobody"], "baseline 'nobody'"),
    ],
)
def test_cli_bad_input_is_one_line(store, capsys, argv, words):
    assert main(["compare", str(store), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error:") and err.count("\n") == 1 and words in err


def test_bad_parameters():
    values = np.random.default_rng(0).random((2, 5))
    matrix = QueryMatrix("d", "", "m", ("a", "b"), tuple("vwxyz"), values)
    for kwargs, words in [
        ({"test": "ttest"}, "did you mean 't-test'"),
        ({"correction": "hochberg"}, "valid: none, bonferroni, holm, bh, max-t, tukey"),
        ({"alpha": 1.5}, "alpha must lie in (0, 1)"),
        ({"permutations": 0}, "permutations must be a positive integer"),
    ]:
        with pytest.raises(ParameterError) as info:
            compare_family(matrix, CompareSettings(**kwargs))
        assert words in str(info.value)
    with pytest.raises(ParameterError, match="NaN"):
        QueryMatrix("d", "", "m", ("a", "b"), ("q1", "q2"), [[0.1, np.nan], [0.2, 0.3]])
    with pytest.raises(RankarenaError, match="either a results store"):
        rankarena.compare()


# -- family-wise error: ten equal systems ---------------------------------------------------


def test_family_wise_error_of_holm_max_t_and_tukey(scifact_three_systems):
    """300 simulated experiments with 10 equally effective systems on 60 real queries: each
    system's value on a query is the query's real TF-IDF value plus a difference drawn from
    the real TF-IDF minus perturbed differences with a random sign, so the 10 systems are
    exchangeable and every one of the 45 null hypotheses holds. The share of experiments
    with any pair significant at α = 0.05 (Holm over paired t-tests, max-T and Tukey's HSD
    from 300 permutations) stays within 5% plus 2.5 standard errors."""
    a, _, c = scifact_three_systems.values
    pool = a - c
    rng = np.random.default_rng(11)
    experiments, systems, queries = 300, 10, 60
    first, second = np.triu_indices(systems, k=1)
    errors = {"holm": 0, "max-t": 0, "tukey": 0}
    for e in range(experiments):
        picked = rng.choice(len(a), queries, replace=False)
        signs = rng.choice([-1.0, 1.0], (systems, queries))
        values = a[picked] + rng.choice(pool, size=(systems, queries)) * signs
        p_t = st.ttest_rel(values[first], values[second], axis=1).pvalue
        differences = (values[first] - values[second]).T
        adjusted = {
            "holm": adjust(p_t, "holm"),
            "max-t": max_t_adjusted(differences, permutations=300, seed=e),
            "tukey": randomised_tukey_hsd(values, permutations=300, seed=e),
        }
        for correction, p in adjusted.items():
            errors[correction] += bool(np.any(p < 0.05))
    bound = 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / experiments)
    for correction, count in errors.items():
        assert count / experiments <= bound, (correction, count)
    assert min(errors.values()) > 0, "a procedure that never rejects tests nothing here"
