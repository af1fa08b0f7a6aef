"""Built-in social-choice aggregators: tasks vote on systems (Vote'n'Rank).

Each task is a voter that ranks the systems by their score on it (higher is better); a
voting rule turns these rankings into one leaderboard. The rules and their definitions
follow M. Rofin, V. Mikhailov, M. Florinsky, A. Kravchenko, E. Tutubalina, T. Shavrina,
D. Karabekyan and E. Artemova, "Vote'n'Rank: Revision of Benchmarking with Social Choice
Theory", EACL 2023 (code: github.com/PragmaticsLab/vote_and_rank):

* ``plurality``: weighted number of tasks that rank the system first;
* ``dowdall``: Σ_t w_t / position_t (the Nauru / Dowdall rule);
* ``threshold``: fewest last places, then fewest second-to-last, ... (Aleskerov et al.);
* ``baldwin``: repeatedly drop the system with the lowest Borda score;
* ``condorcet``: the Condorcet winner, systems ranked by pairwise majority wins;
* ``copeland``: pairwise majority wins − losses;
* ``minimax``: the smallest worst pairwise defeat (Simpson-Kramer).

Common conventions (``docs/social-choice.md`` has the details):

* **Missing scores.** A task ranks only the systems with a score on it: positions are
  counted among those present, and a system missing on a task gets no points from it and
  is not compared with anyone on it. A system with no score at all gets a NaN score and
  ranks last.
* **Coverage.** ``min_coverage`` leaves out the systems scored on too little of the task
  weight (they get NaN), for rules such as ``threshold`` and ``minimax`` that favour
  systems evaluated on few tasks.
* **Task weights.** ``task_weights`` gives each task a weight (default 1); every rule is
  linear in the voters, so a weight of 2 equals the task given twice and a weight of 0
  drops the task.
* **Two-step mode.** ``groups="task_type"`` (or a mapping task → group) first aggregates
  within each group with the same rule; each group's ranking is then one voter (weight
  ``group_weights[g]``, default 1) in a second aggregation, as the paper's
  ``two_step_ranking`` does.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

import rankarena
from rankarena import ParameterError, Ranking, ScoreTable
from rankarena.api import aggregation
from rankarena.api.checks import check_choice, did_you_mean

__all__ = [
    "Baldwin",
    "Condorcet",
    "Copeland",
    "Dowdall",
    "Groups",
    "Minimax",
    "Plurality",
    "Scored",
    "Threshold",
    "VotingRule",
    "Weights",
    "majority",
    "majority_of",
    "rank_lexicographic",
    "snap",
    "strict_wins",
    "subtable",
    "task_positions",
    "tolerance",
]

GROUPINGS = ("task_type",)
MINIMAX_VARIANTS = ("winning_votes", "margins", "pairwise_opposition")

Weights = dict[str, float] | list[float] | None
Groups = str | dict[str, str] | None
Scored = tuple[np.ndarray, dict[str, list[Any]]]
"""What a rule's ``_score`` returns: one score per system (higher is better) and extras."""


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_weight(value: object) -> bool:
    return _is_number(value) and math.isfinite(value) and value >= 0


def tolerance(weights: np.ndarray) -> float:
    """Float slack for comparing weighted sums: 1e-9 of the total weight (at least 1e-9)."""
    return 1e-9 * max(1.0, float(np.sum(weights)))


