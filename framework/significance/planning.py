"""Topic set size design: how many queries an experiment needs to detect a difference, or
to measure it to a given precision, from a variance estimated on earlier results.

Sakai, "Topic set size design", Information Retrieval Journal 19(3), 2016; Sakai,
"Laboratory Experiments in Information Retrieval", Springer 2018, ch. 6. Three designs,
each the smallest ``n >= 2`` (topics, i.e. queries) that meets its requirement:

- ``topic_set_size``: the two-sided paired t-test at level ``alpha`` reaches ``power``
  when the true mean difference is ``min_difference``; with ``sigma_d^2`` the variance of
  the per-query differences,
  ``power(n) = P(|T| > t_{1 - alpha/2, n - 1})``,
  ``T ~ noncentral t(df = n - 1, ncp = sqrt(n) min_difference / sigma_d)``;
- ``topic_set_size_anova``: one-way ANOVA over ``m`` systems with ``n`` queries each
  reaches ``power`` when the best and worst system are ``min_range`` apart (the least
  favourable configuration: two systems at ``+- min_range / 2`` from the grand mean, the
  others on it), ``lambda = n min_range^2 / (2 sigma^2)``,
  ``power(n) = P(F' > F_{1 - alpha}(phi1, phi2))``,
  ``F' ~ noncentral F(phi1 = m - 1, phi2 = m (n - 1), lambda)``;
- ``topic_set_size_ci``: the expected half-width (margin of error) of the
  ``100 (1 - alpha)%`` t interval of the paired mean difference is at most ``delta``,
  ``E[MOE] = t_{1 - alpha/2, n - 1} c(n) sqrt(sigma_d^2 / n)`` with
  ``c(n) = E[s] / sigma = sqrt(2 / (n - 1)) Gamma(n / 2) / Gamma((n - 1) / 2)``.

Variances come from a systems x queries matrix of earlier per-query values
(``topic_matrix`` reads one from a results store): ``residual_variance`` is Sakai's
``V_E``, the residual variance of two-way ANOVA without replication, an estimate of
``sigma^2``; ``difference_variance = 2 V_E`` estimates ``sigma_d^2``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import special, stats

from ..data.results import Results
from ..errors import ParameterError
from .query_matrix import QueryMatrix, matrices_from_store

MAX_TOPICS = 2**40
"""The largest ``n`` the searches try; a requirement that needs more is a ``ParameterError``."""


@dataclass(frozen=True)
class TopicSetSize:
    """A design's answer: ``n`` queries, and what ``n`` achieves (``achieved``: the power
    of the t-test or ANOVA, or the expected half-width of the interval), with the inputs
    (``target``: the power asked for, or the half-width allowed; ``systems``: ``m`` for
    the ANOVA design, else 2)."""

    design: str
    n: int
    achieved: float
    target: float
    difference: float | None
    variance: float
    alpha: float
    systems: int = 2


# ----------------------------------------------------------------------------- checks


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number > 0; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


def _probability(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number in (0, 1); got {value!r}")
    if not 0.0 < value < 1.0:
        raise ParameterError(f"{name} must lie in (0, 1); got {value!r}")
    return float(value)


def _smallest(meets: Callable[[int], bool], what: str) -> int:
    """The smallest ``n >= 2`` with ``meets(n)``, for a requirement monotone in ``n``:
    doubling until it is met, then bisection."""
    if meets(2):
        return 2
    low, high = 2, 4  # meets(low) is False
    while not meets(high):
        low, high = high, high * 2
        if high > MAX_TOPICS:
            raise ParameterError(f"{what} needs more than {MAX_TOPICS} queries")
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


# ---------------------------------------------------------------------------- designs


def t_test_power(n: int, min_difference: float, variance: float, alpha: float = 0.05) -> float:
    """The power of the two-sided paired t-test on ``n`` queries at level ``alpha`` when
    the mean difference is ``min_difference`` and the differences have variance
    ``variance``: ``P(T > t) + P(T < -t)`` with ``t = t_{1 - alpha/2, n - 1}`` and
    ``T ~ nct(n - 1, sqrt(n) min_difference / sqrt(variance))``.

    The far tail is computed as ``P(T < -t) = nct.sf(t, n - 1, -ncp)`` (``T(-ncp)`` is
    distributed as ``-T(ncp)``): scipy's ``nct.cdf`` returns NaN deep in that tail, where
    the mirrored ``sf`` stays finite. Should it still fail, the tail is taken as 0, which
    errs by at most ``P(T < 0) = Phi(-ncp)``, and only when that is below 1e-12."""
    df = n - 1
    critical = stats.t.isf(alpha / 2, df)
    ncp = math.sqrt(n) * min_difference / math.sqrt(variance)
    upper = float(stats.nct.sf(critical, df, ncp))
    lower = float(stats.nct.sf(critical, df, -ncp))
    if not math.isfinite(lower) and stats.norm.cdf(-ncp) < 1e-12:
        lower = 0.0
    return upper + lower


def topic_set_size(
    min_difference: float, variance: float, alpha: float = 0.05, power: float = 0.8
) -> TopicSetSize:
    """The smallest ``n >= 2`` with ``t_test_power(n) >= power`` (Sakai 2016, the paired
    t-test design): enough queries for the two-sided paired t-test at level ``alpha`` to
    detect a true mean difference of ``min_difference`` with probability ``power``, when
    the per-query differences have variance ``variance`` (``sigma_d^2``; see
    ``difference_variance``)."""
    min_difference = _positive("min_difference", min_difference)
    variance = _positive("variance", variance)
    alpha = _probability("alpha", alpha)
    power = _probability("power", power)

    def achieved(n: int) -> float:
        return t_test_power(n, min_difference, variance, alpha)

    n = _smallest(lambda n: achieved(n) >= power, f"a t-test power of {power}")
    return TopicSetSize("t-test", n, achieved(n), power, min_difference, variance, alpha)


def anova_power(
    n: int, min_range: float, variance: float, systems: int, alpha: float = 0.05
) -> float:
    """The power of one-way ANOVA over ``systems`` systems with ``n`` queries each when
    the best and worst system are ``min_range`` apart and the scores have variance
    ``variance``: ``ncf.sf(F_{1 - alpha}(m - 1, m (n - 1)), m - 1, m (n - 1), lambda)``
    with ``lambda = n min_range^2 / (2 variance)``."""
    phi1, phi2 = systems - 1, systems * (n - 1)
    critical = stats.f.isf(alpha, phi1, phi2)
    noncentrality = n * min_range**2 / (2 * variance)
    return float(stats.ncf.sf(critical, phi1, phi2, noncentrality))


def topic_set_size_anova(
    min_range: float,
    variance: float,
    systems: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> TopicSetSize:
    """The smallest ``n >= 2`` with ``anova_power(n) >= power`` (Sakai 2016, the one-way
    ANOVA design): enough queries for one-way ANOVA over ``systems`` (``m >= 2``) systems
    at level ``alpha`` to detect, with probability ``power``, a range of ``min_range``
    between the best and the worst system, whatever the others do (the noncentrality is
    least, ``lambda = n min_range^2 / (2 sigma^2)``, when the other ``m - 2`` sit on the
    grand mean). ``variance`` is the within-system variance ``sigma^2`` (see
    ``residual_variance``), not that of differences."""
    min_range = _positive("min_range", min_range)
    variance = _positive("variance", variance)
    if isinstance(systems, bool) or not isinstance(systems, (int, np.integer)) or systems < 2:
        raise ParameterError(f"systems must be an integer >= 2; got {systems!r}")
    systems = int(systems)
    alpha = _probability("alpha", alpha)
    power = _probability("power", power)

    def achieved(n: int) -> float:
        return anova_power(n, min_range, variance, systems, alpha)

    n = _smallest(lambda n: achieved(n) >= power, f"an ANOVA power of {power}")
    return TopicSetSize("anova", n, achieved(n), power, min_range, variance, alpha, systems)


def expected_half_width(n: int, variance: float, alpha: float = 0.05) -> float:
    """The expected half-width of the ``100 (1 - alpha)%`` t interval of the mean of ``n``
    paired differences with variance ``variance``:
    ``t_{1 - alpha/2, n - 1} c(n) sqrt(variance / n)``, where
    ``c(n) = E[s] / sigma = sqrt(2 / (n - 1)) Gamma(n / 2) / Gamma((n - 1) / 2)`` is the
    exact expectation of the sample standard deviation (ddof 1) of normal data."""
    c = math.sqrt(2 / (n - 1)) * math.exp(special.gammaln(n / 2) - special.gammaln((n - 1) / 2))
    return float(stats.t.isf(alpha / 2, n - 1) * c * math.sqrt(variance / n))


def topic_set_size_ci(max_half_width: float, variance: float, alpha: float = 0.05) -> TopicSetSize:
    """The smallest ``n >= 2`` with ``expected_half_width(n) <= max_half_width`` (Sakai
    2016, the confidence-interval design): enough queries for the ``100 (1 - alpha)%``
    interval of the paired mean difference to be, on average, ``+- max_half_width`` or
    narrower. Sakai caps the whole width ``2 MOE <= delta``: pass ``delta / 2``."""
    max_half_width = _positive("max_half_width", max_half_width)
    variance = _positive("variance", variance)
    alpha = _probability("alpha", alpha)
    n = _smallest(
        lambda n: expected_half_width(n, variance, alpha) <= max_half_width,
        f"an expected half-width of {max_half_width}",
    )
    achieved = expected_half_width(n, variance, alpha)
    return TopicSetSize("ci", n, achieved, max_half_width, None, variance, alpha)


# ------------------------------------------------------------------ variance estimates


def _matrix(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ParameterError(
            f"values must be a systems x queries matrix with at least 2 of each; "
            f"got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise ParameterError(f"values holds a NaN or infinite value at [{row}, {col}]")
    return x


def residual_variance(values: np.ndarray) -> float:
    """Sakai's ``V_E``: the residual mean square of two-way ANOVA without replication on a
    ``m`` systems x ``n`` queries matrix ``x``,

    ``V_E = sum_ij (x_ij - xbar_i. - xbar_.j + xbar..)^2 / ((m - 1)(n - 1))``,

    an estimate of the within-system variance ``sigma^2`` once system and query effects
    are taken out (the ``variance`` of ``topic_set_size_anova``)."""
    x = _matrix(values)
    m, n = x.shape
    residuals = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
    return float(np.sum(residuals**2) / ((m - 1) * (n - 1)))


def difference_variance(values: np.ndarray) -> float:
    """``sigma_d^2 = 2 V_E`` (``residual_variance``): the variance of one system's
    per-query value minus another's under the additive model
    ``x_ij = mu + a_i + b_j + e_ij``, ``e_ij ~ N(0, sigma^2)`` independent, where
    ``d_j = a_1 - a_2 + e_1j - e_2j`` has variance ``2 sigma^2`` (Sakai 2016). The
    ``variance`` of ``topic_set_size`` and ``topic_set_size_ci``. With two systems it is
    the sample variance (ddof 1) of their differences."""
    return 2.0 * residual_variance(values)


def topic_matrix(
    store: str | os.PathLike[str] | Results | pa.Table,
    metric: str,
    dataset: str,
    split: str | None = None,
) -> QueryMatrix:
    """The systems x queries matrix of ``metric`` on ``dataset`` (and ``split``; ``None``
    takes the store's only split there) from a results store, read as ``rankarena compare``
    reads it (``query_matrix.matrices_from_store``: unperturbed per-query rows of each
    system's newest run, the queries every system has; ``dropped`` counts the others).
    Raise ``ParameterError`` naming what is stored when nothing matches."""
    matrices = matrices_from_store(store, [metric], datasets=[dataset], min_systems=1)
    splits = sorted(m.split for m in matrices)
    if split is None:
        if len(splits) > 1:
            raise ParameterError(
                f"{dataset!r} has per-query {metric} rows on several splits; "
                f"choose one of {', '.join(splits)}"
            )
        return matrices[0]
    for matrix in matrices:
        if matrix.split == split:
            return matrix
    raise ParameterError(
        f"no per-query rows of {metric!r} on {dataset!r} split {split!r}; "
        f"stored: {', '.join(repr(s) for s in splits)}"
    )
