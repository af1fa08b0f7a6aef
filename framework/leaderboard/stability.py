"""Stability audits of a leaderboard: how little has to change for its answer to change?

Three audits of one systems × tasks table (or, for one dataset, systems × queries):

* ``fewest_tasks_changing`` — the smallest set of tasks whose removal changes the winner
  (``top_k=1``) or the top-k set, under any aggregation rule (a callable
  ``ScoreTable -> Ranking``). Exact search over task subsets of increasing size while the
  aggregator calls stay within a budget; beyond it a greedy search that gives an upper
  bound, with the exhaustively searched sizes as the lower bound. The question is the one
  of Broderick, Giordano & Meager, "An Automatic Finite-Sample Robustness Metric: When Can
  Dropping a Little Data Make a Big Difference?" (2020, arXiv 2011.14999), asked of a
  leaderboard's tasks instead of a regression's observations; the greedy margin heuristic
  is theirs in spirit (drop first what most favours the current answer).
* ``fewest_queries_changing`` — the same over the queries of one dataset when the ranking
  is the mean over queries (the usual single-dataset leaderboard): exact in
  O(S · |top| · Q log Q) by sorting per-query differences, no search.
* ``missing_data_study`` — how far each rule's ranking moves when a share of the cells of
  the complete table is masked at random: Kendall's τ-b (Kendall, Biometrika 1938; scipy's
  ``kendalltau`` on the ranks) against the rule's complete-data ranking, and how many
  systems the rule can then no longer rank (NaN scores).

Conventions shared by all three: the *top set* of a ranking for ``k`` is the set of systems
with rank ≤ k (``Ranking.ranks``, 1 = best, ties share the best rank), compared *as a set*:
a reordering inside the top k is no change, and a tie at the k-th place puts every tied
system in the top set, so that a tie which appears or breaks across the k-th place is a
change. For ``k = 1`` that is: the set of systems at rank 1 differs (a tie at rank 1 is a
change only if the set differs).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats import kendalltau

from ..data.score_table import Ranking, ScoreTable
from ..errors import ParameterError

Aggregate = Callable[[ScoreTable], Ranking]
DEFAULT_EXACT_BUDGET = 20_000
"""Aggregator calls the exact task search may make (the first, unchanged one included)."""


def top_set(ranking: Ranking, k: int) -> frozenset[str]:
    """The systems with rank ≤ ``k`` (more than ``k`` where a tie crosses the k-th place)."""
    return frozenset(s for s, r in zip(ranking.systems, ranking.ranks, strict=True) if r <= k)


def _check_top_k(top_k: int, systems: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
        raise ParameterError(f"top_k must be a positive integer, got {top_k!r}")
    if top_k >= systems:
        raise ParameterError(
            f"top_k must be below the number of systems ({systems}): a top-{top_k} set of "
            f"{systems} systems cannot change; got {top_k}"
        )


# --------------------------------------------------------------------------- over tasks


@dataclass(frozen=True)
class TaskRemoval:
    """The answer of ``fewest_tasks_changing``.

    :param size: the fewest tasks found whose removal changes the top set; None when none
        was found (``exact``: no removal of up to all but one task changes it).
    :param tasks: the tasks removed (a witness of ``size``; empty when ``size`` is None).
    :param exact: whether ``size`` is the minimum (every smaller subset was tried).
    :param lower_bound: no removal of fewer than this many tasks changes the top set
        (``size`` when exact; the largest size searched exhaustively + 1 otherwise).
    :param top: the top set of the whole table (``top_k`` systems, more with ties).
    :param new_top: the top set once ``tasks`` are removed (empty when ``size`` is None).
    :param calls: aggregator calls made (the exact search and the greedy one together).
    :param margin: what the greedy search minimised: ``"score"``, ``"rank"`` (see
        ``fewest_tasks_changing``) or None (no greedy step was taken).
    """

    top_k: int
    size: int | None
    tasks: tuple[str, ...]
    exact: bool
    lower_bound: int
    top: frozenset[str]
    new_top: frozenset[str]
    calls: int
    margin: str | None = None

    def describe(self) -> str:
        """``2 (exact)``, ``≤ 3 (greedy; ≥ 2)``, ``none (exact)`` or ``none found (greedy;
        ≥ 4)``."""
        if self.size is None:
            return "none (exact)" if self.exact else f"none found (greedy; ≥ {self.lower_bound})"
        if self.exact:
            return f"{self.size} (exact)"
        return f"≤ {self.size} (greedy; ≥ {self.lower_bound})"


def drop_tasks(table: ScoreTable, removed: Sequence[int]) -> ScoreTable:
    """``table`` without the task columns ``removed`` (task types kept, no Borda basis)."""
    keep = np.setdiff1d(np.arange(len(table.tasks)), np.asarray(removed, dtype=np.int64))
    tasks = tuple(table.tasks[i] for i in keep)
    types = {t: table.task_types[t] for t in tasks if t in table.task_types}
    return ScoreTable(table.systems, tasks, table.scores[:, keep], types)


def _scores_comparable(ranking: Ranking) -> bool:
    """Whether the ranking's scores are finite and order the systems as its ranks do."""
    scores, ranks = np.asarray(ranking.scores, dtype=np.float64), np.asarray(ranking.ranks)
    if len(scores) != len(ranks) or not np.isfinite(scores).all():
        return False
    order = np.argsort(ranks, kind="stable")
    r, s = ranks[order], scores[order]
    steps = np.diff(r) > 0
    return bool(np.all(np.diff(s)[steps] < 0) and np.all(np.diff(s)[~steps] == 0))


