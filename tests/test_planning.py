"""Topic set size design (rankarena.significance.planning): the t-test and ANOVA designs
against statsmodels' power solvers, the interval design against a Monte Carlo of the
half-width, V_E against statsmodels' two-way ANOVA, the results-store reader on real
SciFact per-query nDCG@10, and ``rankarena plan`` end to end."""

from __future__ import annotations

import datetime as dt
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.power import FTestAnovaPower, TTestPower, ftest_anova_power

import rankarena
from rankarena.cli.main import main
from rankarena.data import Results
from rankarena.errors import ParameterError, RankarenaError
from rankarena.significance import (
    anova_power,
    difference_variance,
    expected_half_width,
    residual_variance,
    t_test_power,
    topic_matrix,
    topic_set_size,
    topic_set_size_anova,
    topic_set_size_ci,
)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


# ------------------------------------------------------------------------ t-test design


@pytest.mark.parametrize("difference", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("variance", [0.01, 0.04])
@pytest.mark.parametrize("alpha", [0.01, 0.05])
@pytest.mark.parametrize("power", [0.5, 0.8, 0.9])
def test_t_test_size_is_statsmodels_solution_rounded_up(difference, variance, alpha, power):
    result = topic_set_size(difference, variance, alpha, power)
    solved = TTestPower().solve_power(
        effect_size=difference / math.sqrt(variance),
        alpha=alpha,
        power=power,
        alternative="two-sided",
    )
    assert result.n == max(2, math.ceil(solved))
    assert result.achieved == pytest.approx(
        TTestPower().power(
            effect_size=difference / math.sqrt(variance),
            nobs=result.n,
            alpha=alpha,
            alternative="two-sided",
        ),
        abs=1e-9,
    )
    assert (result.design, result.target, result.difference, result.variance) == (
        "t-test",
        power,
        difference,
        variance,
    )


def test_t_test_power_counts_both_tails_and_rises_with_n():
    powers = [t_test_power(n, 0.05, 0.04, 0.05) for n in range(2, 300)]
    assert np.all(np.diff(powers) > 0)
    # both tails: at a tiny difference the power is close to alpha, not alpha / 2
    assert t_test_power(20, 1e-9, 0.04, 0.05) == pytest.approx(0.05, abs=1e-6)


@pytest.mark.parametrize("difference,variance,power", [(0.02, 0.03, 0.8), (0.1, 0.05, 0.9)])
def test_t_test_size_is_the_smallest_that_reaches_the_power(difference, variance, power):
    result = topic_set_size(difference, variance, 0.05, power)
    assert t_test_power(result.n, difference, variance) >= power
    assert t_test_power(result.n - 1, difference, variance) < power


def test_a_large_difference_needs_few_queries_and_no_nan():
    """With df = 1 the critical value is 12.7, so even ncp = 14 misses n = 2; at n = 3 the
    far tail is where scipy's ``nct.cdf`` returns NaN (the mirrored ``sf`` is used)."""
    assert t_test_power(2, 1.0, 0.01) < 0.8
    assert math.isfinite(t_test_power(3, 1.0, 0.01)) and t_test_power(3, 1.0, 0.01) > 0.99
    assert topic_set_size(1.0, 0.01).n == 3
    assert topic_set_size(3.0, 0.01).n == 2
    for n in range(2, 60):
        assert math.isfinite(t_test_power(n, 0.5, 0.01))


# ------------------------------------------------------------------------- ANOVA design


def _cohens_f(min_range: float, variance: float, systems: int) -> float:
    """statsmodels' effect size for one-way ANOVA is Cohen's f with ncp = f^2 N, N = m n the
    total number of observations; Sakai's lambda = n minD^2 / (2 sigma^2), so
    f^2 = minD^2 / (2 m sigma^2) (the sd of the m system means, two at +- minD / 2 and the
    rest at the grand mean, over sigma)."""
    return min_range / math.sqrt(2 * systems * variance)


@pytest.mark.parametrize("min_range", [0.05, 0.1])
@pytest.mark.parametrize("variance", [0.01, 0.03])
@pytest.mark.parametrize("systems", [2, 5, 10])
@pytest.mark.parametrize("power", [0.8, 0.9])
def test_anova_size_is_statsmodels_solution_rounded_up(min_range, variance, systems, power):
    result = topic_set_size_anova(min_range, variance, systems, 0.05, power)
    f = _cohens_f(min_range, variance, systems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' solver warns near n = 2
        total = FTestAnovaPower().solve_power(
            effect_size=f, alpha=0.05, power=power, k_groups=systems
        )
    assert not math.isnan(total)
    assert result.n == max(2, math.ceil(total / systems))
    direct = ftest_anova_power(f, systems * result.n, 0.05, k_groups=systems)
    assert result.achieved == pytest.approx(direct, abs=1e-9)
    assert result.systems == systems


def test_anova_size_is_the_smallest_and_grows_with_the_systems():
    sizes = []
    for systems in (2, 3, 5, 10, 20):
        result = topic_set_size_anova(0.05, 0.015, systems)
        assert anova_power(result.n, 0.05, 0.015, systems) >= 0.8
        assert anova_power(result.n - 1, 0.05, 0.015, systems) < 0.8
        sizes.append(result.n)
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_anova_noncentrality_matches_the_least_favourable_configuration():
    """lambda = n sum_i (mu_i - mu)^2 / sigma^2 with two means at +- minD / 2 (the others
    on the grand mean) is n minD^2 / (2 sigma^2); scipy's ncf with that lambda."""
    n, m, min_range, variance = 40, 4, 0.08, 0.02
    means = np.array([min_range / 2, -min_range / 2, 0.0, 0.0])
    lam = n * np.sum((means - means.mean()) ** 2) / variance
    crit = st.f.isf(0.05, m - 1, m * (n - 1))
    assert anova_power(n, min_range, variance, m) == pytest.approx(
        st.ncf.sf(crit, m - 1, m * (n - 1), lam), abs=1e-12
    )


# ------------------------------------------------------------------ confidence intervals


def test_expected_half_width_uses_the_exact_mean_of_s():
    # c(2) = sqrt(2 / pi); t_{0.975, 1} = 12.706...
    assert expected_half_width(2, 1.0) == pytest.approx(
        st.t.isf(0.025, 1) * math.sqrt(2 / math.pi) / math.sqrt(2), rel=1e-12
    )
    widths = [expected_half_width(n, 0.03) for n in range(2, 500)]
    assert np.all(np.diff(widths) < 0)


@pytest.mark.parametrize("width,variance", [(0.02, 0.03), (0.05, 0.05), (0.1, 0.01)])
def test_ci_size_is_the_smallest_with_the_half_width(width, variance):
    result = topic_set_size_ci(width, variance)
    assert expected_half_width(result.n, variance) <= width
    assert result.n == 2 or expected_half_width(result.n - 1, variance) > width
    assert result.achieved == pytest.approx(expected_half_width(result.n, variance))


def test_ci_half_width_agrees_with_a_monte_carlo():
    variance = 0.03
    result = topic_set_size_ci(0.02, variance)
    rng = np.random.default_rng(7)
    d = rng.normal(0.01, math.sqrt(variance), size=(4_000, result.n))
    half = st.t.isf(0.025, result.n - 1) * d.std(axis=1, ddof=1) / math.sqrt(result.n)
    assert half.mean() == pytest.approx(result.achieved, rel=0.01)
    small = topic_set_size_ci(0.3, variance)  # n small: c(n) matters
    d = rng.normal(0.0, math.sqrt(variance), size=(40_000, small.n))
    half = st.t.isf(0.025, small.n - 1) * d.std(axis=1, ddof=1) / math.sqrt(small.n)
    assert small.n < 10
    assert half.mean() == pytest.approx(small.achieved, rel=0.02)


# ------------------------------------------------------------------------ the variances


def test_residual_variance_equals_statsmodels_two_way_anova():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 1, size=(4, 9)) + np.arange(4)[:, None] * 0.1
    frame = pd.DataFrame(
        [(f"s{i}", f"q{j}", values[i, j]) for i in range(4) for j in range(9)],
        columns=["system", "query", "value"],
    )
    table = anova_lm(ols("value ~ C(system) + C(query)", data=frame).fit())
    assert residual_variance(values) == pytest.approx(table.loc["Residual", "mean_sq"], rel=1e-12)
    assert difference_variance(values) == pytest.approx(2 * residual_variance(values))


def test_difference_variance_is_the_mean_variance_of_pairwise_differences():
    """2 V_E equals the mean over the m (m - 1) / 2 pairs of systems of var(x_i - x_k)
    (ddof 1): each pair's differences are its two query-centred rows' differences, and
    the pairs' sums of squares add up to m times the residual sum of squares."""
    values = np.random.default_rng(5).uniform(0, 1, size=(5, 30))
    pairs = [np.var(values[i] - values[k], ddof=1) for i in range(5) for k in range(i + 1, 5)]
    assert difference_variance(values) == pytest.approx(np.mean(pairs), rel=1e-12)


def test_two_systems_difference_variance_is_the_variance_of_differences(systems):
    a, b, _, _ = systems
    assert difference_variance(np.vstack([a, b])) == pytest.approx(np.var(a - b, ddof=1))


@pytest.mark.parametrize(
    "values,message",
    [
        (np.zeros((1, 5)), "at least 2 of each"),
        (np.zeros((3, 1)), "at least 2 of each"),
        (np.zeros(5), "at least 2 of each"),
        (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN or infinite value at [0, 1]"),
    ],
)
def test_bad_matrices_are_parameter_errors(values, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        residual_variance(values)


# --------------------------------------------------------------------- the store reader


@pytest.fixture(scope="module")
def systems(scifact, scifact_tfidf_run):
    """Real per-query nDCG@10 on the 300 SciFact test queries: TF-IDF, TF-IDF cut to its
    top 3 documents per query, and a seeded perturbation of TF-IDF."""
    qrels = scifact.qrels("test")
    first = rankarena.evaluate(scifact_tfidf_run, qrels, ["ndcg@10"])
    short = rankarena.evaluate(scifact_tfidf_run.top(3), qrels, ["ndcg@10"])
    assert list(first.query_ids) == list(short.query_ids)
    a = np.asarray(first.per_query["ndcg@10"], dtype=np.float64)
    b = np.asarray(short.per_query["ndcg@10"], dtype=np.float64)
    assert np.count_nonzero(a != b) > 30
    c = np.clip(a + np.random.default_rng(17).normal(0.02, 0.15, len(a)), 0.0, 1.0)
    return a, b, c, list(first.query_ids)


def _row(system, query, value, *, dataset="scifact", metric="ndcg@10", when=T0, **extra):
    return {
        "system": system,
        "dataset": dataset,
        "split": "test",
        "metric": metric,
        "value": float(value),
        "query_id": query,
        "run_id": f"{system}-{when.isoformat()}",
        "created_at": when,
        **extra,
    }


@pytest.fixture(scope="module")
def store(systems, tmp_path_factory):
    """A results store of the three systems' per-query nDCG@10, with what the reader must
    skip: means, a perturbed variant, another metric, an older run of ``tfidf`` (other
    values), and ``noisy`` lacking the first 5 queries."""
    a, b, c, ids = systems
    rows = []
    for name, values in (("tfidf", a), ("top3", b), ("noisy", c)):
        rows += [
            _row(name, q, v, when=T0 + dt.timedelta(days=1))
            for q, v in zip(ids, values, strict=True)
        ]
        rows.append(_row(name, None, values.mean()))
    rows = [r for r in rows if not (r["system"] == "noisy" and r["query_id"] in ids[:5])]
    rows += [_row("tfidf", q, 0.0) for q in ids]  # older: loses to the newer rows
    rows += [_row("tfidf", q, 1.0, variant="typos") for q in ids[:20]]
    rows += [_row("tfidf", q, 0.5, metric="recall@100") for q in ids[:20]]
    path = tmp_path_factory.mktemp("planning") / "results.parquet"
    Results.from_rows(rows).append_to(path)
    return path


def test_topic_matrix_reads_the_newest_unperturbed_shared_queries(systems, store):
    a, b, c, ids = systems
    matrix = topic_matrix(store, "ndcg@10", "scifact", "test")
    assert matrix.systems == ("noisy", "tfidf", "top3")
    assert list(matrix.query_ids) == sorted(ids[5:])
    assert matrix.dropped == 5
    order = [ids.index(q) for q in matrix.query_ids]
    np.testing.assert_array_equal(matrix.values, np.vstack([c[order], a[order], b[order]]))
    assert topic_matrix(Results.from_parquet(store), "ndcg@10", "scifact").dropped == 5
    expected = residual_variance(np.vstack([c, a, b])[:, 5:])
    assert residual_variance(matrix.values) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "metric,dataset,split,message",
    [
        (
            "ndcg@10",
            "nfcorpus",
            None,
            "unknown dataset with per-query rows 'nfcorpus'; known: scifact",
        ),
        ("map@100", "scifact", None, "known: ndcg@10, recall@100"),
        ("ndcg@10", "scifact", "dev", "split 'dev'; stored: 'test'"),
    ],
)
def test_topic_matrix_says_what_is_stored(store, metric, dataset, split, message):
    with pytest.raises(RankarenaError, match=re.escape(message)):
        topic_matrix(store, metric, dataset, split)


def test_topic_matrix_asks_for_a_split_when_there_are_several():
    rows = [_row("a", "q1", 0.1), _row("a", "q2", 0.2), {**_row("a", "q1", 0.3), "split": "dev"}]
    with pytest.raises(ParameterError, match="several splits; choose one of dev, test"):
        topic_matrix(Results.from_rows(rows), "ndcg@10", "scifact")


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: topic_set_size(0.0, 0.03), "min_difference must be a finite number > 0"),
        (lambda: topic_set_size(0.02, -1.0), "variance must be a finite number > 0"),
        (lambda: topic_set_size(0.02, math.inf), "variance must be a finite number > 0"),
        (lambda: topic_set_size(0.02, 0.03, alpha=1.5), "alpha must lie in (0, 1)"),
        (lambda: topic_set_size(0.02, 0.03, power=1.0), "power must lie in (0, 1)"),
        (lambda: topic_set_size("0.02", 0.03), "min_difference must be a number > 0"),
        (lambda: topic_set_size_anova(0.05, 0.01, 1), "systems must be an integer >= 2"),
        (lambda: topic_set_size_anova(0.05, 0.01, 2.5), "systems must be an integer >= 2"),
        (lambda: topic_set_size_ci(0.0, 0.01), "max_half_width must be a finite number > 0"),
        (lambda: topic_set_size(1e-12, 1.0), "needs more than"),
    ],
)
def test_bad_parameters_are_one_line_parameter_errors(call, message):
    with pytest.raises(ParameterError, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)


