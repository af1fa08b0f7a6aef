"""One score table, many aggregation rules: the leaderboard with a column per rule.

``build_leaderboard`` runs each named aggregator on the same ``ScoreTable``, optionally with
bootstrap rank intervals (``rankarena.leaderboard.rank_intervals``) or the two-level bootstrap's
intervals, win probabilities and tied groups (``rankarena.leaderboard.uncertainty``), and
measures how much the rules
agree: Kendall's τ-b between every two rules' rankings (Kendall, Biometrika 1938; scipy's
``kendalltau``), computed on the ranks, so that systems an aggregator cannot rank (NaN
scores, ranked last) take part as a tie at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import kendalltau

from ..data.score_table import Ranking, ScoreTable
from ..errors import ParameterError
from .rank_intervals import bootstrap_ranks
from .uncertainty import QueryValues, RankUncertainty, two_level_bootstrap


@dataclass
class Leaderboard:
    """The rankings of one table under several rules (``methods`` in the order asked)."""

    table: ScoreTable
    rankings: dict[str, Ranking]
    intervals: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    uncertainty: dict[str, RankUncertainty] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        """The rules, in the order they were asked for."""
        return list(self.rankings)

    def kendall(self) -> np.ndarray:
        """τ-b between every two rules' rankings: [methods, methods]."""
        ranks = [self.rankings[m].ranks for m in self.methods]
        size = len(ranks)
        tau = np.eye(size)
        for a in range(size):
            for b in range(a + 1, size):
                value = kendalltau(ranks[a], ranks[b]).statistic
                tau[a, b] = tau[b, a] = value
        return tau

    def to_table(self) -> pa.Table:
        """One row per system (ordered by the first rule): per rule rank, score, interval
        (``rank_low``, ``rank_high``) and, with uncertainty, the tied ``group``."""
        first = self.rankings[self.methods[0]]
        order = np.lexsort((np.array(first.systems, dtype=str), first.ranks))
        columns: dict[str, Any] = {"system": [first.systems[i] for i in order]}
        for method, ranking in self.rankings.items():
            columns[f"{method}:rank"] = ranking.ranks[order]
            columns[f"{method}:score"] = ranking.scores[order]
            if method in self.intervals:
                low, high = self.intervals[method]
                columns[f"{method}:rank_low"] = low[order]
                columns[f"{method}:rank_high"] = high[order]
            if method in self.uncertainty:
                columns[f"{method}:group"] = self.uncertainty[method].group[order]
        return pa.table(columns)

    def win_probabilities(self) -> pa.Table:
        """The ``beats`` matrix of every rule with uncertainty, long: ``method, system,
        other, p_beats`` (the share of resamples where ``system`` ranks strictly better
        than ``other``; the diagonal left out)."""
        columns: dict[str, list] = {"method": [], "system": [], "other": [], "p_beats": []}
        for method, found in self.uncertainty.items():
            size = len(found.systems)
            i, j = np.nonzero(~np.eye(size, dtype=bool))
            columns["method"] += [method] * len(i)
            columns["system"] += [found.systems[k] for k in i]
            columns["other"] += [found.systems[k] for k in j]
            columns["p_beats"] += found.beats[i, j].tolist()
        return pa.table(
            columns,
            schema=pa.schema(
                [
                    ("method", pa.string()),
                    ("system", pa.string()),
                    ("other", pa.string()),
                    ("p_beats", pa.float64()),
                ]
            ),
        )


def build_leaderboard(
    table: ScoreTable,
    methods: Sequence[str],
    host,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    progress=None,
    uncertainty: int = 0,
    query_values: QueryValues | None = None,
) -> Leaderboard:
    """Aggregate ``table`` with every rule in ``methods`` (registered aggregator names).

    :param params: per rule, its parameters (``{"swiss": {"tournaments": 10000}}``).
    :param bootstrap: resamples of the tasks for rank intervals (0: none).
    :param uncertainty: resamples of the two-level bootstrap (tasks, then the queries of
        each drawn task that has ``query_values``): rank intervals, win probabilities and
        tied groups at ``level`` (0: none; not together with ``bootstrap``).
    :param progress: called as ``progress(method)`` before each rule (for a progress bar).
    """
    params = params or {}
    if bootstrap > 0 and uncertainty > 0:
        raise ParameterError("leaderboard: use either bootstrap or uncertainty, not both")
    rankings, intervals, found = {}, {}, {}
    for method in methods:
        if progress is not None:
            progress(method)
        aggregator = host.aggregators.create(method, **dict(params.get(method, {})))
        rankings[method] = aggregator.aggregate(table)
        if bootstrap > 0:
            intervals[method] = bootstrap_ranks(aggregator.aggregate, table, bootstrap, seed, level)
        if uncertainty > 0:
            found[method] = two_level_bootstrap(
                aggregator.aggregate, table, query_values, uncertainty, seed, level
            )
            intervals[method] = (found[method].low, found[method].high)
    return Leaderboard(table, rankings, intervals, found)