def _margin(ranking: Ranking, top: frozenset[str], kind: str) -> float:
    """How far the top set is from changing: min over the top set minus max over the rest
    of the scores (``score``), or best rank outside minus worst rank inside (``rank``);
    0 where every system is in the top set (all tied)."""
    inside = np.array([s in top for s in ranking.systems])
    if inside.all():
        return 0.0
    if kind == "score":
        values = np.asarray(ranking.scores, dtype=np.float64)
        return float(values[inside].min() - values[~inside].max())
    ranks = np.asarray(ranking.ranks, dtype=np.float64)
    return float(ranks[~inside].min() - ranks[inside].max())


def fewest_tasks_changing(
    table: ScoreTable,
    aggregate: Aggregate,
    top_k: int = 1,
    exact_budget: int = DEFAULT_EXACT_BUDGET,
    progress: Callable[[int], None] | None = None,
) -> TaskRemoval:
    """The fewest tasks whose removal changes the winner (``top_k=1``) or the top-k set.

    The top set (module docstring) is compared as a set. At least one task must remain.

    Algorithm. The whole table is aggregated once. *Exact*: for s = 1, 2, … every subset of
    s tasks is removed in turn (``itertools.combinations``, table order) while the calls
    made so far plus C(T, s) stay within ``exact_budget``; the first subset that changes
    the top set is a minimum. *Greedy*, once the next size would exceed the budget: from
    the whole table, remove one task at a time, each time trying every remaining task and
    stopping at the first trial that changes the top set, else removing the task whose
    removal leaves the smallest margin of the original top set (ties: the first task):

    * score margin, min of the scores of the top set minus the max of the others' scores
      (for k = 1: the winner's lead over the runner-up), used at a step where every
      trial's scores are finite and order the systems as its ranks do;
    * rank margin otherwise, best rank outside the top set minus worst rank inside.

    Margins are compared only between trials of one step, which all keep the same number
    of tasks, so a rule whose scores scale with the number of tasks (Borda) is fine.

    Bounds. Exhaustive sizes found nothing, so ``lower_bound`` = largest size searched
    exhaustively + 1; the greedy witness is an upper bound, and exact when it equals
    ``lower_bound``. Calls: exact ≤ ``exact_budget``; greedy ≤ T + (T − 1) + … + 2 =
    T(T + 1)/2 − 1 more.

    The table's Borda basis (MTEB results folders) is dropped, so that the whole table
    and every reduced one are aggregated alike.

    :param aggregate: any rule, ``ScoreTable -> Ranking`` (e.g. a plugin's ``aggregate``).
    :param progress: called as ``progress(calls)`` after each aggregator call.
    """
    _check_top_k(top_k, len(table.systems))
    if exact_budget < 1:
        raise ParameterError(f"exact_budget must be at least 1, got {exact_budget}")
    table = ScoreTable(table.systems, table.tasks, table.scores, dict(table.task_types))
    n_tasks = len(table.tasks)
    calls = 0

    def run(removed: Sequence[int]) -> Ranking:
        nonlocal calls
        ranking = aggregate(drop_tasks(table, removed) if removed else table)
        calls += 1
        if progress is not None:
            progress(calls)
        return ranking

    top = top_set(run(()), top_k)

    def answer(removed, ranking, exact, lower, margin=None) -> TaskRemoval:
        names = tuple(table.tasks[i] for i in removed)
        return TaskRemoval(
            top_k, len(removed), names, exact, lower, top, top_set(ranking, top_k), calls, margin
        )

    searched = 0
    for size in range(1, n_tasks):
        if calls + math.comb(n_tasks, size) > exact_budget:
            break
        for removed in itertools.combinations(range(n_tasks), size):
            ranking = run(removed)
            if top_set(ranking, top_k) != top:
                return answer(removed, ranking, True, size)
        searched = size
    else:  # every proper subset tried: nothing changes the top set
        return TaskRemoval(top_k, None, (), True, n_tasks, top, frozenset(), calls)

    lower = searched + 1
    removed: list[int] = []
    kinds: set[str] = set()
    while len(removed) < n_tasks - 1:
        trials = []
        for task in range(n_tasks):
            if task in removed:
                continue
            ranking = run([*removed, task])
            if top_set(ranking, top_k) != top:
                found = sorted([*removed, task])
                margin = "/".join(sorted(kinds)) or None
                return answer(found, ranking, len(found) <= lower, lower, margin)
            trials.append((task, ranking))
        kind = "score" if all(_scores_comparable(r) for _, r in trials) else "rank"
        kinds.add(kind)
        margins = [_margin(r, top, kind) for _, r in trials]
        removed.append(trials[int(np.argmin(margins))][0])
    margin = "/".join(sorted(kinds)) or None
    return TaskRemoval(top_k, None, (), False, lower, top, frozenset(), calls, margin)