def snap(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Round weighted sums to 12 significant digits of the total weight.

    Mathematically equal sums computed in different orders (a task of weight 2 versus the
    same task twice) then compare equal, so they share a rank.
    """
    scale = max(1.0, float(np.sum(weights)))
    return np.round(values, max(0, 12 - math.ceil(math.log10(scale))))


def subtable(
    table: ScoreTable, rows: np.ndarray | None = None, cols: np.ndarray | None = None
) -> ScoreTable:
    """The ``ScoreTable`` restricted to the given row and column indices (all by default)."""
    rows = np.arange(len(table.systems)) if rows is None else np.asarray(rows, dtype=np.int64)
    cols = np.arange(len(table.tasks)) if cols is None else np.asarray(cols, dtype=np.int64)
    tasks = tuple(table.tasks[c] for c in cols)
    types = {t: table.task_types[t] for t in tasks if t in table.task_types}
    return ScoreTable(
        tuple(table.systems[r] for r in rows), tasks, table.scores[np.ix_(rows, cols)], types
    )


def task_positions(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per task, each system's position among the systems that have a score on it.

    Returns ``(best, worst, present)``: ``best[i, t]`` = 1 + #systems strictly better than
    i on t (ties share the best position, "1224"), ``worst[i, t]`` = #systems at least as
    good as i (ties share the worst position, "1334"), both NaN where i has no score, and
    ``present[t]`` = number of systems with a score on t.
    """
    present_mask = ~np.isnan(scores)
    best = np.full(scores.shape, np.nan)
    worst = np.full(scores.shape, np.nan)
    for t in range(scores.shape[1]):
        rows = np.flatnonzero(present_mask[:, t])
        values = scores[rows, t]
        ordered = np.sort(values)
        m = len(values)
        best[rows, t] = 1 + m - np.searchsorted(ordered, values, side="right")
        worst[rows, t] = m - np.searchsorted(ordered, values, side="left")
    return best, worst, present_mask.sum(axis=0)


def strict_wins(table: ScoreTable, weights: np.ndarray, who: str = "pairwise wins") -> np.ndarray:
    """``W[i, j]`` = Σ_t w_t [i scores strictly higher than j on t], over tasks with both.

    ``W[i, j]`` is the weighted number of voters preferring i to j; ties count for neither
    (``rankarena.leaderboard.pairwise.strict_wins``: built by blocks of systems; ``who`` names the
    caller in the one-line refusal when the matrices would not fit in memory).
    """
    return aggregation.strict_wins(table, weights, who=who)


def majority(table: ScoreTable, weights: np.ndarray, who: str = "pairwise majority") -> np.ndarray:
    """Pairwise majority as int8: ``+1`` where i beats j (more weight prefers i to j than j
    to i, over the tasks comparing them), ``−1`` where j beats i, 0 for a tie or no task
    comparing them (and on the diagonal). ``who`` names the caller in a memory refusal."""
    return majority_of(aggregation.preference_matrix(table, weights, who=who), tolerance(weights))


def majority_of(prefs: np.ndarray, tol: float) -> np.ndarray:
    """``majority`` from the preference matrix P: with margin = P − Pᵀ, +1 where
    margin > tol, −1 where margin < −tol, else 0 (int8)."""
    margin = prefs - prefs.T
    beats = np.greater(margin, tol).view(np.int8)
    beats -= np.less(margin, -tol).view(np.int8)
    return beats


def rank_lexicographic(keys: np.ndarray) -> np.ndarray:
    """Score rows of ``keys`` so that the lexicographically smallest row scores highest.

    A system's score is the number of systems whose key row is lexicographically larger
    (strictly worse), so equal rows share a score and ``Ranking.from_scores`` gives them
    the same rank.
    """
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    worse = len(keys) - np.cumsum(counts)  # systems in groups after group g
    return worse[np.asarray(inverse).ravel()].astype(np.float64)


# --------------------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------------------


def _one_line(value: object) -> str:
    """``repr(value)`` on one line (error messages are one line)."""
    return " ".join(repr(value).split())


def _check_weight_parameter(where: str, name: str, value: object, keyed_only: bool) -> None:
    """A weight parameter: None, a mapping name → weight, or (unless keyed_only) a list."""
    if value is None:
        return
    if isinstance(value, Mapping):
        bad = {k: v for k, v in value.items() if not isinstance(k, str) or not _is_weight(v)}
    elif isinstance(value, (list, tuple, np.ndarray)) and not keyed_only:
        bad = [v for v in value if not _is_weight(v)]
    else:
        kinds = "a mapping name → weight" + ("" if keyed_only else " or a list of weights")
        raise ParameterError(f"{where}: {name} must be {kinds} or None, got {_one_line(value)}")
    if bad:
        raise ParameterError(f"{where}: {name} must be finite numbers >= 0; bad: {_one_line(bad)}")


def _check_groups(where: str, groups: object) -> None:
    if groups is None:
        return
    if isinstance(groups, str):
        if groups not in GROUPINGS:
            raise ParameterError(
                f"{where}: groups must be {', '.join(map(repr, GROUPINGS))}, a mapping "
                f"task → group, or None; got {groups!r}{did_you_mean(groups, GROUPINGS)}"
            )
        return
    if not isinstance(groups, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in groups.items()
    ):
        raise ParameterError(
            f"{where}: groups must be 'task_type', a mapping task → group name, or None; "
            f"got {groups!r}"
        )


def _unknown_names(where: str, param: str, noun: str, given: Sequence[str], known: Sequence[str]):
    """A one-line ParameterError when ``given`` names something not in ``known``."""
    unknown = [name for name in given if name not in known]
    if unknown:
        shown = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
        raise ParameterError(
            f"{where}: {param} names unknown {noun}(s) {', '.join(map(repr, unknown))}"
            f"{did_you_mean(unknown[0], known)}; {noun}s: {shown or 'none'}"
        )


# --------------------------------------------------------------------------------------
# The shared driver
# --------------------------------------------------------------------------------------


class VotingRule:
    """Base class of the social-choice aggregators: tasks are voters ranking the systems.

    Subclasses set ``method`` and implement ``_score(table, weights)``, which sees only
    systems with at least one score and only tasks with a positive weight. This class
    resolves the weights, drops zero-weight tasks, runs the two-step mode and gives
    systems without any score a NaN score (ranked last).

    :param task_weights: weight per task: a mapping task → weight (unlisted tasks weigh
        1) or a list aligned with the table's tasks; None weighs every task 1.
    :param groups: ``"task_type"`` (the table's ``task_types``) or a mapping task → group
        name: aggregate within each group first, then across the groups' rankings with the
        same rule. None aggregates the tasks directly.
    :param group_weights: weight per group in the second step (mapping group → weight,
        unlisted groups weigh 1); only with ``groups``.
    :param min_coverage: leave out (NaN score, ranked last) every system whose scored tasks
        carry less than this fraction of the total task weight, before aggregating (0 to
        1; default 0 keeps every system with a score; 1 keeps only complete rows).
    """

    method: ClassVar[str] = "voting-rule"
    missing_cells: ClassVar[str] = "skip"
    """A task ranks only the systems scored on it (the conformance kit's declaration)."""

    def __init__(
        self,
        task_weights: Weights = None,
        groups: Groups = None,
        group_weights: dict[str, float] | None = None,
        min_coverage: float = 0.0,
    ):
        _check_weight_parameter(self._where, "task_weights", task_weights, keyed_only=False)
        _check_groups(self._where, groups)
        _check_weight_parameter(self._where, "group_weights", group_weights, keyed_only=True)
        if group_weights is not None and groups is None:
            raise ParameterError(f"{self._where}: group_weights needs groups to be set")
        if not _is_number(min_coverage) or not 0.0 <= min_coverage <= 1.0:
            raise ParameterError(
                f"{self._where}: min_coverage must be in [0, 1], got {min_coverage!r}"
            )
        self.min_coverage = float(min_coverage)
        self.task_weights = task_weights
        self.groups = groups
        self.group_weights = group_weights

    @property
    def _where(self) -> str:
        return f"aggregator {self.method!r}"

    # -- the public entry point -------------------------------------------------------

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank ``scores.systems`` with the rule (in two steps when ``groups`` is set)."""
        weights = self._weights_vector(scores)
        scores = self._covered(scores, weights)
        if self.groups is None:
            keep = np.flatnonzero(weights > 0)
            return self._rank(subtable(scores, cols=keep), weights[keep])
        return self._two_step(scores, weights)

    # -- weights and groups -------------------------------------------------------------

    def _weights_vector(self, table: ScoreTable) -> np.ndarray:
        """One weight per task of ``table`` from ``task_weights``."""
        given = self.task_weights
        if given is None:
            return np.ones(len(table.tasks))
        if isinstance(given, Mapping):
            _unknown_names(self._where, "task_weights", "task", list(given), table.tasks)
            return np.array([float(given.get(t, 1.0)) for t in table.tasks])
        if len(given) != len(table.tasks):
            raise ParameterError(
                f"{self._where}: task_weights has {len(given)} weights for "
                f"{len(table.tasks)} tasks; give one per task or a mapping task → weight"
            )
        return np.asarray(given, dtype=np.float64)

    def _covered(self, table: ScoreTable, weights: np.ndarray) -> ScoreTable:
        """``table`` with the rows below ``min_coverage`` blanked out (all NaN).

        coverage(i) = Σ_t w_t [i has a score on t] / Σ_t w_t.
        """
        if self.min_coverage == 0.0 or weights.sum() == 0:
            return table
        coverage = (~np.isnan(table.scores)).astype(np.float64) @ weights / weights.sum()
        low = coverage < self.min_coverage - 1e-12
        if not low.any():
            return table
        scores = table.scores.copy()
        scores[low] = np.nan
        return ScoreTable(table.systems, table.tasks, scores, table.task_types)

    def _group_of_tasks(self, table: ScoreTable) -> list[str]:
        """The group name of every task of ``table``."""
        if isinstance(self.groups, str):  # "task_type"
            mapping, source = table.task_types, "the table's task_types"
        else:
            mapping, source = self.groups, "groups"
            _unknown_names(self._where, "groups", "task", list(mapping), table.tasks)
        lacking = [t for t in table.tasks if t not in mapping]
        if lacking:
            shown = ", ".join(map(repr, lacking[:5])) + (" ..." if len(lacking) > 5 else "")
            raise ParameterError(
                f"{self._where}: {source} gives no group for {len(lacking)} task(s): {shown}"
            )
        return [str(mapping[t]) for t in table.tasks]

    def _two_step(self, table: ScoreTable, weights: np.ndarray) -> Ranking:
        """Rank within each group, then rank the groups' rankings as voters."""
        group_of = np.array(self._group_of_tasks(table), dtype=object)
        names = list(dict.fromkeys(group_of))
        given = self.group_weights or {}
        _unknown_names(self._where, "group_weights", "group", list(given), names)
        columns, group_w, kept = [], [], []
        for name in names:
            cols = np.flatnonzero((group_of == name) & (weights > 0))
            weight = float(given.get(name, 1.0))
            if len(cols) == 0 or weight == 0:
                continue  # a group without weight is dropped, like a zero-weight task
            inner = self._rank(subtable(table, cols=cols), weights[cols])
            columns.append(inner.scores)
            group_w.append(weight)
            kept.append(name)
        matrix = np.column_stack(columns) if columns else np.empty((len(table.systems), 0))
        meta = ScoreTable(table.systems, tuple(kept), matrix)
        return self._rank(meta, np.asarray(group_w, dtype=np.float64))

    # -- one aggregation ------------------------------------------------------------------

    def _rank(self, table: ScoreTable, weights: np.ndarray) -> Ranking:
        """Score the systems with a score somewhere; the others get NaN and ``None`` extras."""
        active = np.flatnonzero(~np.isnan(table.scores).all(axis=1))
        n = len(table.systems)
        result = np.full(n, np.nan)
        extras: dict[str, list[Any]] = {}
        values, columns = self._score(subtable(table, rows=active), weights)
        result[active] = snap(np.asarray(values, dtype=np.float64), weights)
        for name, column in columns.items():
            full: list[Any] = [None] * n
            for i, value in zip(active, column, strict=True):
                full[i] = value
            extras[name] = full
        return Ranking.from_scores(self.method, table.systems, result, **extras)

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        """Scores (higher is better) and extras columns for systems that all have a score."""
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# Positional rules
# --------------------------------------------------------------------------------------


class Plurality(VotingRule):
    """Plurality: score = weighted number of tasks that rank the system first.

    score(i) = Σ_t w_t · [i is first on t] / k_t, where k_t is the number of systems tied
    at the top of task t: a tie at the top splits the task's vote equally (Vote'n'Rank's
    code gives a shared first place no vote at all; splitting keeps each task's total
    vote at w_t). Only the systems with a score on t compete on t. Rofin et al.,
    "Vote'n'Rank: Revision of Benchmarking with Social Choice Theory", EACL 2023.

    Cost: O(n T log n) time (a sort per task), O(n T) memory.
    """

    method = "plurality"

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        best, _, _ = task_positions(table.scores)
        top = best == 1
        share = top / np.maximum(top.sum(axis=0), 1)
        return share @ weights, {}


class Dowdall(VotingRule):
    """Dowdall (Nauru) rule: score = Σ_t w_t / position_t(system).

    position_t(i) = 1 + the number of systems with a strictly higher score on t (ties
    share the best position, "1224", as Vote'n'Rank's ``ranks``); positions count only the
    systems with a score on t, and a missing score earns nothing. B. Reilly, "Social choice
    in the South Seas: electoral innovation and the Borda count in the Pacific Island
    countries", International Political Science Review 23(4), 2002; Rofin et al.,
    "Vote'n'Rank", EACL 2023.

    Cost: O(n T log n) time (a sort per task), O(n T) memory.
    """

    method = "dowdall"

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        best, _, _ = task_positions(table.scores)
        points = np.where(np.isnan(best), 0.0, 1.0 / np.where(np.isnan(best), 1.0, best))
        return points @ weights, {}


class Threshold(VotingRule):
    """Threshold rule: fewest last places wins; ties broken by second-to-last places, etc.

    v_d(i) = Σ_t w_t [i is d places above the bottom of task t] (d = 0: last), where the
    place counts only the systems with a score on t and tied systems share the *worst*
    place (Vote'n'Rank's ``max_ranks``). Systems are ordered by (v_0, v_1, v_2, ...)
    lexicographically, smallest first. The reported score is the number of systems with a
    strictly worse vector; ``last_places`` = v_0. F. Aleskerov, V. Chistyakov and V.
    Kalyagin, "The threshold aggregation", Economics Letters 107(2), 2010; Rofin et al.,
    "Vote'n'Rank", EACL 2023 (which ranks only the winners; the full lexicographic order
    is the natural ranking).

    A missing score is no placement at all, so it can never be a bad one: with many
    missing cells, systems evaluated on few tasks are favoured (see the docs).

    Cost: O(n T log n) time for the places, then the n × n place counts (O(n²) memory,
    800 MB at 10,000 systems) sorted lexicographically (O(n² log n)).
    """

    method = "threshold"
    PLACE_MATRICES = 5
    """systems × places float64 matrices held at once (counts, keys, the sort's copies;
    4.3 GiB measured at 10,000 systems), for the memory estimate."""

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        _, worst, present = task_positions(table.scores)
        from_bottom = present[None, :] - worst  # 0 = last place; NaN where missing
        depth = int(present.max()) if len(present) else 0
        needed = self.PLACE_MATRICES * 8 * len(table.systems) * max(depth, 1)
        aggregation.require_memory(self._where, needed, table, "place counts and their sort")
        counts = np.zeros((len(table.systems), max(depth, 1)))
        rows, cols = np.nonzero(~np.isnan(from_bottom))
        np.add.at(counts, (rows, from_bottom[rows, cols].astype(np.int64)), weights[cols])
        keys = np.round(counts / max(float(weights.sum()), 1e-300), 9)
        return rank_lexicographic(keys), {"last_places": counts[:, 0].tolist()}


# --------------------------------------------------------------------------------------
# Borda elimination
# --------------------------------------------------------------------------------------


class Baldwin(VotingRule):
    """Baldwin's rule: drop the lowest Borda score, recompute Borda among the rest, repeat.

    Borda among a set R: B_R(i) = Σ_t w_t · #{j ∈ R with a score on t: s_jt < s_it}, the
    number of remaining systems placed strictly below i (Vote'n'Rank's n − max_rank; ties
    earn nothing from each other, a missing score earns nothing). Each round removes every
    system whose Borda score equals the round's minimum (ties leave together) until the
    remaining systems all have equal Borda scores. The order is the reverse elimination
    order: score = the round in which the system left (the survivors get the last round),
    so a later exit ranks higher; ``borda`` is the Borda score over all systems. J. M.
    Baldwin, "The technique of the Nanson preferential majority system of election",
    Proceedings of the Royal Society of Victoria 39, 1926; Rofin et al., "Vote'n'Rank",
    EACL 2023.

    Cost: O(n² T) for the wins (``strict_wins``, in blocks), then O(n²) for all rounds
    together: a round subtracts the leavers' columns from the Borda scores, and every
    ``RECOUNT_EVERY`` rounds recounts them (a matrix-vector product) so that the rounding
    of the subtractions never builds up: O(n³ / RECOUNT_EVERY) for the recounts.
    """

    method = "baldwin"
    RECOUNT_EVERY = 64

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        wins = strict_wins(table, weights, self._where)
        tol = tolerance(weights)
        remaining = np.ones(len(table.systems), dtype=bool)
        rounds = np.zeros(len(table.systems))
        total = wins.sum(axis=1)
        borda, current = total.copy(), 1
        while remaining.any():
            alive = borda[remaining]
            if alive.max() - alive.min() <= tol:
                rounds[remaining] = current
                break
            out = remaining & (borda <= alive.min() + tol)
            rounds[out] = current
            remaining &= ~out
            if current % self.RECOUNT_EVERY:  # B_R(i) loses what i won against the leavers
                borda -= wins[:, out].sum(axis=1)
            else:  # a fresh sum now and then keeps the subtractions' rounding bounded
                borda = wins @ remaining.astype(np.float64)
            current += 1
        return rounds, {"borda": total.tolist()}


# --------------------------------------------------------------------------------------
# Pairwise-majority rules
# --------------------------------------------------------------------------------------


class Condorcet(VotingRule):
    """Condorcet: the system that beats every other one by pairwise majority, if any.

    i beats j by majority when Σ_t w_t [s_it > s_jt] > Σ_t w_t [s_jt > s_it] over the tasks
    where both have a score (ties and missing cells count for neither). The Condorcet rule
    elects only a winner; as a full ranking, systems are scored by their number of pairwise
    majority wins (a Condorcet winner has all n − 1 of them, so it alone ranks first).
    ``condorcet_winner`` flags it (all False when there is none, e.g. in a cycle);
    ``majority_losses`` counts defeats. Marquis de Condorcet, "Essai sur l'application de
    l'analyse à la probabilité des décisions rendues à la pluralité des voix", 1785; Rofin
    et al., "Vote'n'Rank", EACL 2023.

    Cost: O(n² T) time for the pairwise matrix, built in blocks of rows
    (``rankarena.leaderboard.pairwise``), then O(n²); memory O(n²) (a few n × n float64
    matrices: 3 GiB at 10,000 systems), never the n × n × T comparison tensor.
    """

    method = "condorcet"

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        beats = majority(table, weights, self._where)
        wins = (beats > 0).sum(axis=1)
        losses = (beats < 0).sum(axis=1)
        winner = wins == len(table.systems) - 1
        return wins.astype(np.float64), {
            "condorcet_winner": winner.tolist(),
            "majority_losses": losses.tolist(),
        }


class Copeland(VotingRule):
    """Copeland: score = #pairwise majority wins − #pairwise majority losses.

    Majority as in ``condorcet``: over the tasks comparing them, the weight of tasks
    preferring i to j against the weight preferring j to i; a majority tie (or a pair never
    compared) counts 0. This is Vote'n'Rank's ``slice_type="difference"``, the variant its
    experiments use. A. H. Copeland, "A 'reasonable' social welfare function", University
    of Michigan seminar, 1951; Rofin et al., "Vote'n'Rank", EACL 2023.

    Cost: O(n² T) time for the pairwise matrix, built in blocks of rows
    (``rankarena.leaderboard.pairwise``), then O(n²); memory O(n²) (a few n × n float64
    matrices: 3 GiB at 10,000 systems), never the n × n × T comparison tensor.
    """

    method = "copeland"

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        beats = majority(table, weights, self._where)
        wins = (beats > 0).sum(axis=1)
        losses = (beats < 0).sum(axis=1)
        return (wins - losses).astype(np.float64), {
            "wins": wins.tolist(),
            "losses": losses.tolist(),
        }


class Minimax(VotingRule):
    """Minimax (Simpson-Kramer): the system whose worst pairwise defeat is smallest wins.

    With W[j, i] = Σ_t w_t [s_jt > s_it] (weight of tasks preferring j to i, both present),
    score(i) = − max_{j ≠ i} d(j, i), where d is, by ``variant``:

    * ``winning_votes`` (default, Vote'n'Rank's choice): d(j, i) = W[j, i] if j beats i by
      majority (W[j, i] > W[i, j]), else 0;
    * ``margins``: d(j, i) = W[j, i] − W[i, j];
    * ``pairwise_opposition``: d(j, i) = W[j, i] (with ties or missing scores this variant
      can miss a Condorcet winner).

    ``worst_defeat_by`` names the opponent j attaining the maximum (None when no one beats
    the system). P. B. Simpson, "On defining areas of voter choice", Quarterly Journal of
    Economics 83(3), 1969; G. H. Kramer, "A dynamical model of political equilibrium",
    Journal of Economic Theory 16(2), 1977; Rofin et al., "Vote'n'Rank", EACL 2023.

    :param variant: ``winning_votes``, ``margins`` or ``pairwise_opposition``.
    :param task_weights: and ``groups``, ``group_weights``, ``min_coverage``: as in
        ``VotingRule``.

    Cost: O(n² T) time for the pairwise matrix, built in blocks of rows
    (``rankarena.leaderboard.pairwise``), then O(n²); memory O(n²) (a few n × n float64
    matrices: 3 GiB at 10,000 systems), never the n × n × T comparison tensor.
    """

    method = "minimax"

    def __init__(
        self,
        variant: str = "winning_votes",
        task_weights: Weights = None,
        groups: Groups = None,
        group_weights: dict[str, float] | None = None,
        min_coverage: float = 0.0,
    ):
        check_choice(self._where, "variant", variant, MINIMAX_VARIANTS)
        super().__init__(
            task_weights=task_weights,
            groups=groups,
            group_weights=group_weights,
            min_coverage=min_coverage,
        )
        self.variant = variant

    def _score(self, table: ScoreTable, weights: np.ndarray) -> Scored:
        wins = strict_wins(table, weights, self._where)  # wins[j, i]: weight preferring j to i
        against = wins - wins.T
        tol = tolerance(weights)
        if self.variant == "winning_votes":
            defeat = np.where(against > tol, wins, 0.0)
        elif self.variant == "margins":
            defeat = against
        else:
            defeat = wins.copy()
        n = len(table.systems)
        np.fill_diagonal(defeat, -np.inf)
        if n < 2:  # no opponent: no defeat
            return np.zeros(n), {"worst_defeat_by": [None] * n}
        worst = defeat.max(axis=0)
        attacker = defeat.argmax(axis=0)
        beaten = (against > tol).any(axis=0)
        names = [table.systems[j] if beaten[i] else None for i, j in enumerate(attacker)]
        return 0.0 - worst, {"worst_defeat_by": names}


# --------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------


@rankarena.hookimpl
def register_aggregators(register) -> None:
    """Register the Vote'n'Rank social-choice rules."""
    register("plurality", Plurality)
    register("dowdall", Dowdall)
    register("threshold", Threshold)
    register("baldwin", Baldwin)
    register("condorcet", Condorcet)
    register("copeland", Copeland)
    register("minimax", Minimax)
