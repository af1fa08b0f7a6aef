"""``rankarena.compare``: which of several systems really differ, on one or many datasets
and metrics, from a results store's per-query values or from run files and qrels.

A *family* is the comparisons on one dataset, split and metric: every system against a
baseline, or all pairs. Each comparison gets a paired test (``paired_tests.TESTS``) on the
queries all systems of the family share, its effect sizes (mean difference with its t
interval, Cohen's d_z with its noncentral-t interval, per-query wins / ties / losses) and a
p-value adjusted over the family:

- ``bonferroni``, ``holm``, ``bh``: ``corrections.adjust`` on the test's p-values;
- ``max-t``: Westfall & Young's step-down max-T over the randomisation test's own sign
  flips, shared by the pairs (``joint_permutations.max_t_adjusted``);
- ``tukey``: Carterette's randomised Tukey HSD, from permutations of the system labels
  within the queries (``joint_permutations.randomised_tukey_hsd``).

Both keep the dependence the shared queries create and need ``test="randomisation"``; an
adjusted p-value is reported as at least its unadjusted one (``max(adjusted, p)``: the
Monte Carlo adjustment can fall a few draws below an exact test's p-value, and the
complete-null permutations of Tukey's HSD below a pair's own test when other systems are
far apart);
- ``none``: the test's own p-value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..data import Qrels, Results, Run
from ..errors import ParameterError, did_you_mean
from .comparison_table import ComparisonTable
from .corrections import CORRECTIONS, adjust
from .effect_sizes import cohens_dz, mean_difference, wins_ties_losses
from .joint_permutations import max_t_adjusted, randomised_tukey_hsd
from .paired_tests import TESTS, run_test
from .query_matrix import QueryMatrix, matrices_from_runs, matrices_from_store

PERMUTATION_CORRECTIONS = ("max-t", "tukey")
ALL_CORRECTIONS = ("none", *CORRECTIONS, *PERMUTATION_CORRECTIONS)
"""Every ``correction`` ``compare`` takes."""


@dataclass(frozen=True)
class CompareSettings:
    """How a family is tested (the defaults of ``rankarena compare``)."""

    test: str = "t-test"
    correction: str = "holm"
    alpha: float = 0.05
    confidence: float = 0.95
    permutations: int = 10_000
    resamples: int = 10_000
    seed: int = 0
    baseline: str | None = None

    def __post_init__(self) -> None:
        if self.test not in TESTS:
            raise ParameterError(
                f"unknown test {self.test!r}{did_you_mean(str(self.test), TESTS)}; "
                f"valid: {', '.join(TESTS)}"
            )
        if self.correction not in ALL_CORRECTIONS:
            raise ParameterError(
                f"unknown correction {self.correction!r}"
                f"{did_you_mean(str(self.correction), ALL_CORRECTIONS)}; "
                f"valid: {', '.join(ALL_CORRECTIONS)}"
            )
        if self.correction in PERMUTATION_CORRECTIONS and self.test != "randomisation":
            raise ParameterError(
                f"correction {self.correction!r} adjusts the randomisation test's p-values "
                "from the same permutations; use test 'randomisation' (or correction "
                f"{', '.join(CORRECTIONS)})"
            )
        for name in ("alpha", "confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not 0.0 < float(value) < 1.0:
                raise ParameterError(f"{name} must lie in (0, 1); got {value!r}")
        for name in ("permutations", "resamples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ParameterError(f"{name} must be a positive integer; got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ParameterError(f"seed must be an integer >= 0; got {self.seed!r}")
        if self.seed < 0:
            raise ParameterError(f"seed must be an integer >= 0; got {self.seed!r}")

    def test_options(self) -> dict[str, int]:
        """The options ``run_test`` passes to the chosen test."""
        if self.test == "randomisation":
            return {"permutations": self.permutations, "seed": self.seed}
        if self.test == "bootstrap":
            return {"resamples": self.resamples, "seed": self.seed}
        return {}


def _pairs(matrix: QueryMatrix, baseline: str | None) -> tuple[list[int], list[tuple[int, int]]]:
    """Systems ordered by mean (best first, ties by name) and the pairs to compare:
    ``(system, baseline)`` for every other system, or every ``(better, worse)`` pair."""
    means = matrix.values.mean(axis=1)
    order = sorted(range(len(matrix.systems)), key=lambda s: (-means[s], matrix.systems[s]))
    if baseline is None:
        later = [(order[i], order[j]) for i in range(len(order)) for j in range(i + 1, len(order))]
        return order, later
    if baseline not in matrix.systems:
        raise ParameterError(
            f"{matrix.label}: baseline {baseline!r} has no per-query values"
            f"{did_you_mean(baseline, matrix.systems)}; systems: {', '.join(matrix.systems)}"
        )
    b = matrix.systems.index(baseline)
    return order, [(s, b) for s in order if s != b]


def _dz(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float]:
    if np.std(a - b, ddof=1) == 0.0:  # undefined: no variance of the differences
        return math.nan, math.nan, math.nan
    return cohens_dz(a, b, confidence)


def compare_family(matrix: QueryMatrix, settings: CompareSettings) -> list[dict[str, Any]]:
    """The rows of one family (``ComparisonTable.COLUMNS``): per pair ``(system, versus)``
    the test on ``values[system] - values[versus]``, its effect sizes and the adjusted
    p-value."""
    if len(matrix.query_ids) < 2:
        raise ParameterError(
            f"{matrix.label}: {len(matrix.query_ids)} shared queries; a paired test needs 2"
        )
    _, pairs = _pairs(matrix, settings.baseline)
    values = matrix.values
    means = values.mean(axis=1)
    rows = []
    for s, v in pairs:
        a, b = values[s], values[v]
        result = run_test(settings.test, a, b, **settings.test_options())
        difference, low, high = mean_difference(a, b, settings.confidence)
        dz, dz_low, dz_high = _dz(a, b, settings.confidence)
        wins, ties, losses = wins_ties_losses(a, b)
        rows.append(
            {
                "dataset": matrix.dataset,
                "split": matrix.split,
                "metric": matrix.metric,
                "system": matrix.systems[s],
                "versus": matrix.systems[v],
                "queries": len(matrix.query_ids),
                "mean": float(means[s]),
                "mean_versus": float(means[v]),
                "difference": difference,
                "difference_low": low,
                "difference_high": high,
                "d_z": dz,
                "d_z_low": dz_low,
                "d_z_high": dz_high,
                "wins": wins,
                "ties": ties,
                "losses": losses,
                "test": settings.test,
                "statistic": result.statistic,
                "p_value": result.p_value,
                "correction": settings.correction,
            }
        )
    raw = np.array([row["p_value"] for row in rows])
    if settings.correction == "none":
        adjusted = raw
    elif settings.correction in CORRECTIONS:
        adjusted = adjust(raw, settings.correction)
    else:
        options = {"permutations": settings.permutations, "seed": settings.seed}
        if settings.correction == "max-t":
            differences = np.stack([values[s] - values[v] for s, v in pairs], axis=1)
            adjusted = max_t_adjusted(differences, **options)
        else:
            involved = sorted({i for pair in pairs for i in pair})
            position = {system: k for k, system in enumerate(involved)}
            local = [(position[s], position[v]) for s, v in pairs]
            adjusted = randomised_tukey_hsd(values[involved], local, **options)
        adjusted = np.maximum(adjusted, raw)
    for row, p in zip(rows, adjusted, strict=True):
        row["p_adjusted"] = float(p)
        row["significant"] = bool(p < settings.alpha)
    return rows


@dataclass
class Comparison:
    """Every family's rows (``table``) and what could not be compared (``notes``)."""

    table: ComparisonTable
    settings: CompareSettings
    matrices: list[QueryMatrix] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """Queries or systems left out, per family."""
        return [note for matrix in self.matrices for note in matrix.notes]

    def to_arrow(self) -> pa.Table:
        """One row per comparison (``ComparisonTable.COLUMNS``)."""
        return self.table.to_arrow()


