"""Paired significance tests for two systems' per-query values on the same queries.

``a`` and ``b`` are one value per query (nDCG@10, say), paired by position; every test
looks at the differences ``d = a - b`` and tests the null hypothesis that the two systems
are equally effective. All p-values are two-sided. References: Smucker, Allan & Carterette,
"A comparison of statistical significance tests for information retrieval evaluation"
(CIKM 2007); Sakai, "Statistical reform in information retrieval?" (SIGIR Forum 2014).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import ParameterError, did_you_mean

_CHUNK = 1_000  # rows of random signs / resampled indices drawn at once (bounds memory)
_RELATIVE_TOLERANCE = 100 * np.finfo(np.float64).eps  # as scipy.stats.permutation_test


@dataclass(frozen=True)
class TestResult:
    """One paired test's outcome: ``n`` is the number of queries the test used (for the
    Wilcoxon and sign tests, the queries whose difference is not zero); ``interval`` is a
    confidence interval of the mean difference where the test gives one."""

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    p_value: float
    n: int
    interval: tuple[float, float] | None = None


def paired_values(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``a`` and ``b`` as 1-D float64 arrays after checking they pair up: the same
    length, at least two queries, no NaN or infinite value. Raise ``ParameterError``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise ParameterError(f"a and b must be 1-D arrays; got shapes {a.shape} and {b.shape}")
    if len(a) != len(b):
        raise ParameterError(f"a and b must have the same length; got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise ParameterError(f"a paired test needs at least 2 queries; got {len(a)}")
    for name, values in (("a", a), ("b", b)):
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise ParameterError(f"{name} holds a NaN or infinite value at position {bad}")
    return a, b


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def paired_t_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Student's paired t-test: ``t = mean(d) / (sd(d) / sqrt(n))`` with ``sd`` of ddof 1,
    p from the t distribution with ``n - 1`` degrees of freedom (Student 1908), as
    ``scipy.stats.ttest_rel(a, b)``.

    When every difference is zero scipy returns NaN (0 / 0); this returns statistic 0.0 and
    p-value 1.0 instead: identical systems give no evidence of a difference.
    """
    a, b = paired_values(a, b)
    if np.all(a == b):
        return TestResult("t-test", 0.0, 1.0, len(a))
    result = stats.ttest_rel(a, b)
    return TestResult("t-test", float(result.statistic), float(result.pvalue), len(a))


def wilcoxon_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Wilcoxon signed-rank test (Wilcoxon 1945), as ``scipy.stats.wilcoxon(a, b)`` with its
    defaults: zero differences are dropped (``zero_method="wilcox"``), the absolute
    differences are ranked (ties get mid-ranks), the statistic is the smaller of the rank
    sums ``W+`` and ``W-``, and scipy picks the exact distribution or the normal
    approximation itself. ``n`` counts the non-zero differences.

    When every difference is zero this returns statistic 0.0 and p-value 1.0 without
    calling scipy (which warns about a 0 / 0).
    """
    a, b = paired_values(a, b)
    used = int(np.count_nonzero(a != b))
    if used == 0:
        return TestResult("wilcoxon", 0.0, 1.0, 0)
    result = stats.wilcoxon(a, b)
    return TestResult("wilcoxon", float(result.statistic), float(result.pvalue), used)


def sign_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Sign test: ``n+`` wins (``a > b``) and ``n-`` losses, ties dropped; the statistic is
    ``n+`` and ``p = binomtest(n+, n+ + n-, 0.5)`` two-sided (Conover, "Practical
    Nonparametric Statistics", 1999, sec. 3.4). With no win and no loss, p is 1.0.
    """
    a, b = paired_values(a, b)
    wins = int(np.count_nonzero(a > b))
    used = wins + int(np.count_nonzero(a < b))
    if used == 0:
        return TestResult("sign", 0.0, 1.0, 0)
    p_value = stats.binomtest(wins, used, 0.5).pvalue
    return TestResult("sign", float(wins), float(p_value), used)


def _sign_flip_means(d: np.ndarray, signs: np.ndarray) -> np.ndarray:
    # The same arithmetic as scipy.stats.permutation_test: the mean of the flipped rows.
    return np.mean(d * signs, axis=-1)


def _at_least_as_extreme(null: np.ndarray, observed: float) -> int:
    """How many of ``null`` have ``|t| >= |observed|``, up to the relative tolerance
    ``100 eps |observed|`` scipy uses for theoretically equal but numerically distinct
    values."""
    gamma = _RELATIVE_TOLERANCE * abs(observed)
    return int(np.count_nonzero(np.abs(null) >= abs(observed) - gamma))


