"""Conformance rules of aggregators (``register_aggregators``), checked on a random score
table of six systems and eight tasks (seed 0; every score distinct).

What an aggregator declares (class or instance attributes, read by the kit):

* ``missing_cells`` (required): how a missing (NaN) cell is treated:
  ``"skip"``: a task counts among the systems scored on it; a system missing a cell is
  still ranked, and a task nobody has a score on changes nothing;
  ``"strict"``: a system missing any cell gets no score (NaN) and ranks after every
  system with all cells;
  ``"tie"``: a missing cell ties with every opponent on its task; a system missing a
  cell is still ranked, and a task nobody has a score on counts as one on which everyone
  scores the same;
  ``"error"``: a table with a missing cell is refused with a one-line ``RankarenaError``.
* ``order_dependence`` (optional, default none): ``("tasks",)``, ``("systems",)`` or both,
  where the result depends on the table's order by design (a sequential tournament playing
  the tasks in the given order). Every other order must not matter.

Rules:

* ``ranks-every-system``: the ranking holds each system once, ranks in 1..n, a higher
  score never with a worse rank;
* ``repeatable``: a new instance with the same parameters (the same seed, where it takes
  one) gives the same ranking and scores;
* ``system-order``, ``task-order``: permuting the rows (columns) changes no system's rank
  or score, unless declared in ``order_dependence``;
* ``unanimity``: a system best on every task ranks first alone; one worst on every task
  has the worst rank given (which it may share: plurality cannot tell losers apart);
* ``missing-cells``: a table with missing cells is handled as ``missing_cells`` declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.host import PluginHost
from ..data.score_table import Ranking, ScoreTable
from ..errors import RankarenaError
from .components import Component, subject
from .rules import Checklist, broken, require

MISSING_CELLS = ("skip", "strict", "tie", "error")
"""The values ``missing_cells`` may declare."""
ORDERS = ("systems", "tasks")
SYSTEMS = tuple(f"system-{c}" for c in "fcadbe")
TASKS = tuple(f"task-{i}" for i in (3, 7, 1, 5, 0, 6, 2, 4))


def sample_table(seed: int = 0) -> ScoreTable:
    """Six systems × eight tasks of distinct scores in (0, 1)."""
    rng = np.random.default_rng(seed)
    return ScoreTable(SYSTEMS, TASKS, rng.permutation(48).reshape(6, 8) / 50 + 0.01)


def _by_system(ranking: Ranking) -> dict[str, tuple[int, float]]:
    return {
        s: (int(r), float(v))
        for s, r, v in zip(ranking.systems, ranking.ranks, ranking.scores, strict=True)
    }


def _same(first: Ranking, second: Ranking, what: str) -> None:
    a, b = _by_system(first), _by_system(second)
    for system in a:
        (ra, va), (rb, vb) = a[system], b.get(system, (None, np.nan))
        same_score = (np.isnan(va) and np.isnan(vb)) or abs(va - vb) <= 1e-9 * max(1, abs(va))
        require(
            ra == rb and same_score,
            f"{system!r} ranks {ra} (score {va:.6g}) on the table but {rb} (score {vb:.6g}) {what}",
        )


def _well_formed(ranking: Ranking, table: ScoreTable) -> None:
    require(isinstance(ranking, Ranking), f"aggregate() returned {type(ranking).__name__}")
    require(
        sorted(ranking.systems) == sorted(table.systems),
        f"ranked {sorted(ranking.systems)}, not the table's systems {sorted(table.systems)}",
    )
    ranks = np.asarray(ranking.ranks)
    n = len(table.systems)
    require(
        len(ranks) == n and bool(((ranks >= 1) & (ranks <= n)).all()),
        f"ranks {ranks.tolist()} are not in 1..{n}",
    )
    scores = np.asarray(ranking.scores, dtype=np.float64)
    for i in range(n):
        for j in range(n):
            if np.isfinite(scores[i]) and np.isfinite(scores[j]) and scores[i] > scores[j]:
                require(
                    ranks[i] < ranks[j],
                    f"{ranking.systems[i]!r} scores higher than {ranking.systems[j]!r} "
                    f"but ranks {ranks[i]} vs {ranks[j]}",
                )


def _permuted(table: ScoreTable, rows: np.ndarray, cols: np.ndarray) -> ScoreTable:
    return ScoreTable(
        tuple(table.systems[i] for i in rows),
        tuple(table.tasks[j] for j in cols),
        table.scores[np.ix_(rows, cols)],
    )


def check_aggregator(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check an aggregator against every rule above; returns the rules passed.

    :param component: a registered aggregator name (``"borda"``) or its factory.
    :param params: the aggregator's parameters.
    :raises ConformanceError: naming each broken rule.
    """
    who = subject("aggregators", component, params, host)
    rules = Checklist(who.label)
    table = sample_table()
    aggregator = who.make()
    first = rules.rule("aggregate", aggregator.aggregate, table)
    if first is None:
        return rules.verdict()
    rules.rule("ranks-every-system", _well_formed, first, table)
    rules.rule("repeatable", lambda: _same(first, who.make().aggregate(table), "a second time"))
    dependence = getattr(aggregator, "order_dependence", ())
    rng = np.random.default_rng(1)
    n, m = table.scores.shape

    def order(axis: str):
        if isinstance(dependence, str) or not set(dependence) <= set(ORDERS):
            broken(f"order_dependence must be a tuple of {ORDERS}, got {dependence!r}")
        if axis in dependence:
            return  # declared: the result may depend on this order
        for _ in range(3):
            rows = rng.permutation(n) if axis == "systems" else np.arange(n)
            cols = rng.permutation(m) if axis == "tasks" else np.arange(m)
            permuted = who.make().aggregate(_permuted(table, rows, cols))
            _same(first, permuted, f"with the {axis} in another order")

    rules.rule("system-order", order, "systems")
    rules.rule("task-order", order, "tasks")

    def unanimity():
        scores = table.scores.copy()
        scores[2] = scores.max(axis=0) + 0.5
        scores[4] = scores.min(axis=0) - 0.5
        ranking = _by_system(who.make().aggregate(ScoreTable(table.systems, table.tasks, scores)))
        best, worst = table.systems[2], table.systems[4]
        firsts = [s for s, (r, _) in ranking.items() if r == 1]
        lowest = max(r for r, _ in ranking.values())
        require(firsts == [best], f"{best!r} is best on every task; rank 1 went to {firsts}")
        require(
            ranking[worst][0] == lowest,
            f"{worst!r} is worst on every task but ranks {ranking[worst][0]}, above rank {lowest}",
        )

    rules.rule("unanimity", unanimity)
    rules.rule("missing-cells", _missing_cells, who, aggregator, table)
    return rules.verdict()


