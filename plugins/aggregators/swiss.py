"""Built-in aggregator ``swiss``: Competitive Swiss-System Dynamics (CSD).

After J. Liu et al. (ByteDance Seed), "LLM Swiss Round: Aggregating Multi-Benchmark
Performance via Competitive Swiss-System Dynamics", arXiv:2512.21010 (2025). The paper's code
is not public; every choice below is ours and is also written down in ``docs/swiss.md``.

**Matches.** From the raw scores: system i beats j on task k when both scores are present
and ``s[i, k] > s[j, k]`` (``rankarena.leaderboard.pairwise.outcomes``; ``win_tensor`` gives the
whole
``W[i, j, k]``). A match between i and j in a round played on task k goes to i when i beats
j on k, to j when j beats i; otherwise (equal scores, or either score missing) the ``ties``
rule decides:
``coin`` (default) a fair coin drawn per match, so every match has exactly one winner;
``half`` half a point each; ``zero`` no point for either. The winner gets 1 point.

**Rounds.** One task per round, in the order ``task_order``: ``given`` (the table's column
order), ``random`` (a fresh uniformly random order in every tournament) or an explicit list
of task names; ``rounds`` (default: all tasks of the order) cuts the sequence short.

**Pairing (round r).** The active systems are grouped by equal cumulative score and shuffled
uniformly within each group; the groups are taken from the highest score down. ``byes``:
``group`` (default, the rule of the issue): pairs are formed inside each group (1st-2nd,
3rd-4th, … of the shuffled group), and a group with an odd number of systems gives its last
shuffled member, a uniformly random one, a bye worth 0 points; ``float``: the standard Swiss
"float-down", the shuffled groups are concatenated and paired 1st-2nd, 3rd-4th, …, so the odd
member of a group meets a random member of the next lower group, and only the very last
system, when the number of active systems is odd, gets the 0-point bye. Under ``group`` a
system alone at its score sits out until someone's score reaches it; the lone lowest one never
plays again (docs/swiss.md, "lone groups"); ``float`` has no such effect.

**Elimination.** After round r (r = 1 … R−1), the ``T_r`` active systems with the lowest
cumulative score leave the tournament, ties at the cut broken uniformly at random; their
points stay as they are. ``elimination``: ``none`` (default), ``fixed:N`` (T_r = N),
``fraction:F`` (T_r = ⌊F · A_r⌋ of the A_r active systems), both capped so that at least two
systems play every round, or an explicit list of the R−1 counts (rejected when a round would
be left with fewer than two players).

**Monte Carlo.** N tournaments (``tournaments``, seeded by ``seed``) give for system m the
total points ``S_m`` of each tournament; the ranking score is the Expected Win Score
``E[S_m] = (1/N) Σ_n S_m^(n)``. Extras: ``std`` (sample standard deviation of S_m), ``se``
(= std/√N), ``p_first`` (probability of finishing first: the systems still active at the
end with the most points share the first place equally), ``p_survive`` (probability of not
being eliminated) and ``exit_round`` (mean of the last round played: r when eliminated after
round r, R when never eliminated).

**Sensitivity.** ``sensitivity(table, schedules)`` (also ``SwissTournament.sensitivity``)
sweeps the elimination schedule and reports E[S_m] and the rank under each schedule, and
each system's rank spread: robust generalists keep their rank when elimination gets harsher,
specialists who fail some early tasks drop.

**Implementation.** All tournaments of a block (``block``, 1,000) are played at once on
``[n, A]`` arrays. Each round sorts one 64-bit key per active system and tournament, built
as ``(2R − 2·points) << 48 | 32 random bits << 16 | system``: ascending order is best score
first, shuffled within equal scores (a tie of the 32 random bits, probability below 1e-6
per group and round, falls back to system order). The same sorted keys give the elimination
cut of the previous round (the tail) and the pairing of this round (neighbours). Which
sorted neighbours meet is known in advance for ``byes='float'`` (every even position) and
for ``byes='group'`` with ``ties='coin'`` (a group of g systems sends ⌊g/2⌋ winners up, so
the group sizes do not depend on the draws); otherwise it is found per tournament with a
flat scan of the score-group starts. A match reads the two scores it compares (as per-task
ranks, ``rankarena.leaderboard.pairwise.task_ranks``: the same order, half the bytes) from a tasks ×
systems table, so memory is ≈ ``BYTES_PER_GAME`` × block × systems whatever the
number of tasks (no systems × systems × tasks array; checked against
``rankarena.core.memory.memory_limit``). Block b draws from ``SeedSequence(seed,
spawn_key=(b,))``, so results depend on ``seed``, ``tournaments`` and ``block`` only.
``tests/swiss_reference.py`` plays the same rules with a plain per-tournament Python loop
(for the tests and ``benchmarks/bench_swiss.py``).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

import rankarena
from rankarena import DataFormatError, ParameterError, Ranking, ScoreTable
from rankarena.api.aggregation import outcomes, require_memory, task_ranks
from rankarena.api.checks import check_choice, did_you_mean

__all__ = [
    "DEFAULT_SWEEP",
    "SwissResult",
    "SwissTournament",
    "active_counts",
    "elimination_schedule",
    "match_count",
    "sensitivity",
    "simulate",
    "win_tensor",
]

NAME = "swiss"
TASK_ORDERS = ("given", "random")
TIE_RULES = ("coin", "half", "zero")
BYE_RULES = ("group", "float")
ELIMINATION_FORMS = "'none', 'fixed:N', 'fraction:F' (0 <= F < 1) or a list of R-1 counts"
DEFAULT_SWEEP = ("none", "fraction:0.05", "fraction:0.1", "fraction:0.2", "fraction:0.3")
"""Schedules ``sensitivity`` sweeps when none are given, mildest first."""

MAX_SYSTEMS = 0xFFFF  # system ids take the low 16 bits of the sort key
MAX_ROUNDS = 0x7FFF  # 2 × points takes the top 16 bits
_SCORE_SHIFT = np.uint64(48)
_RANDOM_BITS = np.uint64(0x0000_FFFF_FFFF_0000)
_KEEP_BITS = np.uint64(0xFFFF_0000_0000_FFFF)
_ID_BITS = np.uint64(0xFFFF)
BYTES_PER_GAME = 80
"""Bytes per (tournament, system) of a block in play: keys, sort, points (measured 55-64)."""

Elimination = str | list[int]
TaskOrder = str | list[str]


_OWNER = f"aggregator {NAME!r}"


def _error(message: str) -> ParameterError:
    return ParameterError(f"{_OWNER}: {message}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# ----------------------------------------------------------------------- win tensor, schedule


def win_tensor(table: ScoreTable) -> np.ndarray:
    """``W[i, j, k]``: True when system i beats j on task k (both present, higher score).

    ``W[i, j, k]`` and ``W[j, i, k]`` are both False on a tie or a missing score; the ``ties``
    rule then decides the match.
    """
    return outcomes(table, who=f"aggregator {NAME!r}") > 0


def _check_elimination(spec: object) -> None:
    """Check the form of an elimination spec (its counts are checked in the schedule)."""
    if isinstance(spec, (list, tuple)):
        if not all(_is_int(v) and v >= 0 for v in spec):
            raise _error(f"elimination list needs non-negative integers, got {list(spec)!r}")
        return
    if not isinstance(spec, str):
        raise _error(f"elimination must be {ELIMINATION_FORMS}; got {spec!r}")
    kind, colon, value = spec.partition(":")
    if kind == "none" and not colon:
        return
    if kind == "fixed" and colon:
        if value.strip().isascii() and value.strip().isdigit():
            return
        raise _error(f"elimination 'fixed:N' needs an integer N >= 0, got {spec!r}")
    if kind == "fraction" and colon:
        try:
            fraction = float(value)
        except ValueError:
            fraction = math.nan
        if 0.0 <= fraction < 1.0:
            return
        raise _error(f"elimination 'fraction:F' needs 0 <= F < 1, got {spec!r}")
    hint = did_you_mean(kind, ["none", "fixed", "fraction"])
    raise _error(f"unknown elimination {spec!r}{hint}; use {ELIMINATION_FORMS}")


def elimination_schedule(spec: Elimination, systems: int, rounds: int) -> tuple[int, ...]:
    """The counts ``(T_1, …, T_{R-1})`` eliminated after rounds 1 … R−1.

    ``none``: all 0. ``fixed:N``: ``T_r = min(N, A_r − 2)``. ``fraction:F``:
    ``T_r = min(⌊F · A_r⌋, A_r − 2)``, where ``A_r`` is the number of systems active in round
    r (``A_1 = systems``, ``A_{r+1} = A_r − T_r``); the caps keep two players in every round.
    A list is taken as given once checked: R−1 non-negative integers leaving at least
    ``min(2, systems)`` systems for every round.
    """
    _check_elimination(spec)
    cuts = max(rounds - 1, 0)
    if isinstance(spec, (list, tuple)):
        counts = tuple(int(v) for v in spec)
        if len(counts) != cuts:
            raise _error(
                f"elimination list needs one count after each round but the last "
                f"({cuts} for {rounds} rounds), got {len(counts)}"
            )
        floor = min(2, systems)
        for r, active in enumerate(active_counts(counts, systems), start=1):
            if active < floor:
                raise _error(
                    f"elimination list {list(counts)!r} leaves {active} of {systems} systems "
                    f"for round {r}; every round needs at least {floor}"
                )
        return counts
    kind, _, value = spec.partition(":")
    result = []
    active = systems
    for _ in range(cuts):
        if kind == "none":
            count = 0
        elif kind == "fixed":
            count = int(value)
        else:  # a tiny epsilon keeps 0.3 · 10 = 2.9999… from flooring to 2
            count = math.floor(float(value) * active + 1e-9)
        count = max(0, min(count, active - 2))
        result.append(count)
        active -= count
    return tuple(result)


def active_counts(schedule: Sequence[int], systems: int) -> tuple[int, ...]:
    """``(A_1, …, A_R)``: systems active in each round, for the cuts ``schedule``."""
    counts = [systems]
    for cut in schedule:
        counts.append(counts[-1] - cut)
    return tuple(counts)


# ----------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Plan:
    """Everything a tournament needs, checked: sizes, task sequence, schedule, rules."""

    systems: tuple[str, ...]
    scores: np.ndarray  # float32 [T, S]: per task the systems' ranks (NaN: missing score)
    rounds: int
    tasks: np.ndarray | None  # [R] task indices per round, or None: random per tournament
    schedule: tuple[int, ...]  # R-1 elimination counts
    ties: str
    byes: str
    pairs: tuple[np.ndarray, ...] | None  # per round [A_r - 1] pair starts, when fixed

    @property
    def size(self) -> int:
        return len(self.systems)


def _known_pairs(
    systems: int, schedule: tuple[int, ...], rounds: int, ties: str, byes: str
) -> tuple[np.ndarray, ...] | None:
    """The pair starts of each round where they do not depend on the draws, else None.

    ``float``: every even sorted position. ``group`` with ``ties='coin'``: from the score
    group sizes (``_score_groups``). ``group`` with ``half``/``zero``: found per tournament.
    """
    if byes == "float":
        counts = active_counts(schedule, systems)[:rounds]
        return tuple((np.arange(max(a - 1, 0)) & 1) == 0 for a in counts)
    if ties == "coin":
        return tuple(_fixed_pairs(g) for g in _score_groups(systems, schedule, rounds))
    return None


def _task_sequence(table: ScoreTable, task_order: TaskOrder) -> np.ndarray | None:
    if task_order == "given":
        return np.arange(len(table.tasks))
    if task_order == "random":
        return None
    position = {name: k for k, name in enumerate(table.tasks)}
    unknown = [name for name in task_order if name not in position]
    if unknown:
        raise _error(
            f"task_order names a task not in the table: {unknown[0]!r}"
            f"{did_you_mean(unknown[0], position)}"
        )
    if len(set(task_order)) != len(task_order):
        raise _error("task_order names a task twice")
    return np.array([position[name] for name in task_order], dtype=np.intp)


def _plan(
    table: ScoreTable,
    rounds: int | None,
    task_order: TaskOrder,
    elimination: Elimination,
    ties: str,
    byes: str,
) -> _Plan:
    size, n_tasks = len(table.systems), len(table.tasks)
    if size == 0 or n_tasks == 0:
        raise DataFormatError(None, f"{NAME} needs at least one system and one task")
    if size > MAX_SYSTEMS:
        raise DataFormatError(None, f"{NAME} handles at most {MAX_SYSTEMS} systems, got {size}")
    sequence = _task_sequence(table, task_order)
    available = n_tasks if sequence is None else len(sequence)
    if rounds is not None and rounds > available:
        raise _error(f"rounds must be <= the {available} tasks of the order, got {rounds}")
    count = available if rounds is None else rounds
    if count > MAX_ROUNDS:
        raise _error(f"at most {MAX_ROUNDS} rounds, got {count}")
    schedule = elimination_schedule(elimination, size, count)
    by_task = np.ascontiguousarray(task_ranks(table.scores).T)
    tasks = None if sequence is None else sequence[:count]
    pairs = _known_pairs(size, schedule, count, ties, byes)
    return _Plan(table.systems, by_task, count, tasks, schedule, ties, byes, pairs)


# --------------------------------------------------------------------- per-tournament results


@dataclass(frozen=True)
class _Tournaments:
    """Per tournament n and system m: points ``S_m``, last round played, share of the first
    place; and the number of matches of each tournament."""

    points: np.ndarray  # float64 [n, S]
    exit_round: np.ndarray  # int64 [n, S]
    first: np.ndarray  # float64 [n, S]; each row sums to 1
    matches: np.ndarray  # int64 [n]


def _first_share(points: np.ndarray, survivor: np.ndarray) -> np.ndarray:
    """``1/k`` for each of the k survivors with the most points in a row, else 0."""
    masked = np.where(survivor, points, -np.inf)
    top = masked == masked.max(axis=1, keepdims=True)
    return top / top.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------------- vectorised engine


def _coin_bits(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Uniform booleans of ``shape``, 64 from each raw draw of the bit generator."""
    count = shape[0] * shape[1]
    raw = rng.bit_generator.random_raw(count // 64 + 1)
    bits = np.unpackbits(raw.view(np.uint8), count=count)
    return bits.view(bool).reshape(shape)


def _shuffled_keys(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """``base`` (score and system fields) with 32 fresh random bits in bits 16-47, sorted
    ascending along each row: best score first, uniformly shuffled within equal scores."""
    n, active = base.shape
    raw = rng.bit_generator.random_raw((n * active + 1) // 2).view(np.uint32)[: n * active]
    key = np.left_shift(raw.reshape(n, active), 16, dtype=np.uint64)
    key |= base
    key.sort(axis=1)
    return key


def _pair_starts(score_key: np.ndarray) -> np.ndarray:
    """``[n, A-1]`` booleans for ``byes='group'``: True where sorted positions j and j+1 form
    a match, i.e. j is at an even position within its score group and j+1 is in that group
    (an odd group's last member is left unpaired: its bye).

    ``score_key`` is the sorted keys shifted down to their score field. The parity of j's
    position in its group is ``col(j) XOR col(s)``, s the group's first position; ``col(s)``
    is spread over the group by a flat cumulative sum of its changes from group to group
    (each row's first group starts at column 0, so rows never leak into each other).
    """
    n, active = score_key.shape
    same = score_key[:, 1:] == score_key[:, :-1]  # j and j+1 share a score
    start = np.ones((n, active), dtype=bool)
    np.logical_not(same, out=start[:, 1:])
    column_parity = (np.arange(active) & 1).astype(np.int8)
    starts = np.flatnonzero(start.ravel())
    start_parity = np.tile(column_parity, n).take(starts)
    steps = np.zeros(n * active, dtype=np.int8)
    steps[starts] = np.diff(start_parity, prepend=np.int8(0))
    offset = np.cumsum(steps, dtype=np.int8).reshape(n, active)  # col(s) of j's group
    offset ^= column_parity
    return (offset[:, :-1] == 0) & same


def _score_groups(systems: int, schedule: Sequence[int], rounds: int) -> list[list[int]]:
    """Sizes of the score groups (highest score first) in each round, when every match of
    ``byes='group'`` has a winner (``ties='coin'``).

    They do not depend on the draws: a group of g systems plays ⌊g/2⌋ matches, so ⌊g/2⌋ of
    its members move up one point and ⌈g/2⌉ (the losers and the bye) stay; the elimination
    then takes the T_r lowest from the bottom groups.
    """
    sizes = {0: systems}  # points -> systems with those points
    result = []
    for r in range(rounds):
        if r > 0:
            cut = schedule[r - 1]
            for value in sorted(sizes):
                taken = min(cut, sizes[value])
                sizes[value] -= taken
                cut -= taken
            sizes = {v: g for v, g in sizes.items() if g}
        result.append([sizes[v] for v in sorted(sizes, reverse=True)])
        moved: dict[int, int] = {}
        for value, g in sizes.items():
            moved[value] = moved.get(value, 0) + g - g // 2
            moved[value + 1] = moved.get(value + 1, 0) + g // 2
        sizes = moved
    return result


def _fixed_pairs(groups: Sequence[int]) -> np.ndarray:
    """``[A-1]`` booleans: the sorted positions j that meet j+1, for known group sizes."""
    pairs = np.zeros(max(sum(groups) - 1, 0), dtype=bool)
    start = 0
    for g in groups:
        pairs[start : start + 2 * (g // 2) : 2] = True
        start += g
    return pairs


def match_count(systems: int, schedule: Sequence[int], rounds: int, byes: str = "group") -> int:
    """Matches of one tournament when every match has a winner (``ties='coin'``).

    ``float``: Σ_r ⌊A_r/2⌋. ``group``: Σ_r Σ_groups ⌊g/2⌋ over the score groups of each
    round, which do not depend on the draws (see ``_score_groups``). Under ``ties='coin'``
    or ``'half'`` every match hands out exactly one point, so Σ_m S_m equals it in every
    tournament (with ``half`` the groups, hence the count, vary: use
    ``SwissResult.matches``).
    """
    if byes == "float":
        return sum(a // 2 for a in active_counts(schedule, systems)[:rounds])
    return sum(g // 2 for groups in _score_groups(systems, schedule, rounds) for g in groups)


def _half_points_won(
    pairs: np.ndarray, result: np.ndarray, ties: str, rng: np.random.Generator
) -> np.ndarray:
    """``[n, A]`` uint8: half-points each sorted position wins this round.

    ``pairs[j]``: positions j and j+1 meet; ``result[:, j]``: outcome for j (+1 win, −1 loss,
    0 tie or missing score, decided by ``ties``).
    """
    n, width = result.shape
    won = np.zeros((n, width + 1), dtype=np.uint8)
    if ties == "coin":
        first_wins = (result > 0) | ((result == 0) & _coin_bits(rng, result.shape))
        won[:, :-1] = pairs & first_wins
        won[:, 1:] += pairs & ~first_wins
        won <<= 1
        return won
    won[:, :-1] = pairs & (result > 0)
    won[:, 1:] += pairs & (result < 0)
    won <<= 1
    if ties == "half":
        draws = pairs & (result == 0)
        won[:, :-1] += draws
        won[:, 1:] += draws
    return won


def _system_ids(key: np.ndarray) -> np.ndarray:
    """The system field (low 16 bits) of each key: a strided view where the machine is
    little-endian, else a masked copy."""
    if sys.byteorder == "little":
        return key.view(np.uint16)[:, ::4]
    return (key & _ID_BITS).astype(np.intp)


_HALF = np.uint64(1) << _SCORE_SHIFT  # half a point, in the score field of the key


def _play_block(plan: _Plan, n: int, rng: np.random.Generator) -> _Tournaments:
    """Play ``n`` tournaments at once; arrays ``[n, A]`` hold the active systems' keys."""
    size, rounds = plan.size, plan.rounds
    top = np.uint64(2 * rounds)  # the score field holds 2R − 2·points >= 0
    base = np.tile((top << _SCORE_SHIFT) | np.arange(size, dtype=np.uint64), (n, 1))
    points2 = np.zeros((n, size), dtype=np.int64)  # 2 × points, filled at exit
    exit_round = np.full((n, size), rounds, dtype=np.int64)
    row = (np.arange(n, dtype=np.intp) * size)[:, None]
    matches = np.zeros(n, dtype=np.int64)
    offset = None  # random order: per tournament, the flat offset of its round's task
    if plan.tasks is None:
        orders = rng.permuted(np.tile(np.arange(plan.scores.shape[0]), (n, 1)), axis=1)
        offset = orders * size
    active = size
    for r in range(rounds):
        key = _shuffled_keys(rng, base)
        if r > 0 and plan.schedule[r - 1]:
            active -= plan.schedule[r - 1]
            _record_exit(key[:, active:], top, row, points2, exit_round, r)
            key = np.ascontiguousarray(key[:, :active])
        base = key
        if active < 2:
            base &= _KEEP_BITS
            continue
        pairs = plan.pairs[r] if plan.pairs is not None else _pair_starts(key >> _SCORE_SHIFT)
        system = _system_ids(key)
        if offset is None:
            result = _outcome(plan.scores[plan.tasks[r]].take(system))
        else:
            result = _outcome(plan.scores.ravel().take(offset[:, r : r + 1] + system))
        base &= _KEEP_BITS
        base -= _half_points_won(pairs, result, plan.ties, rng) * _HALF
        if pairs.ndim == 1:
            matches += np.count_nonzero(pairs)
        else:
            matches += np.count_nonzero(pairs, axis=1)
    _record_exit(base, top, row, points2, exit_round, rounds)
    points = points2 / 2.0
    first_place = _first_share(points, exit_round == rounds)
    return _Tournaments(points, exit_round, first_place, matches)


def _outcome(scores: np.ndarray) -> np.ndarray:
    """int8 [n, A-1]: the outcome for sorted position j against j+1, from the scores of
    the systems in sorted order: [s_j > s_j+1] − [s_j < s_j+1] (+1 win, −1 loss, 0 tie or
    missing score: NaN compares false), as ``rankarena.leaderboard.pairwise.outcomes``."""
    first, second = scores[:, :-1], scores[:, 1:]
    result = np.greater(first, second).view(np.int8)
    result -= np.less(first, second).view(np.int8)
    return result


def _record_exit(
    keys: np.ndarray,
    top: np.uint64,
    row: np.ndarray,
    points2: np.ndarray,
    exit_round: np.ndarray,
    last_round: int,
) -> None:
    """Store the points and last round of the systems in ``keys`` (they leave now)."""
    cell = (row + (keys & _ID_BITS).astype(np.intp)).ravel()
    points2.ravel()[cell] = (top - (keys >> _SCORE_SHIFT)).astype(np.int64).ravel()
    exit_round.ravel()[cell] = last_round


# ------------------------------------------------------------------------- Monte Carlo result


@dataclass(frozen=True)
class SwissResult:
    """Monte Carlo estimates over ``tournaments`` tournaments, one value per system.

    ``expected`` = E[S_m], ``std`` (sample, N−1), ``se`` = std/√N, ``p_first``,
    ``p_survive``, ``exit_round`` (mean last round played); ``matches`` = mean matches per
    tournament (Σ_m E[S_m] = matches under ``ties='coin'`` or ``'half'``); ``schedule`` the
    R−1 elimination counts; ``tasks`` the task of each round (None: random per tournament).
    """

    systems: tuple[str, ...]
    expected: np.ndarray
    std: np.ndarray
    se: np.ndarray
    p_first: np.ndarray
    p_survive: np.ndarray
    exit_round: np.ndarray
    matches: float
    tournaments: int
    rounds: int
    schedule: tuple[int, ...]
    tasks: tuple[str, ...] | None

    def in_order(self, systems: Sequence[str]) -> SwissResult:
        """The same estimates with the per-system arrays in the order of ``systems``."""
        position = {system: i for i, system in enumerate(self.systems)}
        index = np.array([position[system] for system in systems], dtype=np.intp)
        return dataclasses.replace(
            self,
            systems=tuple(systems),
            **{
                name: getattr(self, name)[index]
                for name in ("expected", "std", "se", "p_first", "p_survive", "exit_round")
            },
        )

    def to_ranking(self, method: str = NAME) -> Ranking:
        """Rank by E[S_m], highest first; extras std, se, p_first, p_survive, exit_round."""
        return Ranking.from_scores(
            method,
            self.systems,
            self.expected,
            std=self.std.tolist(),
            se=self.se.tolist(),
            p_first=self.p_first.tolist(),
            p_survive=self.p_survive.tolist(),
            exit_round=self.exit_round.tolist(),
        )


class _Totals:
    """Running sums over blocks of tournaments."""

    def __init__(self, size: int):
        self.count = 0
        self.points = np.zeros(size)  # Σ S_m (exact: sums of half-points)
        self.spread = np.zeros(size)  # Σ (S_m − mean)², merged block by block (Chan et al.)
        self.first = np.zeros(size)
        self.survive = np.zeros(size)
        self.exit = np.zeros(size)
        self.matches = 0

    def add(self, games: _Tournaments, rounds: int) -> None:
        n, before = len(games.matches), self.count
        block_sum = games.points.sum(axis=0)
        block_mean = block_sum / n
        delta = block_mean - (self.points / before if before else 0.0)
        self.spread += np.square(games.points - block_mean).sum(axis=0)
        self.spread += np.square(delta) * (before * n / (before + n))
        self.count += n
        self.points += block_sum
        self.first += games.first.sum(axis=0)
        self.survive += (games.exit_round == rounds).sum(axis=0)
        self.exit += games.exit_round.sum(axis=0)
        self.matches += int(games.matches.sum())

    def result(self, plan: _Plan, task_names: tuple[str, ...]) -> SwissResult:
        n = self.count
        mean = self.points / n
        std = np.sqrt(self.spread / max(n - 1, 1))
        tasks = None if plan.tasks is None else tuple(task_names[t] for t in plan.tasks)
        return SwissResult(
            plan.systems,
            mean,
            std,
            std / math.sqrt(n),
            self.first / n,
            self.survive / n,
            self.exit / n,
            self.matches / n,
            n,
            plan.rounds,
            plan.schedule,
            tasks,
        )


def _block_rng(seed: int, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))


def simulate(
    table: ScoreTable,
    *,
    tournaments: int = 100_000,
    seed: int = 0,
    rounds: int | None = None,
    task_order: TaskOrder = "given",
    elimination: Elimination = "none",
    ties: str = "coin",
    byes: str = "group",
    block: int = 1_000,
) -> SwissResult:
    """Play ``tournaments`` Swiss tournaments on ``table`` (see the module docstring).

    Blocks of ``block`` tournaments are played at once (memory ≈ ``BYTES_PER_GAME`` × block ×
    systems); block b draws from ``SeedSequence(seed, spawn_key=(b,))``.
    """
    return SwissTournament(
        tournaments=tournaments,
        seed=seed,
        rounds=rounds,
        task_order=task_order,
        elimination=elimination,
        ties=ties,
        byes=byes,
        block=block,
    ).simulate(table)


# ------------------------------------------------------------------------------ aggregator


class SwissTournament:
    """Rank systems by their Expected Win Score in simulated Swiss tournaments (CSD).

    Liu et al., "LLM Swiss Round", arXiv:2512.21010: one task per round, systems paired
    within equal-score groups, the lowest eliminated per the schedule; E[S_m] over N
    tournaments. See the module docstring and ``docs/swiss.md`` for every rule.

    :param tournaments: Monte Carlo tournaments N (default 100,000).
    :param seed: seed of the random draws (>= 0).
    :param rounds: rounds R (default: every task of ``task_order``).
    :param task_order: ``given`` (column order), ``random`` (new per tournament), or a list
        of task names.
    :param elimination: ``none``, ``fixed:N``, ``fraction:F`` or a list of the R−1 counts
        eliminated after rounds 1 … R−1.
    :param ties: a tie or missing score: ``coin`` (fair coin), ``half`` (½ point each),
        ``zero`` (no point).
    :param byes: ``group`` (every odd score group gives a random member a 0-point bye) or
        ``float`` (odd members float down to the next group; one bye at the bottom).
    :param block: tournaments played at once (bounds memory).

    ``DEFAULT_SWEEP`` and ``sensitivity`` are public plugin API: the report's Swiss
    failure-sensitivity section reaches them through the aggregator registry.

    Cost: O(N · R · n log n) time for N tournaments of R rounds (one sort of the n active
    systems per round, played a block of tournaments at once); memory ≈ ``BYTES_PER_GAME``
    × block × n (800 MB for the default block of 1,000 at 10,000 systems) plus the
    T × n table of ranks, whatever the number of tasks.
    """

    DEFAULT_SWEEP: tuple[str, ...] = DEFAULT_SWEEP
    missing_cells = "tie"
    """A missing score meets every opponent as a tie (``ties``): the kit's declaration."""
    order_dependence = ("tasks",)
    """The rounds play the tasks in the table's order (``task_order="given"``; ``random``
    draws from it): by design, the answer depends on the task order."""

    def __init__(
        self,
        tournaments: int = 100_000,
        seed: int = 0,
        rounds: int | None = None,
        task_order: str | list[str] = "given",
        elimination: str | list[int] = "none",
        ties: str = "coin",
        byes: str = "group",
        block: int = 1_000,
    ):
        for name, value in (("tournaments", tournaments), ("block", block)):
            if not _is_int(value) or value < 1:
                raise _error(f"{name} must be an integer >= 1, got {value!r}")
        if not _is_int(seed) or seed < 0:
            raise _error(f"seed must be an integer >= 0, got {seed!r}")
        if rounds is not None and (not _is_int(rounds) or rounds < 1):
            raise _error(f"rounds must be an integer >= 1 or None, got {rounds!r}")
        _check_task_order(task_order)
        check_choice(_OWNER, "ties", ties, TIE_RULES)
        check_choice(_OWNER, "byes", byes, BYE_RULES)
        _check_elimination(elimination)
        self.tournaments, self.seed, self.rounds = int(tournaments), int(seed), rounds
        self.task_order = task_order if isinstance(task_order, str) else list(task_order)
        self.elimination = elimination if isinstance(elimination, str) else list(elimination)
        self.ties, self.byes, self.block = ties, byes, int(block)

    def _plan(self, scores: ScoreTable, elimination: Elimination | None = None) -> _Plan:
        spec = self.elimination if elimination is None else elimination
        return _plan(scores, self.rounds, self.task_order, spec, self.ties, self.byes)

    def simulate(self, scores: ScoreTable, elimination: Elimination | None = None) -> SwissResult:
        """The Monte Carlo estimates (``elimination`` overrides the instance's schedule).

        Played with the systems in name order (the tasks keep theirs: ``task_order``), so
        the draws, and so the estimates, do not depend on the order of the table's rows.
        """
        table = scores
        scores = scores.in_name_order(tasks=False)
        plan = self._plan(scores, elimination)
        games = min(self.block, self.tournaments)
        require_memory(
            f"aggregator {NAME!r}",
            BYTES_PER_GAME * games * plan.size,
            scores,
            f"{games} tournaments played at once; a smaller block needs less",
        )
        totals = _Totals(plan.size)
        for number, start in enumerate(range(0, self.tournaments, self.block)):
            n = min(self.block, self.tournaments - start)
            totals.add(_play_block(plan, n, _block_rng(self.seed, number)), plan.rounds)
        return totals.result(plan, scores.tasks).in_order(table.systems)

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank ``scores.systems`` by E[S_m]; extras std, se, p_first, p_survive, exit_round."""
        return self.simulate(scores).to_ranking()

    def sensitivity(
        self, scores: ScoreTable, schedules: Sequence[Elimination] | None = None
    ) -> pa.Table:
        """``sensitivity`` with this instance's other parameters (see the function)."""
        return _sensitivity(self, scores, DEFAULT_SWEEP if schedules is None else schedules)


def _check_task_order(value: object) -> None:
    """``given``, ``random`` or a non-empty list of task names (checked against the table
    when one is played: ``_task_sequence``)."""
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return
        raise _error(f"task_order list must hold task names, got {value!r}")
    check_choice(_OWNER, "task_order", value, TASK_ORDERS, also=" or a list of task names")


# ------------------------------------------------------------------- sensitivity analysis


def _label(spec: Elimination) -> str:
    return spec if isinstance(spec, str) else "[" + ",".join(str(v) for v in spec) + "]"


def _sensitivity(
    swiss: SwissTournament, scores: ScoreTable, schedules: Sequence[Elimination]
) -> pa.Table:
    if isinstance(schedules, str):  # one schedule, not its characters
        schedules = [schedules]
    labels = [_label(spec) for spec in schedules]
    if not labels or len(set(labels)) != len(labels):
        raise _error(f"sensitivity needs distinct schedules, got {list(schedules)!r}")
    columns: dict[str, list] = {"system": list(scores.systems)}
    ranks = []
    for label, spec in zip(labels, schedules, strict=True):
        ranking = swiss.simulate(scores, spec).to_ranking()
        columns[f"score:{label}"] = ranking.scores.tolist()
        columns[f"rank:{label}"] = ranking.ranks.tolist()
        ranks.append(ranking.ranks)
    matrix = np.array(ranks, dtype=np.float64)  # [schedules, systems]
    columns["rank_best"] = matrix.min(axis=0).astype(np.int64).tolist()
    columns["rank_worst"] = matrix.max(axis=0).astype(np.int64).tolist()
    columns["rank_spread"] = (matrix.max(axis=0) - matrix.min(axis=0)).astype(np.int64).tolist()
    columns["rank_mean"] = matrix.mean(axis=0).tolist()
    columns["rank_shift"] = (matrix[-1] - matrix[0]).astype(np.int64).tolist()
    order = np.lexsort((np.array(scores.systems, dtype=str), matrix[0]))
    return pa.table({name: [values[i] for i in order] for name, values in columns.items()})


def sensitivity(
    table: ScoreTable,
    schedules: Sequence[Elimination] = DEFAULT_SWEEP,
    *,
    tournaments: int = 10_000,
    seed: int = 0,
    **params: object,
) -> pa.Table:
    """Failure-sensitivity analysis: sweep the elimination schedule T_r (Liu et al., CSD).

    Every schedule is simulated with the same ``seed`` (common random numbers) and the other
    ``params`` of ``SwissTournament``. One row per system, sorted by the rank under the first
    schedule: ``score:<schedule>`` (E[S_m]) and ``rank:<schedule>`` for each schedule, then
    ``rank_best``, ``rank_worst``, ``rank_spread`` = worst − best, ``rank_mean`` and
    ``rank_shift`` = rank under the last schedule − rank under the first (list schedules
    mildest first: a positive shift means the system loses ground as elimination gets
    harsher, the mark of a specialist; a robust generalist has a small spread).
    """
    if "elimination" in params:
        raise _error("sensitivity takes the schedules to sweep, not 'elimination'")
    swiss = SwissTournament(tournaments=tournaments, seed=seed, **params)  # type: ignore[arg-type]
    return swiss.sensitivity(table, schedules)


@rankarena.hookimpl
def register_aggregators(register) -> None:
    """Register ``swiss``."""
    register(NAME, SwissTournament)
