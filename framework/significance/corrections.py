"""Multiple-comparison corrections: adjusted p-values for a family of ``h`` hypotheses.

``adjust`` gives the same numbers as ``statsmodels.stats.multitest.multipletests`` (methods
"bonferroni", "holm" and "fdr_bh"); ``max_t_step_down`` is Westfall & Young's resampling
step-down procedure, which uses the dependence between the tests.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, did_you_mean

CORRECTIONS: tuple[str, ...] = ("bonferroni", "holm", "bh")


def _p_values(p_values: np.ndarray) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ParameterError(f"p_values must be a non-empty 1-D array; got shape {p.shape}")
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        bad = int(np.flatnonzero(np.isnan(p) | (p < 0) | (p > 1))[0])
        raise ParameterError(f"p_values[{bad}] = {p[bad]} is not a probability in [0, 1]")
    return p


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values, in the input order, for ``method`` in ``CORRECTIONS``.

    With ``h`` p-values sorted ascending, ``p_(1) <= ... <= p_(h)``:

    - ``bonferroni``: ``min(1, h p_i)`` (controls the family-wise error rate; Dunn 1961);
    - ``holm``: ``min(1, max_{j <= i} (h - j + 1) p_(j))`` (step-down FWER control; Holm,
      "A simple sequentially rejective multiple test procedure", 1979);
    - ``bh``: ``min(1, min_{j >= i} h p_(j) / j)`` (false discovery rate; Benjamini &
      Hochberg, "Controlling the false discovery rate", 1995).
    """
    if method not in CORRECTIONS:
        raise ParameterError(
            f"unknown correction {method!r}{did_you_mean(str(method), CORRECTIONS)}; "
            f"valid: {', '.join(CORRECTIONS)}"
        )
    p = _p_values(p_values)
    h = len(p)
    if method == "bonferroni":
        return np.minimum(p * float(h), 1.0)
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        sorted_adjusted = np.maximum.accumulate(ranked * np.arange(h, 0, -1))
    else:
        raw = ranked / (np.arange(1, h + 1) / float(h))
        sorted_adjusted = np.minimum.accumulate(raw[::-1])[::-1]
    adjusted = np.empty(h)
    adjusted[order] = np.minimum(sorted_adjusted, 1.0)
    return adjusted


def max_t_step_down(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Westfall & Young's step-down max-T adjusted p-values (Westfall & Young,
    "Resampling-Based Multiple Testing", 1993, Algorithm 2.8).

    ``observed`` holds the ``h`` hypotheses' absolute statistics; ``null`` (``m x h``) the
    absolute statistics of the same hypotheses under each of ``m`` permutations (the same
    permutation across a row, which keeps the dependence between tests). Order the
    hypotheses so that ``|t_(1)| >= ... >= |t_(h)|``; at step ``j`` take, per permutation,
    the successive maximum ``u_j = max_{k >= j} null[:, (k)]`` over the hypotheses not yet
    stepped past, and

    ``p_(j) = (1 + #{permutations with u_j >= |t_(j)|}) / (m + 1)``,

    then enforce monotonicity, ``p_(j) = max(p_(j-1), p_(j))``. Returned in input order.
    """
    observed = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    if observed.ndim != 1 or len(observed) == 0:
        raise ParameterError(f"observed must be a non-empty 1-D array; got {observed.shape}")
    if null.ndim != 2 or null.shape[1] != len(observed) or null.shape[0] == 0:
        raise ParameterError(
            f"null must have shape (m, {len(observed)}) with m >= 1; got {null.shape}"
        )
    if np.any(np.isnan(observed)) or np.any(np.isnan(null)):
        raise ParameterError("observed and null must not hold NaN values")
    order = np.argsort(-observed, kind="stable")
    successive = np.maximum.accumulate(null[:, order][:, ::-1], axis=1)[:, ::-1]
    counts = np.count_nonzero(successive >= observed[order], axis=0)
    stepped = np.maximum.accumulate((counts + 1) / (null.shape[0] + 1))
    adjusted = np.empty(len(observed))
    adjusted[order] = stepped
    return adjusted
