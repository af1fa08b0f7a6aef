"""Built-in aggregators on the scores themselves: ``mean``, ``mean-by-task-type``, ``borda``.

These are the MTEB leaderboard's columns (Muennighoff et al., "MTEB: Massive Text Embedding
Benchmark", EACL 2023; Enevoldsen et al., "MMTEB", ICLR 2025), computed as the ``mteb``
package computes them (``mteb/benchmarks/_create_table.py``), for a systems × tasks table
s[i, t] with missing cells:

* ``mean`` — "Mean (Task)": (1/T) Σ_t s[i, t]; missing when any task is missing
  (``missing="strict"``, mteb's skipna=False), or the mean over the present tasks
  (``missing="skip"``).
* ``mean-by-task-type`` — "Mean (TaskType)": the mean over task types of the per-type means
  m_g(i) = mean of s[i, t] over the tasks t of type g; strict as above by default.
* ``borda`` — "Rank (Borda)": on each task the systems with a score are ranked, best first,
  equal scores sharing the average rank r[i, t]; with n the number of systems in the table,
  B(i) = Σ_t (n − r[i, t]) over the tasks where i has a score (a missing task earns 0 points);
  systems are ranked by B, equal totals sharing the best rank (polars ``rank("min")``).
  (de Borda, "Mémoire sur les élections au scrutin", 1781.) A table read from an MTEB
  results folder carries mteb's ``BordaBasis``: then the ranks per task are taken among all
  the models mteb ranks there, on the mean of whatever of the task each scored (a task the
  table shows missing for want of a split still earns points), n is the table's model
  count, and the final ranks count the models mteb ranks but does not list, as mteb's
  "Rank (Borda)" does (so ranks may skip numbers).

Missing aggregate values rank last, tied.
"""

from __future__ import annotations

import numpy as np

import rankarena
from rankarena import Ranking, ScoreTable
from rankarena.api.checks import check_choice

MISSING_POLICIES = ("strict", "skip")


def _check_missing(name: str, missing: str) -> str:
    return check_choice(f"aggregator {name!r}", "missing", missing, MISSING_POLICIES)


