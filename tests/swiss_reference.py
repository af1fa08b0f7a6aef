"""The ``swiss`` aggregator's rules played one tournament at a time in plain Python.

A reference for ``tests/test_swiss.py`` and ``benchmarks/bench_swiss.py``: the vectorised
engine (``rankarena.plugins.aggregators.swiss._play_block``) must agree with it in
distribution. It reads the engine's checked plan (``swiss._plan``: scores as per-task ranks,
task sequence, elimination schedule, ``ties`` and ``byes``) and draws from
``random.Random(seed)``, so the two agree in distribution, not draw for draw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoopTournaments:
    """Per tournament n and system m: points ``S_m``, last round played, share of the first
    place; and the number of matches of each tournament (the engine's ``_Tournaments``)."""

    points: np.ndarray  # float64 [n, S]
    exit_round: np.ndarray  # int64 [n, S]
    first: np.ndarray  # float64 [n, S]; each row sums to 1
    matches: np.ndarray  # int64 [n]


def reference_tournaments(plan, n: int, seed: int) -> LoopTournaments:
    """Play ``n`` tournaments of ``plan`` (a ``swiss._plan``) one after another."""
    rnd = random.Random(seed)
    size, rounds = plan.size, plan.rounds
    score_of = plan.scores.tolist()  # score_of[t][m]
    points = np.zeros((n, size))
    exit_round = np.full((n, size), rounds, dtype=np.int64)
    first = np.zeros((n, size))
    matches = np.zeros(n, dtype=np.int64)
    for game in range(n):
        tasks = (
            plan.tasks.tolist()
            if plan.tasks is not None
            else rnd.sample(range(len(score_of)), rounds)
        )
        score = [0.0] * size
        active = list(range(size))
        for r in range(rounds):
            if r > 0 and plan.schedule[r - 1]:
                ranked = sorted(active, key=lambda m: (score[m], rnd.random()))
                for m in ranked[: plan.schedule[r - 1]]:
                    exit_round[game, m] = r
                out = set(ranked[: plan.schedule[r - 1]])
                active = [m for m in active if m not in out]
            for a, b in reference_pairs(active, score, plan.byes, rnd):
                matches[game] += 1
                first_score, second_score = score_of[tasks[r]][a], score_of[tasks[r]][b]
                outcome = (first_score > second_score) - (first_score < second_score)  # NaN: 0
                if outcome == 0 and plan.ties == "coin":
                    outcome = 1 if rnd.random() < 0.5 else -1
                if outcome > 0:
                    score[a] += 1.0
                elif outcome < 0:
                    score[b] += 1.0
                elif plan.ties == "half":
                    score[a] += 0.5
                    score[b] += 0.5
        points[game] = score
        # the systems still active at the end with the most points share the first place
        best = max(score[m] for m in active)
        winners = [m for m in active if score[m] == best]
        for m in winners:
            first[game, m] = 1.0 / len(winners)
    return LoopTournaments(points, exit_round, first, matches)


def reference_pairs(
    active: list[int], score: list[float], byes: str, rnd: random.Random
) -> list[tuple[int, int]]:
    """Shuffle each score group (highest first) and pair neighbours, as the rules say."""
    groups: dict[float, list[int]] = {}
    for m in active:
        groups.setdefault(score[m], []).append(m)
    order: list[int] = []
    pairs: list[tuple[int, int]] = []
    for value in sorted(groups, reverse=True):
        members = groups[value]
        rnd.shuffle(members)
        if byes == "group":
            if len(members) % 2:
                members.pop()  # the last shuffled member: a random one gets the bye
            pairs.extend(zip(members[::2], members[1::2], strict=True))
        else:
            order.extend(members)
    if byes == "float":
        pairs = list(zip(order[0::2], order[1::2], strict=False))
    return pairs
