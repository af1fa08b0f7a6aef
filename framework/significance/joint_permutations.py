"""Randomisations shared by many comparisons on the same queries: their null
distributions drawn jointly, so that the dependence the shared queries create is kept.

- Permutations of the system labels within each query (``permuted_means``): under the
  complete null hypothesis (all ``m`` systems equally effective) the ``m`` values of a
  query are exchangeable between the systems (Fisher, "The Design of Experiments", 1935).
  Carterette's randomised Tukey HSD reads its null from them.
- Sign flips of each query's vector of pairwise differences (``sign_flip_means``): each
  pair on its own gets exactly the flips of Fisher's paired randomisation test, so the
  max-T adjustment built on them is never below that test's p-value in the Monte Carlo
  case.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from .corrections import max_t_step_down

_CELLS_PER_CHUNK = 3_000_000  # permuted values held at once (24 MB), bounds memory
_FLIP_ROWS = 1_000  # sign rows drawn at once: as paired_tests.randomisation_test
_RELATIVE_TOLERANCE = 100 * np.finfo(np.float64).eps  # as scipy.stats.permutation_test


def permuted_means(values: np.ndarray, permutations: int, seed: int | None = 0) -> np.ndarray:
    """``permutations x m``: each system's mean over the queries after the system labels of
    every query were shuffled (``numpy.random.Generator.permuted`` along the systems, one
    independent shuffle per query and permutation, ``np.random.default_rng(seed)``).

    ``values`` is ``m`` systems x ``n`` queries."""
    values = np.asarray(values, dtype=np.float64)
    m, n = values.shape
    by_query = np.ascontiguousarray(values.T)  # n x m: one row of m values per query
    rng = np.random.default_rng(seed)
    means = np.empty((permutations, m))
    chunk = max(1, _CELLS_PER_CHUNK // max(1, m * n))
    for start in range(0, permutations, chunk):
        rows = min(chunk, permutations - start)
        shuffled = rng.permuted(np.broadcast_to(by_query, (rows, n, m)), axis=2)
        means[start : start + rows] = shuffled.mean(axis=1)
    return means


def _pair_indices(m: int, pairs: list[tuple[int, int]] | None) -> tuple[np.ndarray, np.ndarray]:
    if pairs is None:
        first, second = np.triu_indices(m, k=1)
        return first, second
    if not pairs:
        raise ParameterError("pairs must hold at least one (i, j) pair of systems")
    first = np.array([i for i, _ in pairs], dtype=np.int64)
    second = np.array([j for _, j in pairs], dtype=np.int64)
    if np.any(first == second) or first.min() < 0 or max(first.max(), second.max()) >= m:
        raise ParameterError(f"pairs must name two different systems among 0..{m - 1}")
    return first, second


def _tolerant(observed: np.ndarray) -> np.ndarray:
    """``|t| - 100 eps |t|``: a permuted statistic theoretically equal to the observed one
    but a few ulps below it still counts as at least as extreme (scipy's rule)."""
    return np.abs(observed) * (1.0 - _RELATIVE_TOLERANCE)


def randomised_tukey_hsd(
    values: np.ndarray,
    pairs: list[tuple[int, int]] | None = None,
    *,
    permutations: int = 10_000,
    seed: int | None = 0,
    null_means: np.ndarray | None = None,
) -> np.ndarray:
    """Adjusted p-values of the pairs by Carterette's randomised Tukey HSD (Carterette,
    "Multiple testing in statistical analysis of systems-based information retrieval
    experiments", ACM TOIS 30(1), 2012, sec. 4.1; Sakai, "Laboratory Experiments in
    Information Retrieval", 2018, sec. 4.5).

    For each of ``B`` permutations of the labels within the queries
    (``permuted_means``) take the range of the permuted system means,
    ``r* = max_k mean*_k - min_k mean*_k``; the pair ``(i, j)`` gets

    ``p_ij = (1 + #{permutations with r* >= |mean_i - mean_j|}) / (B + 1)``.

    The range is the largest of all pairwise differences, so the procedure controls the
    family-wise error rate over all ``m (m - 1) / 2`` pairs (single step).

    :param values: ``m`` systems x ``n`` queries.
    :param pairs: the ``(i, j)`` rows of ``values`` to compare (default: all pairs,
        ``i < j`` in ``numpy.triu_indices`` order).
    :param null_means: precomputed ``permuted_means(values, ...)`` (then ``permutations``
        and ``seed`` are not used).
    """
    values = np.asarray(values, dtype=np.float64)
    first, second = _pair_indices(values.shape[0], pairs)
    if null_means is None:
        null_means = permuted_means(values, permutations, seed)
    means = values.mean(axis=1)
    observed = _tolerant(means[first] - means[second])
    ranges = null_means.max(axis=1) - null_means.min(axis=1)
    counts = np.count_nonzero(ranges[:, None] >= observed[None, :], axis=0)
    return (counts + 1) / (len(ranges) + 1)


def sign_flip_means(
    differences: np.ndarray, permutations: int = 10_000, seed: int | None = 0
) -> np.ndarray:
    """``permutations x h``: the mean of each pair's per-query differences after the
    differences of every query were multiplied by one random sign, the same for all ``h``
    pairs (``differences`` is ``n`` queries x ``h`` pairs).

    Flipping a query's whole vector of differences is the paired randomisation of
    several comparisons at once (Westfall & Young 1993, sec. 2.6, for multiple endpoints
    measured on the same subjects): each column on its own gets exactly the flips of
    ``paired_tests.randomisation_test`` with the same ``seed`` (the same generator draws,
    in the same order), and the shared flips keep the dependence between the pairs.
    """
    differences = np.asarray(differences, dtype=np.float64)
    n, h = differences.shape
    rng = np.random.default_rng(seed)
    means = np.empty((permutations, h))
    for start in range(0, permutations, _FLIP_ROWS):
        rows = min(_FLIP_ROWS, permutations - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(rows, n))
        means[start : start + rows] = signs @ differences / n
    return means


def _studentised(means: np.ndarray, squares: np.ndarray, n: int) -> np.ndarray:
    """``|t| = |m| / (s / sqrt(n))`` with ``s^2 = (sum d^2 - n m^2) / (n - 1)``: a sign flip
    keeps ``sum d^2``, so each flip's t follows from its mean. 0 where every difference is
    0; infinite where they are all equal and not 0 (no spread)."""
    variance = np.maximum(squares - n * means**2, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(means) / np.sqrt(variance / n)
    return np.where(means == 0.0, 0.0, t)


def max_t_adjusted(
    differences: np.ndarray, *, permutations: int = 10_000, seed: int | None = 0
) -> np.ndarray:
    """Westfall & Young's step-down max-T adjusted p-values of ``h`` paired comparisons
    (``rankarena.significance.corrections.max_t_step_down``; Westfall & Young 1993,
    Algorithm 2.8) on the studentised statistics ``|t_k| = |mean_k| / (s_k / sqrt(n))`` of
    the pairs' per-query differences, their null row ``b`` the same after the sign flips
    ``b`` of ``sign_flip_means``. Studentising puts the pairs on one scale, so a pair
    whose differences vary much does not dominate the maximum; for one pair ``|t|`` grows
    with ``|mean|``, so its marginal p-value is the randomisation test's.
    ``differences`` is ``n`` queries x ``h`` pairs."""
    differences = np.asarray(differences, dtype=np.float64)
    n = differences.shape[0]
    squares = np.sum(differences**2, axis=0)
    null = _studentised(sign_flip_means(differences, permutations, seed), squares, n)
    observed = _studentised(differences.mean(axis=0), squares, n)
    return max_t_step_down(_tolerant(observed), null)