def _missing_cells(who, aggregator, table: ScoreTable) -> None:
    declared = getattr(aggregator, "missing_cells", None)
    if declared not in MISSING_CELLS:
        broken(
            f"declare missing_cells = one of {', '.join(map(repr, MISSING_CELLS))} "
            f"(a class attribute; got {declared!r})"
        )
    holes = table.scores.copy()
    holes[1, 3] = np.nan  # system 1 misses one task
    holed = ScoreTable(table.systems, table.tasks, holes)
    if declared == "error":
        try:
            who.make().aggregate(holed)
        except RankarenaError as error:
            lines = str(error).strip().splitlines()
            require(len(lines) == 1, f"the error for a missing cell has {len(lines)} lines")
            return
        broken("declares missing_cells='error' but ranked a table with a missing cell")
    answer = who.make().aggregate(holed)
    _well_formed(answer, holed)
    ranking = _by_system(answer)
    rank, score = ranking[table.systems[1]]
    if declared == "strict":
        require(
            np.isnan(score), f"missing_cells='strict' but the system missing a cell scored {score}"
        )
        others = [r for s, (r, _) in ranking.items() if s != table.systems[1]]
        require(rank > max(others), f"the system missing a cell ranks {rank}, not last")
        return
    require(np.isfinite(score), "missing_cells='skip' but the system missing a cell got no score")
    blank = np.column_stack([table.scores, np.full(len(table.systems), np.nan)])
    widened = ScoreTable(table.systems, (*table.tasks, "task-nobody"), blank)
    _same(
        who.make().aggregate(table),
        who.make().aggregate(widened),
        "with a task nobody has a score on",
    )
