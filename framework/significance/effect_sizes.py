"""Effect sizes of a paired comparison with confidence intervals, and win/tie/loss counts.

``a`` and ``b`` are two systems' per-query values on the same queries; ``d = a - b``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from ..errors import ParameterError
from .paired_tests import paired_values


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must lie in (0, 1); got {confidence!r}")
    return float(confidence)


def mean_difference(
    a: np.ndarray, b: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean difference ``mean(d)`` and its t interval
    ``mean(d) -+ t_{(1 + confidence) / 2, n - 1} sd(d) / sqrt(n)`` (``sd`` with ddof 1;
    Student 1908; Sakai, "Statistical reform in information retrieval?", 2014)."""
    confidence = _check_confidence(confidence)
    a, b = paired_values(a, b)
    d = a - b
    n = len(d)
    mean = float(np.mean(d))
    half = stats.t.ppf((1 + confidence) / 2, n - 1) * np.std(d, ddof=1) / np.sqrt(n)
    return mean, float(mean - half), float(mean + half)


def _noncentrality(t: float, df: int, probability: float) -> float:
    """The noncentrality ``ncp`` with ``nct.cdf(t, df, ncp) = probability`` (the cdf falls
    as ``ncp`` grows, so a bracket around ``t`` widened until it changes sign holds it)."""

    def gap(ncp: float) -> float:
        return float(stats.nct.cdf(t, df, ncp)) - probability

    width = 2.0 + abs(t) / 2
    low, high = t - width, t + width
    while gap(low) < 0:
        low -= width
        width *= 2
    while gap(high) > 0:
        high += width
        width *= 2
    return float(optimize.brentq(gap, low, high, xtol=1e-12, rtol=1e-12))


def cohens_dz(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """``(dz, low, high)``: Cohen's ``d_z = mean(d) / sd(d)`` (``sd`` with ddof 1; Lakens,
    "Calculating and reporting effect sizes", 2013) and its exact interval from the
    noncentral t distribution (Cumming & Finch, "A primer on ... confidence intervals",
    2001): with ``t = d_z sqrt(n)`` and ``df = n - 1``, find the noncentralities
    ``ncp_low`` and ``ncp_high`` with ``nct.cdf(t, df, ncp_low) = (1 + confidence) / 2``
    and ``nct.cdf(t, df, ncp_high) = (1 - confidence) / 2`` (``scipy.optimize.brentq``),
    and divide them by ``sqrt(n)``. Raise ``ParameterError`` when ``sd(d) = 0``."""
    confidence = _check_confidence(confidence)
    a, b = paired_values(a, b)
    d = a - b
    n = len(d)
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:
        raise ParameterError("cohens_dz is undefined: the differences a - b have zero variance")
    dz = float(np.mean(d)) / sd
    t = dz * np.sqrt(n)
    low = _noncentrality(t, n - 1, (1 + confidence) / 2)
    high = _noncentrality(t, n - 1, (1 - confidence) / 2)
    return dz, float(low / np.sqrt(n)), float(high / np.sqrt(n))


def wins_ties_losses(a: np.ndarray, b: np.ndarray, tolerance: float = 0.0) -> tuple[int, int, int]:
    """``(wins, ties, losses)`` of ``a`` over ``b``: queries with ``a - b > tolerance``,
    ``|a - b| <= tolerance`` and ``a - b < -tolerance``."""
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ParameterError(f"tolerance must be a finite number >= 0; got {tolerance!r}")
    a, b = paired_values(a, b)
    d = a - b
    wins = int(np.count_nonzero(d > tolerance))
    losses = int(np.count_nonzero(d < -tolerance))
    return wins, len(d) - wins - losses, losses