def compare(
    source: str | os.PathLike[str] | Results | pa.Table | None = None,
    *,
    runs: Mapping[str, Run | str | os.PathLike[str]] | None = None,
    qrels: Qrels | str | os.PathLike[str] | None = None,
    metrics: Sequence[str] = ("ndcg@10",),
    datasets: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    baseline: str | None = None,
    test: str = "t-test",
    correction: str = "holm",
    alpha: float = 0.05,
    confidence: float = 0.95,
    permutations: int = 10_000,
    resamples: int = 10_000,
    seed: int = 0,
    host: Any = None,
) -> Comparison:
    """Compare systems on the queries they share, family by family (dataset, split, metric).

    Give either ``source`` (a results store with per-query rows: a path, ``Results`` or an
    Arrow table; ``datasets`` and ``systems`` pick from it) or ``runs`` (name → ``Run`` or
    run file) with their ``qrels`` (a ``Qrels`` or a qrels file; the family's dataset is
    the file's stem), evaluated over every qrels query (trec_eval ``-c``).

    :param baseline: compare every system with this one; ``None``: all pairs.
    :param test: a name of ``rankarena.significance.TESTS``.
    :param correction: one of ``ALL_CORRECTIONS``, over each family.
    :param alpha: a comparison is ``significant`` when its adjusted p-value is below it.
    :param confidence: of the mean-difference and d_z intervals.
    :param permutations: of the randomisation test and of max-T / Tukey.
    :param resamples: of the bootstrap test.
    """
    settings = CompareSettings(
        test, correction, alpha, confidence, permutations, resamples, seed, baseline
    )
    metrics = list(metrics)
    if (source is None) == (runs is None):
        raise ParameterError("give either a results store (source) or runs with their qrels")
    if runs is not None:
        if qrels is None:
            raise ParameterError("runs need their qrels (a Qrels or a qrels file)")
        if datasets or systems:
            raise ParameterError("datasets and systems pick from a results store, not runs")
        dataset = "qrels"
        if not isinstance(qrels, Qrels):
            from ..data import read_qrels

            dataset = Path(qrels).stem
            qrels = read_qrels(qrels)
        matrices = matrices_from_runs(runs, qrels, metrics, dataset=dataset, host=host)
    else:
        matrices = matrices_from_store(source, metrics, datasets=datasets, systems=systems)
    rows = [row for matrix in matrices for row in compare_family(matrix, settings)]
    table = ComparisonTable(rows, settings.alpha, settings.confidence)
    return Comparison(table, settings, matrices)