# -------------------------------------------------------------------------------- CLI


def _numbers(out: str, label: str) -> list[str]:
    """The cells of the table row that starts with ``label``."""
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} in:\n{out}")


def test_plan_from_a_store(store, capsys):
    code = main(
        [
            "plan",
            str(store),
            "--dataset",
            "scifact",
            "--split",
            "test",
            "--difference",
            "0.02",
            "0.05",
            "--systems",
            "3",
            "--half-width",
            "0.02",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    matrix = topic_matrix(store, "ndcg@10", "scifact", "test")
    variance = difference_variance(matrix.values)
    assert "3 systems x 295 queries (5 dropped: some system lacked them)" in out
    assert f"2 V_E = {variance:.6f}" in out
    for difference in (0.02, 0.05):
        t = topic_set_size(difference, variance)
        f = topic_set_size_anova(difference, variance / 2, 3)
        assert _numbers(out, f"{difference:g}")[1:] == [
            str(t.n),
            f"{t.achieved:.4f}",
            str(f.n),
            f"{f.achieved:.4f}",
        ]
    assert _numbers(out, "0.02")  # the interval table too
    assert str(topic_set_size_ci(0.02, variance).n) in out


def test_plan_from_a_variance(capsys):
    assert main(["plan", "--variance", "0.03", "--difference", "0.05", "--power", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "variance of per-query differences = 0.030000 (given)" in out
    assert _numbers(out, "0.05")[1] == str(topic_set_size(0.05, 0.03, power=0.9).n)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["plan", "--difference", "0.02"], "plan needs a results STORE or --variance V"),
        (["plan", "--variance", "0.03"], "plan needs --difference"),
        (["plan", "--variance", "0", "--difference", "0.02"], "variance must be a finite"),
        (["plan", "--variance", "0.03", "--difference", "-1"], "min_difference must be"),
        (["plan", "--variance", "0.03", "--difference", "0.1", "--alpha", "2"], "alpha must"),
        (["plan", "--variance", "0.03", "--difference", "0.1", "--systems", "1"], "systems must"),
        (["plan", "--variance", "0.03", "--dataset", "x", "--difference", "0.1"], "apply to a"),
    ],
)
def test_plan_bad_input_is_one_error_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error: ") and message in err
    assert err.count("\n") == 1


def test_plan_store_errors_are_one_line(store, capsys):
    assert main(["plan", str(store), "--variance", "0.1", "--difference", "0.1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["plan", str(store), "--difference", "0.1"]) == 2
    assert "needs --dataset" in capsys.readouterr().err
    assert (
        main(["plan", str(store), "--dataset", "scifact", "--metric", "mrr", "--difference", "0.1"])
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown metric with per-query rows 'mrr'" in err and err.count("\n") == 1