def randomisation_test(
    a: np.ndarray, b: np.ndarray, *, permutations: int = 10_000, seed: int | None = 0
) -> TestResult:
    """Fisher's paired randomisation (sign-flip permutation) test of the mean difference
    (Fisher, "The Design of Experiments", 1935; Smucker et al., CIKM 2007).

    Under the null each ``d_i`` is as likely to be ``-d_i``; the statistic is
    ``t = mean(d)`` and the two-sided p-value is the share of sign flips ``s`` with
    ``|mean(s * d)| >= |t| - 100 eps |t|`` (scipy's relative tolerance).

    - exact when ``2**n <= permutations``: all ``2**n`` flips, the identity included,
      ``p = count / 2**n`` (equal to ``scipy.stats.permutation_test`` with
      ``permutation_type="samples"``, two-sided);
    - otherwise Monte Carlo with ``permutations`` random flips from
      ``np.random.default_rng(seed)``, ``p = (count + 1) / (permutations + 1)``, which
      never is 0 (Phipson & Smyth, "Permutation p-values should never be zero", 2010).
    """
    a, b = paired_values(a, b)
    permutations = _positive_int("permutations", permutations)
    d = a - b
    n = len(d)
    observed = float(np.mean(d))
    if n < 63 and 2**n <= permutations:
        extreme = 0
        for start in range(0, 2**n, _CHUNK):
            codes = np.arange(start, min(start + _CHUNK, 2**n), dtype=np.int64)
            bits = (codes[:, None] >> np.arange(n, dtype=np.int64)) & 1
            extreme += _at_least_as_extreme(_sign_flip_means(d, 1.0 - 2.0 * bits), observed)
        return TestResult("randomisation", observed, extreme / 2**n, n)
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, permutations, _CHUNK):
        rows = min(_CHUNK, permutations - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(rows, n))
        extreme += _at_least_as_extreme(_sign_flip_means(d, signs), observed)
    return TestResult("randomisation", observed, (extreme + 1) / (permutations + 1), n)


def paired_bootstrap_test(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 10_000, seed: int | None = 0
) -> TestResult:
    """Paired bootstrap test of the mean difference (Efron & Tibshirani, "An Introduction
    to the Bootstrap", 1993, ch. 16; Sakai, "Evaluating evaluation metrics based on the
    bootstrap", SIGIR 2006).

    The statistic is ``t = mean(d)``. Each of ``resamples`` bootstrap samples draws ``n``
    queries with replacement (``np.random.default_rng(seed)``); the null is imposed by
    centring, ``d0 = d - mean(d)``, and ``p = (count + 1) / (resamples + 1)`` where
    ``count`` is how many bootstrap means of ``d0`` have ``|mean| >= |t|`` (with scipy's
    relative tolerance ``100 eps |t|``). ``interval`` is the percentile 95% interval of
    the mean difference: the 2.5% and 97.5% quantiles of the bootstrap means of ``d``.
    """
    a, b = paired_values(a, b)
    resamples = _positive_int("resamples", resamples)
    d = a - b
    n = len(d)
    observed = float(np.mean(d))
    centred = d - observed
    rng = np.random.default_rng(seed)
    extreme = 0
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        rows = min(_CHUNK, resamples - start)
        picks = rng.integers(0, n, size=(rows, n))
        null = np.mean(centred[picks], axis=1)
        extreme += _at_least_as_extreme(null, observed)
        means[start : start + rows] = np.mean(d[picks], axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    p_value = (extreme + 1) / (resamples + 1)
    return TestResult("bootstrap", observed, p_value, n, (float(low), float(high)))


TESTS: dict[str, Callable[..., TestResult]] = {
    "t-test": paired_t_test,
    "wilcoxon": wilcoxon_test,
    "sign": sign_test,
    "randomisation": randomisation_test,
    "bootstrap": paired_bootstrap_test,
}


def run_test(name: str, a: np.ndarray, b: np.ndarray, **options: object) -> TestResult:
    """Run the test registered in ``TESTS`` as ``name`` on ``a`` and ``b`` with
    ``options`` (``permutations``, ``resamples``, ``seed`` where the test takes them)."""
    if name not in TESTS:
        raise ParameterError(
            f"unknown test {name!r}{did_you_mean(str(name), TESTS)}; "
            f"valid: {', '.join(sorted(TESTS))}"
        )
    test = TESTS[name]
    takes = [
        p.name for p in inspect.signature(test).parameters.values() if p.kind == p.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise ParameterError(
            f"test {name!r} does not take {', '.join(unknown)}; "
            f"valid: {', '.join(takes) if takes else 'no options'}"
        )
    return test(a, b, **options)