# --------------------------------------------------------------------------- over queries


@dataclass(frozen=True)
class QueryRemoval:
    """The answer of ``fewest_queries_changing``.

    :param size: the fewest queries whose removal changes the top set (None: no removal
        of up to all but one query does).
    :param queries: the queries removed (ids where given, else indices).
    :param challenger: the system that catches up with ``against`` once they are removed
        (for a tie at rank 1 broken by one query: the other tied system).
    :param against: the member of the original top set it catches.
    :param exact: False only for ``top_k`` > 1 with a tie across the k-th place (then
        ``size`` is an upper bound).
    :param top: the original top set; ``new_top``: the one after the removal.
    """

    top_k: int
    size: int | None
    queries: tuple[Any, ...]
    challenger: Any
    against: Any
    exact: bool
    top: frozenset[Any]
    new_top: frozenset[Any]


def _ranks_of_sums(sums: np.ndarray) -> np.ndarray:
    """Ranks by ``sums``, highest first, ties sharing the best rank (as ``Ranking``)."""
    return 1 + (sums[None, :] > sums[:, None]).sum(axis=1)


def fewest_queries_changing(
    values: np.ndarray,
    systems: Sequence[Any] | None = None,
    queries: Sequence[Any] | None = None,
    top_k: int = 1,
) -> QueryRemoval:
    """The fewest queries whose removal changes the winner (or top-k set) of the ranking
    by mean over queries, for ``values``: systems × queries per-query metric values.

    Every removal keeps at least one query; all systems keep the same queries, so the mean
    orders as the sum. A change (module docstring) happens iff some c outside the top set
    ends level with or above some w inside it, or (ties at the k-th place) a tie inside
    breaks. For one pair (w, c), with d_i = w_i − c_i and D = Σ_i d_i > 0, removing the set
    R leaves w − c = D − Σ_{i∈R} d_i.

    Claim: for a fixed pair and every size k, removing the k largest d_i is optimal.
    Proof: for any |R| = k, Σ_{i∈R} d_i ≤ (sum of the k largest d_i), so if some R of size
    k brings c level (D − Σ_R d_i ≤ 0), the k largest do too. ∎

    So the minimum for a pair is the first k < Q with (cumulative sum of the sorted d) ≥ D,
    and the answer is the minimum over the pairs (w in the top set, c outside). For
    ``top_k=1`` with tied winners, removing one query on which they differ breaks the tie
    and so changes the set (size 1). For ``top_k`` > 1 a tie across the k-th place may or
    may not change the set when it breaks; that case is not searched (``exact`` False, the
    pairwise size is an upper bound). Cost O(|top| · S · Q log Q), memory O(S · Q).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ParameterError(f"values must be systems × queries, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ParameterError("values must be finite (per-query metric values, none missing)")
    n_systems, n_queries = values.shape
    names = list(systems) if systems is not None else list(range(n_systems))
    ids = list(queries) if queries is not None else list(range(n_queries))
    if len(names) != n_systems or len(ids) != n_queries:
        raise ParameterError("systems and queries must name the rows and columns of values")
    _check_top_k(top_k, n_systems)
    sums = values.sum(axis=1)
    ranks = _ranks_of_sums(sums)
    inside = np.flatnonzero(ranks <= top_k)
    outside = np.flatnonzero(ranks > top_k)
    top = frozenset(names[i] for i in inside)
    exact = len(inside) == top_k or top_k == 1

    def answer(removed: Sequence[int], challenger: int, against: int) -> QueryRemoval:
        keep = np.setdiff1d(np.arange(n_queries), removed)
        new_ranks = _ranks_of_sums(values[:, keep].sum(axis=1))
        new_top = frozenset(names[i] for i in np.flatnonzero(new_ranks <= top_k))
        return QueryRemoval(
            top_k,
            len(removed),
            tuple(ids[i] for i in sorted(removed)),
            names[challenger],
            names[against],
            exact,
            top,
            new_top,
        )

    if n_queries < 2:
        return QueryRemoval(top_k, None, (), None, None, True, top, frozenset())
    if top_k == 1 and len(inside) > 1:
        differ = np.flatnonzero(np.ptp(values[inside], axis=0) > 0)
        if len(differ):
            column = values[inside, differ[0]]
            return answer([int(differ[0])], inside[np.argmax(column)], inside[np.argmin(column)])
    best: tuple[int, int, int, np.ndarray] | None = None  # size, challenger, against, order
    for w in inside:
        d = values[w][None, :] - values[outside]  # [outside, queries]
        order = np.argsort(-d, axis=1, kind="stable")
        reach = np.cumsum(np.take_along_axis(d, order, axis=1), axis=1)[:, : n_queries - 1]
        enough = reach >= d.sum(axis=1, keepdims=True)
        possible = enough.any(axis=1)
        if not possible.any():
            continue
        first = np.where(possible, enough.argmax(axis=1), n_queries)
        c = int(np.argmin(first))
        if best is None or first[c] + 1 < best[0]:
            best = (int(first[c]) + 1, int(outside[c]), int(w), order[c])
    if best is None:
        return QueryRemoval(top_k, None, (), None, None, exact, top, frozenset())
    size, challenger, against, order = best
    return answer([int(i) for i in order[:size]], challenger, against)


def fewest_queries_changing_winner(
    values: np.ndarray,
    systems: Sequence[Any] | None = None,
    queries: Sequence[Any] | None = None,
) -> QueryRemoval:
    """``fewest_queries_changing`` with ``top_k=1``: the winner by mean over queries."""
    return fewest_queries_changing(values, systems, queries, top_k=1)


# --------------------------------------------------------------------------- missing data


@dataclass
class MissingDataStudy:
    """The answer of ``missing_data_study``: one row per rule and share.

    Row keys: ``rule, share, masked`` (cells masked), ``repeats``, ``tau_mean``,
    ``tau_sd`` (sample sd, ddof = 1; 0 for one repeat), ``tau_min``, ``unranked_mean``,
    ``unranked_max`` (systems with a NaN score), ``systems``, ``tasks`` (of the complete
    part). ``taus`` keeps every τ: ``{(rule, share): [τ per repeat]}``.
    """

    rows: list[dict[str, Any]]
    taus: dict[tuple[str, float], list[float]] = field(default_factory=dict)

    def to_table(self) -> pa.Table:
        """The rows as an Arrow table."""
        return pa.Table.from_pylist(self.rows)


def complete_part(table: ScoreTable) -> ScoreTable:
    """The systems with a score on every task (no Borda basis)."""
    keep = ~np.isnan(table.scores).any(axis=1)
    systems = tuple(s for s, k in zip(table.systems, keep, strict=True) if k)
    return ScoreTable(systems, table.tasks, table.scores[keep], dict(table.task_types))


def missing_data_study(
    table: ScoreTable,
    rules: Mapping[str, Aggregate],
    shares: Sequence[float] = (0.1, 0.2, 0.3),
    repeats: int = 20,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> MissingDataStudy:
    """How each rule's ranking moves when a share of the cells goes missing at random.

    Restrict ``table`` to its complete part (systems with every task); rank it with every
    rule. For each repeat r, draw one permutation of the N = S·T cells with
    ``numpy.random.default_rng([seed, r])`` and, for each share p, mask its first
    round(p·N) cells (so the masks of one repeat are nested across shares, and every rule
    sees the same masked tables: common random numbers). Aggregate each masked table with
    each rule; τ-b (``scipy.stats.kendalltau`` on the rank vectors, ties as a tie at the
    bottom for systems a rule cannot rank) against that rule's complete-data ranking;
    τ = 1 exactly where the rank vectors are equal.
    Report mean, sample sd and min of τ over the repeats (NaN where a ranking is all tied)
    and the mean and max of the systems the rule could not rank (NaN scores).

    :param progress: called as ``progress(rule)`` before each rule.
    """
    shares = [float(p) for p in shares]
    if any(not 0.0 <= p < 1.0 for p in shares):
        raise ParameterError(f"shares must be in [0, 1), got {shares}")
    if repeats < 1:
        raise ParameterError(f"repeats must be at least 1, got {repeats}")
    if not rules:
        raise ParameterError("missing_data_study needs at least one rule")
    complete = complete_part(table)
    n_systems, n_tasks = complete.scores.shape
    if n_systems < 2 or n_tasks < 1:
        raise ParameterError(
            f"the complete part of the table has {n_systems} systems × {n_tasks} tasks; "
            "the study needs at least 2 systems with every task"
        )
    cells = n_systems * n_tasks
    masks = []  # [repeat][share] -> masked table
    for r in range(repeats):
        order = np.random.default_rng([seed, r]).permutation(cells)
        per_share = []
        for p in shares:
            scores = complete.scores.copy().reshape(-1)
            scores[order[: round(p * cells)]] = np.nan
            per_share.append(
                ScoreTable(
                    complete.systems,
                    complete.tasks,
                    scores.reshape(n_systems, n_tasks),
                    complete.task_types,
                )
            )
        masks.append(per_share)
    rows, taus = [], {}
    for name, aggregate in rules.items():
        if progress is not None:
            progress(name)
        reference = aggregate(complete).ranks
        for j, p in enumerate(shares):
            tau, unranked = [], []
            for r in range(repeats):
                ranking = aggregate(masks[r][j])
                if np.array_equal(reference, ranking.ranks):
                    tau.append(1.0)  # the same ranking (scipy may say 0.9999999999999997)
                else:
                    tau.append(float(kendalltau(reference, ranking.ranks).statistic))
                unranked.append(int(np.isnan(np.asarray(ranking.scores, dtype=float)).sum()))
            values = np.asarray(tau)
            taus[(name, p)] = tau
            rows.append(
                {
                    "rule": name,
                    "share": p,
                    "masked": round(p * cells),
                    "repeats": repeats,
                    "tau_mean": float(values.mean()),
                    "tau_sd": float(values.std(ddof=1)) if repeats > 1 else 0.0,
                    "tau_min": float(values.min()),
                    "unranked_mean": float(np.mean(unranked)),
                    "unranked_max": int(max(unranked)),
                    "systems": n_systems,
                    "tasks": n_tasks,
                }
            )
    return MissingDataStudy(rows, taus)
