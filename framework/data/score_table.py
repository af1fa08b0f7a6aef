"""Aggregator input and output: a systems × tasks ``ScoreTable`` and a ``Ranking``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DataFormatError


@dataclass(frozen=True)
class BordaBasis:
    """What a leaderboard ranks its Borda count on, where that is not its table.

    MTEB's leaderboard (``mteb`` ``_borda_rank_from_long``) ranks Borda on the mean of
    whatever was scored of each task, for every model with a result, while its per-task
    table shows a task missing when a split of it is missing, and leaves out the models
    with no complete task: those partial scores still take Borda ranks and points. The
    MTEB results-folder reader records that basis here so that ``borda`` equals mteb's
    "Rank (Borda)".

    :param systems: every model that takes Borda ranks (the table's and the others).
    :param tasks: the partitions ranked (the benchmark's tasks with any score).
    :param scores: ``systems`` × ``tasks``, NaN where nothing was scored.
    :param n: the points base: a system ranked r on a task gets n − r points (mteb: the
        number of models in its table).
    :param rows: per system of the table, its row in ``systems``.
    """

    systems: tuple[str, ...]
    tasks: tuple[str, ...]
    scores: np.ndarray
    n: int
    rows: tuple[int, ...]


@dataclass(frozen=True)
class ScoreTable:
    """Scores of systems (rows) on tasks (columns); ``NaN`` marks a missing cell.

    Higher is better. ``task_types`` optionally maps a task to its type (for per-type
    means, as MTEB does). ``borda_basis`` (set by the MTEB results-folder reader only) is
    what MTEB's leaderboard ranks Borda on (``BordaBasis``); a table derived from this one
    (a coverage filter, a task subset) has none.
    """

    systems: tuple[str, ...]
    tasks: tuple[str, ...]
    scores: np.ndarray
    task_types: Mapping[str, str] = field(default_factory=dict)
    borda_basis: BordaBasis | None = None

    def __post_init__(self) -> None:
        scores = np.asarray(self.scores, dtype=np.float64)
        if scores.shape != (len(self.systems), len(self.tasks)):
            raise DataFormatError(
                None,
                f"scores shape {scores.shape} does not match "
                f"{len(self.systems)} systems × {len(self.tasks)} tasks",
            )
        if np.isinf(scores).any():
            raise DataFormatError(None, "scores must be finite numbers or NaN (missing)")
        object.__setattr__(self, "scores", scores)
        basis = self.borda_basis
        if basis is not None and (
            len(basis.rows) != len(self.systems)
            or np.shape(basis.scores) != (len(basis.systems), len(basis.tasks))
        ):
            raise DataFormatError(None, "borda_basis does not match the table's systems")

    def with_coverage(self, minimum: float) -> ScoreTable:
        """Only the systems with a score on at least ``minimum`` (a share) of the tasks."""
        if minimum <= 0.0 or not self.tasks:
            return self
        share = (~np.isnan(self.scores)).sum(axis=1) / len(self.tasks)
        keep = share >= minimum - 1e-12
        systems = tuple(s for s, k in zip(self.systems, keep, strict=True) if k)
        return ScoreTable(systems, self.tasks, self.scores[keep], self.task_types)

    def in_name_order(self, tasks: bool = True) -> ScoreTable:
        """The same scores with the systems (and, with ``tasks``, the tasks) sorted by name.

        An aggregator that draws random numbers (or breaks ties) by row or column position
        computes on this table, so that its answer does not depend on the order the table
        happens to list them in (``Ranking.in_order`` puts the answer back in this table's
        order).
        """
        rows = np.argsort(np.array(self.systems, dtype=object), kind="stable")
        cols = np.arange(len(self.tasks))
        if tasks:
            cols = np.argsort(np.array(self.tasks, dtype=object), kind="stable")
        return ScoreTable(
            tuple(self.systems[i] for i in rows),
            tuple(self.tasks[j] for j in cols),
            self.scores[np.ix_(rows, cols)],
            self.task_types,
        )

    @classmethod
    def from_long(
        cls,
        rows: pa.Table | Sequence[Mapping[str, Any]],
        system: str = "system",
        task: str = "task",
        score: str = "score",
        *,
        source: str | None = None,
        lines: Sequence[int] | None = None,
    ) -> ScoreTable:
        """Pivot a long table (one row per system and task) into a ``ScoreTable``.

        A (system, task) pair given twice, an empty system or task name and a score that is
        not a finite number are errors; an empty (None) or NaN score is a missing cell.

        :param source: the file the rows come from, named in errors.
        :param lines: the file line of each row (a CSV file), named in errors instead of
            the row number.
        """
        records = rows.to_pylist() if isinstance(rows, pa.Table) else list(rows)
        systems: dict[str, int] = {}
        tasks: dict[str, int] = {}
        cells: dict[tuple[int, int], float] = {}
        for number, row in enumerate(records, start=1):
            where = RowSource(source, number, lines)
            for key in (system, task, score):
                if key not in row:
                    raise where.error(f"missing column {key!r}")
            s = systems.setdefault(_name(row[system], system, where), len(systems))
            t = tasks.setdefault(_name(row[task], task, where), len(tasks))
            if (s, t) in cells:
                raise where.error(f"second score for {row[system]!r} on {row[task]!r}")
            cells[(s, t)] = _cell(row[score], score, where)
        matrix = np.full((len(systems), len(tasks)), np.nan)
        for (s, t), value in cells.items():
            matrix[s, t] = value
        return cls(tuple(systems), tuple(tasks), matrix)


@dataclass(frozen=True)
class RowSource:
    """Where row ``number`` (from 1) of a table read from ``source`` is: line
    ``lines[number - 1]`` of a text (CSV) file, else the row itself."""

    source: str | None
    number: int
    lines: Sequence[int] | None = None

    def __str__(self) -> str:
        return f"line {self.line}" if self.line is not None else f"row {self.number}"

    @property
    def line(self) -> int | None:
        """The file line, where the rows come from a text file."""
        return self.lines[self.number - 1] if self.lines is not None else None

    def error(self, reason: str) -> DataFormatError:
        """``FILE:LINE: reason`` or ``FILE: row N: reason``."""
        if self.line is not None:
            return DataFormatError(self.source, reason, self.line)
        return DataFormatError(self.source, f"row {self.number}: {reason}")


def _name(value: Any, column: str, where: RowSource) -> str:
    """A system or task name: anything but None or an empty (or blank) string."""
    if value is None or not str(value).strip():
        raise where.error(f"{column} is missing")
    return str(value)


def _cell(value: Any, column: str, where: RowSource) -> float:
    """A score: a finite number; None and NaN mark a missing cell."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise where.error(f"{column} {value!r} is not a number")
    try:
        value = float(value)
    except (OverflowError, ValueError):  # an int beyond float, a signalling Decimal NaN
        value = math.inf
    if math.isinf(value):
        raise where.error(f"{column} {value!r} is not a finite number")
    return value


@dataclass(frozen=True)
class Ranking:
    """An aggregator's answer: per system its rank (1 = best), aggregate score and extras.

    ``extras`` maps a column name (e.g. ``"ci_low"``) to one value per system.
    """

    method: str
    systems: tuple[str, ...]
    scores: np.ndarray
    ranks: np.ndarray
    extras: Mapping[str, Sequence[Any]] = field(default_factory=dict)

    @classmethod
    def from_scores(
        cls, method: str, systems: Sequence[str], scores: Sequence[float], **extras: Any
    ) -> Ranking:
        """Rank by score, highest first; equal scores share the best rank ("1224").

        NaN scores rank last.
        """
        values = np.asarray(scores, dtype=np.float64)
        key = np.where(np.isnan(values), -np.inf, values)
        # 1 + the number of strictly higher scores (one sort, not a loop over systems)
        ranks = (1 + len(key) - np.searchsorted(np.sort(key), key, side="right")).astype(np.int64)
        return cls(method, tuple(systems), values, ranks, extras)

    def in_order(self, systems: Sequence[str]) -> Ranking:
        """The same ranking with its rows (scores, ranks, extras) in the order of ``systems``,
        which must be this ranking's systems."""
        position = {system: i for i, system in enumerate(self.systems)}
        if sorted(position) != sorted(systems) or len(systems) != len(self.systems):
            raise ValueError("in_order needs the ranking's own systems")
        index = [position[system] for system in systems]
        extras = {name: [values[i] for i in index] for name, values in self.extras.items()}
        return Ranking(self.method, tuple(systems), self.scores[index], self.ranks[index], extras)

    def to_table(self) -> pa.Table:
        """Rows sorted by rank: ``rank, system, score`` and the extras."""
        order = np.lexsort((np.array(self.systems, dtype=object).astype(str), self.ranks))
        columns: dict[str, Any] = {
            "rank": self.ranks[order],
            "system": [self.systems[i] for i in order],
            "score": self.scores[order],
        }
        for name, values in self.extras.items():
            columns[name] = [values[i] for i in order]
        return pa.table(columns)