def row_means(values: np.ndarray, missing: str) -> np.ndarray:
    """Row means of ``values`` (NaN = missing) under the ``missing`` policy."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    means = np.divide(total, count, out=np.full(len(values), np.nan), where=count > 0)
    if missing == "strict":
        means[count < values.shape[1]] = np.nan
    return means


class Mean:
    """MTEB's "Mean (Task)": the mean score over tasks.

    :param missing: ``strict`` (a system missing any task has no mean, as mteb) or ``skip``
        (the mean over the tasks it has).

    Cost: O(n T) time and memory for n systems and T tasks.
    """

    @property
    def missing_cells(self) -> str:
        """``strict`` or ``skip``, as ``missing`` (the conformance kit's declaration)."""
        return self.missing

    def __init__(self, missing: str = "strict"):
        self.missing = _check_missing("mean", missing)

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank systems by their mean score."""
        present = (~np.isnan(scores.scores)).sum(axis=1)
        means = row_means(scores.scores, self.missing)
        return Ranking.from_scores("mean", scores.systems, means, tasks=present.tolist())


class MeanByTaskType:
    """MTEB's "Mean (TaskType)": the mean of the per-task-type means.

    :param missing: ``strict`` (as mteb: a missing task makes its type's mean, and so the
        system's value, missing) or ``skip`` (means over what is present).

    Tasks without a type in ``ScoreTable.task_types`` form the type ``"(none)"``.

    Cost: O(n T) time and memory for n systems and T tasks.
    """

    @property
    def missing_cells(self) -> str:
        """``strict`` or ``skip``, as ``missing`` (the conformance kit's declaration)."""
        return self.missing

    def __init__(self, missing: str = "strict"):
        self.missing = _check_missing("mean-by-task-type", missing)

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank systems by the mean over task types of their per-type means."""
        types = [scores.task_types.get(t, "(none)") for t in scores.tasks]
        groups = sorted(set(types))
        per_type = (
            np.column_stack(
                [
                    row_means(
                        scores.scores[:, [i for i, g in enumerate(types) if g == group]],
                        self.missing,
                    )
                    for group in groups
                ]
            )
            if groups
            else np.full((len(scores.systems), 0), np.nan)
        )
        values = row_means(per_type, self.missing)
        extras = {f"mean:{group}": per_type[:, k].tolist() for k, group in enumerate(groups)}
        return Ranking.from_scores("mean-by-task-type", scores.systems, values, **extras)


def borda_points(values: np.ndarray, n: int | None = None) -> np.ndarray:
    """Borda points per system and task as mteb computes them, n − average rank (0 where
    the score is missing); n defaults to the number of systems.

    Vectorised over the tasks (one sort of the whole table): on each task the present
    scores are ranked best first, a run of equal scores sharing the average of its
    positions (scipy's ``rankdata(method="average")``); missing cells sort last and
    change no present cell's rank."""
    n = values.shape[0] if n is None else n
    present = ~np.isnan(values)
    ranks = _average_ranks(np.where(present, -values, np.inf))
    return np.where(present, n - ranks, 0.0)


def _average_ranks(key: np.ndarray) -> np.ndarray:
    """Per column of ``key``, the 1-based rank of each cell in ascending order, equal values
    sharing the average of their positions (``rankdata(key, axis=0, method="average")``),
    except that ``+inf`` cells (missing scores) sort last in arbitrary order."""
    size, columns = key.shape
    if size == 0 or columns == 0:
        return np.zeros(key.shape)
    rows = np.ascontiguousarray(key.T)  # one row per column: the sorts run on contiguous rows
    order = np.argsort(rows, axis=1)  # the order among equal values does not matter
    order += np.arange(0, size * columns, size)[:, None]  # flat indices into ``rows``
    ordered = rows.take(order)
    same = ordered[:, 1:] == ordered[:, :-1]  # a cell equal to the one before it
    same &= ordered[:, 1:] != np.inf  # (missing cells: no runs, their ranks are not used)
    position = np.broadcast_to(np.arange(1, size + 1), rows.shape)
    if same.any():  # runs of equal values share the average of their positions
        first = np.ones(rows.shape, dtype=bool)
        first[:, 1:] = ~same
        last = np.ones(rows.shape, dtype=bool)
        last[:, :-1] = ~same
        start = np.maximum.accumulate(np.where(first, position, 0), axis=1)
        end = np.minimum.accumulate(np.where(last, position, size)[:, ::-1], axis=1)[:, ::-1]
        position = (start + end) / 2.0
    ranks = np.empty(rows.shape)
    ranks.put(order, position)
    return ranks.T


class Borda:
    """MTEB's "Rank (Borda)" (see the module docstring for the formula).

    Cost: O(n T log n) time (a sort per task), O(n T) memory, for n systems and T tasks.
    """

    missing_cells = "skip"  # a missing task earns no points (the conformance kit's declaration)

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank systems by their Borda count; extras: the number of tasks each has."""
        present = (~np.isnan(scores.scores)).sum(axis=1)
        basis = scores.borda_basis
        if basis is None:
            totals = borda_points(scores.scores).sum(axis=1)
            return Ranking.from_scores("borda", scores.systems, totals, tasks=present.tolist())
        everyone = Ranking.from_scores(
            "borda", basis.systems, borda_points(basis.scores, basis.n).sum(axis=1)
        )
        rows = np.asarray(basis.rows, dtype=np.int64)
        return Ranking(
            "borda",
            scores.systems,
            everyone.scores[rows],
            everyone.ranks[rows],
            {"tasks": present.tolist()},
        )


@rankarena.hookimpl
def register_aggregators(register) -> None:
    register("mean", Mean)
    register("mean-by-task-type", MeanByTaskType)
    register("borda", Borda)
