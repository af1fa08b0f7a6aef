"""Paired tests, corrections and effect sizes (rankarena.significance) against scipy and
statsmodels, on real SciFact per-query nDCG@10 values; an A/A simulation checks the size of
the t-test and the randomisation test."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from statsmodels.stats import multitest

from rankarena.errors import ParameterError
from rankarena.significance import (
    CORRECTIONS,
    TESTS,
    adjust,
    cohens_dz,
    max_t_step_down,
    mean_difference,
    paired_bootstrap_test,
    paired_t_test,
    randomisation_test,
    run_test,
    sign_test,
    wilcoxon_test,
    wins_ties_losses,
)

TOL = 1e-9
STATSMODELS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}


def _mean(d, axis):
    return np.mean(d, axis=axis)


def _scipy_randomisation(d, n_resamples, rng=None):
    return st.permutation_test(
        (d,),
        _mean,
        permutation_type="samples",
        alternative="two-sided",
        n_resamples=n_resamples,
        rng=rng,
    )


@pytest.fixture(scope="module")
def systems(scifact_three_systems):
    """TF-IDF, rounded TF-IDF and perturbed TF-IDF per-query nDCG@10 on SciFact test."""
    return scifact_three_systems.values


def _subset(systems, other, queries):
    """``queries`` queries of TF-IDF and system ``other``: the first ones, except against
    the rounded system (which differs on few queries) half of them differ and half tie."""
    a, b = systems[0], systems[other]
    if other == 2:
        return a[:queries], b[:queries]
    differ, tie = np.flatnonzero(a != b), np.flatnonzero(a == b)
    pick = np.sort(np.concatenate([differ[: (queries + 1) // 2], tie[: queries // 2]]))
    return a[pick], b[pick]


# -- scipy references -------------------------------------------------------------------


@pytest.mark.parametrize("other", [1, 2])
def test_t_test_equals_ttest_rel(systems, other):
    a, b = systems[0], systems[other]
    got = paired_t_test(a, b)
    want = st.ttest_rel(a, b)
    assert got.statistic == pytest.approx(want.statistic, abs=TOL)
    assert got.p_value == pytest.approx(want.pvalue, abs=TOL)
    assert (got.test, got.n) == ("t-test", 300)


@pytest.mark.parametrize("other", [1, 2])
@pytest.mark.parametrize("queries", [10, 40, 300])
def test_wilcoxon_equals_scipy(systems, other, queries):
    a, b = _subset(systems, other, queries)
    got = wilcoxon_test(a, b)
    want = st.wilcoxon(a, b)
    assert got.statistic == pytest.approx(want.statistic, abs=TOL)
    assert got.p_value == pytest.approx(want.pvalue, abs=TOL)
    assert got.n == np.count_nonzero(a != b)


@pytest.mark.parametrize("other", [1, 2])
def test_sign_test_equals_binomtest(systems, other):
    a, b = systems[0], systems[other]
    wins, losses = int(np.sum(a > b)), int(np.sum(a < b))
    got = sign_test(a, b)
    assert got.statistic == wins
    assert got.n == wins + losses
    assert got.p_value == pytest.approx(st.binomtest(wins, wins + losses, 0.5).pvalue, abs=TOL)


@pytest.mark.parametrize("other", [1, 2])
@pytest.mark.parametrize("queries", [6, 10, 12])
def test_randomisation_exact_equals_permutation_test(systems, other, queries):
    a, b = _subset(systems, other, queries)
    assert np.any(a != b)
    got = randomisation_test(a, b, permutations=10_000)
    want = _scipy_randomisation(a - b, 10_000)
    assert got.statistic == pytest.approx(want.statistic, abs=TOL)
    assert got.p_value == pytest.approx(want.pvalue, abs=TOL)


def test_randomisation_monte_carlo_within_error_and_reproducible(systems):
    a, _, c = systems
    m = 10_000
    got = randomisation_test(a, c, permutations=m, seed=3)
    assert got == randomisation_test(a, c, permutations=m, seed=3)
    assert got != randomisation_test(a, c, permutations=m, seed=4)
    want = _scipy_randomisation(a - c, m, rng=np.random.default_rng(5))
    p = want.pvalue
    assert 0.01 < p < 0.99, "choose systems whose difference gives a p-value away from 0 and 1"
    standard_error = np.sqrt(2 * p * (1 - p) / m)
    assert abs(got.p_value - p) < 3 * standard_error
    assert got.statistic == pytest.approx(np.mean(a - c), abs=TOL)


def test_bootstrap_reproducible_with_interval(systems):
    a, _, c = systems
    got = paired_bootstrap_test(a, c, resamples=5_000, seed=1)
    assert got == paired_bootstrap_test(a, c, resamples=5_000, seed=1)
    low, high = got.interval
    assert low < got.statistic < high
    # the percentile interval is close to the t interval on 300 queries
    _, t_low, t_high = mean_difference(a, c)
    assert abs(low - t_low) < 0.01 and abs(high - t_high) < 0.01
    # and the p-value close to the t-test's (both large-sample tests of the mean)
    assert abs(got.p_value - paired_t_test(a, c).p_value) < 0.05


def test_identical_systems_give_p_one(systems):
    a = systems[0]
    for name in TESTS:
        result = run_test(name, a, a.copy())
        assert result.p_value == 1.0, name
        assert result.statistic == 0.0, name


def test_run_test_dispatches_with_options(systems):
    a, b, _ = systems
    assert run_test("randomisation", a, b, permutations=500, seed=2) == randomisation_test(
        a, b, permutations=500, seed=2
    )
    assert run_test("t-test", a, b) == paired_t_test(a, b)


# -- corrections --------------------------------------------------------------------------

p_lists = hs.lists(
    hs.one_of(hs.floats(0.0, 1.0), hs.sampled_from([0.0, 0.01, 0.05, 0.5, 1.0])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(p_lists)
def test_corrections_equal_multipletests(p_values):
    p = np.array(p_values)
    # multipletests' holm branch runs gc.collect() (~0.15 s a call here): a no-op meanwhile
    with mock.patch("gc.collect", lambda *args: 0):
        for name in CORRECTIONS:
            want = multitest.multipletests(p, method=STATSMODELS[name])[1]
            np.testing.assert_allclose(adjust(p, name), want, rtol=0, atol=TOL)


def test_max_t_step_down_by_hand():
    observed = np.array([3.0, 1.0, 2.0])
    null = np.array(
        [
            [1.0, 0.5, 2.5],
            [3.5, 0.2, 0.1],
            [0.3, 0.9, 0.4],
            [2.0, 2.0, 1.0],
        ]
    )
    # step order H0 (3.0), H2 (2.0), H1 (1.0); successive maxima per row:
    # step 1 over {0,1,2}: 2.5, 3.5, 0.9, 2.0 -> 1 row >= 3.0 -> 2/5
    # step 2 over {2,1}:   2.5, 0.2, 0.9, 2.0 -> 2 rows >= 2.0 -> 3/5
    # step 3 over {1}:     0.5, 0.2, 0.9, 2.0 -> 1 row >= 1.0 -> 2/5, raised to 3/5
    np.testing.assert_allclose(max_t_step_down(observed, null), [0.4, 0.6, 0.6], atol=TOL)


@settings(max_examples=100, deadline=None)
@given(hs.integers(0, 2**32 - 1), hs.integers(1, 6), hs.integers(1, 60))
def test_max_t_dominates_raw_and_is_monotone(seed, h, m):
    rng = np.random.default_rng(seed)
    null = np.abs(rng.standard_normal((m, h)) * rng.uniform(0.5, 2.0, h))
    observed = np.abs(rng.standard_normal(h)) * 2
    adjusted = max_t_step_down(observed, null)
    raw = (1 + np.sum(null >= observed, axis=0)) / (m + 1)
    assert np.all(adjusted >= raw - TOL)
    assert np.all(adjusted <= 1.0)
    in_step_order = adjusted[np.argsort(-observed, kind="stable")]
    assert np.all(np.diff(in_step_order) >= 0)


def test_max_t_on_real_sign_flips(systems):
    """Three hypotheses (TF-IDF vs each other system and the perturbed vs the rounded one),
    with the same sign flips across hypotheses; step-down max-T is no larger than
    Bonferroni on the raw permutation p-values."""
    a, b, c = systems
    diffs = np.stack([a - b, a - c, c - b])
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(2_000, diffs.shape[1]))
    null = np.abs(signs @ diffs.T) / diffs.shape[1]
    observed = np.abs(diffs.mean(axis=1))
    adjusted = max_t_step_down(observed, null)
    raw = (1 + np.sum(null >= observed, axis=0)) / (len(null) + 1)
    assert np.all(adjusted >= raw - TOL)
    assert np.all(adjusted <= np.minimum(3 * raw, 1.0) + TOL)


# -- effect sizes -------------------------------------------------------------------------


def test_mean_difference_equals_t_interval(systems):
    a, _, c = systems
    mean, low, high = mean_difference(a, c, confidence=0.9)
    want = st.ttest_rel(a, c).confidence_interval(confidence_level=0.9)
    assert mean == pytest.approx(np.mean(a - c), abs=TOL)
    assert (low, high) == pytest.approx((want.low, want.high), abs=TOL)


@pytest.mark.parametrize("queries", [10, 300])
def test_cohens_dz_interval_contains_dz(systems, queries):
    a, c = systems[0][:queries], systems[2][:queries]
    d = a - c
    dz, low, high = cohens_dz(a, c)
    assert dz == pytest.approx(np.mean(d) / np.std(d, ddof=1), abs=TOL)
    assert low < dz < high
    # the bounds are the noncentralities that put t at the 97.5% and 2.5% points
    t = dz * np.sqrt(queries)
    assert st.nct.cdf(t, queries - 1, low * np.sqrt(queries)) == pytest.approx(0.975, abs=1e-8)
    assert st.nct.cdf(t, queries - 1, high * np.sqrt(queries)) == pytest.approx(0.025, abs=1e-8)


def test_cohens_dz_large_n_matches_normal_approximation(systems):
    a, _, c = systems
    pick = np.random.default_rng(8).integers(0, len(a), 4_000)
    dz, low, high = cohens_dz(a[pick], c[pick])
    n = len(pick)
    half = 1.96 * np.sqrt(1 / n + dz**2 / (2 * n))
    assert low == pytest.approx(dz - half, abs=1e-4)
    assert high == pytest.approx(dz + half, abs=1e-4)


def test_wins_ties_losses(systems):
    a, b, _ = systems
    wins, ties, losses = wins_ties_losses(a, b)
    assert (wins, ties, losses) == (np.sum(a > b), np.sum(a == b), np.sum(a < b))
    loose = wins_ties_losses(a, b, tolerance=0.05)
    assert loose[1] >= ties and sum(loose) == len(a)


# -- A/A simulation: size of the tests ----------------------------------------------------


def test_a_a_simulation_rejects_at_five_percent(systems):
    """1,000 simulated A/A comparisons on 100 real queries: each query keeps its real pair
    of values (TF-IDF and the perturbed system) but which system gets which is a fair coin,
    so the null holds exactly; every test rejects at 5% +- 1.5% (the binomial standard
    error of 1,000 draws at 5% is 0.7%)."""
    a, _, c = systems
    rng = np.random.default_rng(2024)
    rejected = dict.fromkeys(TESTS, 0)
    simulations = 1_000
    for i in range(simulations):
        queries = rng.choice(len(a), 100, replace=False)
        swap = rng.random(100) < 0.5
        x = np.where(swap, c[queries], a[queries])
        y = np.where(swap, a[queries], c[queries])
        for name in TESTS:
            options = {"randomisation": {"permutations": 999, "seed": i}}.get(name, {})
            if name == "bootstrap":
                options = {"resamples": 999, "seed": i}
            rejected[name] += run_test(name, x, y, **options).p_value < 0.05
    rates = {name: count / simulations for name, count in rejected.items()}
    assert all(abs(rate - 0.05) <= 0.015 for rate in rates.values()), rates


# -- bad input -----------------------------------------------------------------------------


def _one_line_error(call, *words):
    with pytest.raises(ParameterError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("name", sorted(TESTS))
def test_bad_pairs_rejected(name):
    good = np.array([0.1, 0.5, 0.9])
    _one_line_error(lambda: run_test(name, good, np.array([0.1, np.nan, 0.2])), "NaN")
    _one_line_error(lambda: run_test(name, good, good[:2]), "same length")
    _one_line_error(lambda: run_test(name, good[:1], good[:1]), "at least 2")


def test_bad_names_and_parameters_rejected():
    good = np.array([0.1, 0.5, 0.9])
    _one_line_error(lambda: run_test("ttest", good, good), "t-test", "wilcoxon", "bootstrap")
    _one_line_error(lambda: run_test("sign", good, good, seed=1), "seed")
    _one_line_error(lambda: randomisation_test(good, good, permutations=0), "permutations")
    _one_line_error(lambda: adjust([0.1], "fdr"), "bonferroni", "holm", "bh")
    _one_line_error(lambda: adjust([0.1, np.nan], "holm"), "p_values[1]")
    _one_line_error(lambda: adjust([0.1, 1.5], "bh"), "[0, 1]")
    for confidence in (0.0, 1.0, 1.5):
        _one_line_error(lambda c=confidence: mean_difference(good, good[::-1], c), "(0, 1)")
        _one_line_error(lambda c=confidence: cohens_dz(good, good[::-1], c), "(0, 1)")
    _one_line_error(lambda: cohens_dz(good, good), "zero variance")
    _one_line_error(lambda: wins_ties_losses(good, good, tolerance=-1), "tolerance")
    _one_line_error(lambda: max_t_step_down(np.ones(2), np.ones((3, 3))), "shape")
