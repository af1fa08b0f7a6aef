"""A topic-oriented, decision-based black-box attack on a ranker (small and seeded).

After Liu et al. 2023, "Topic-oriented Adversarial Attacks against Black-box Neural Ranking
Models" (SIGIR): the attacker perturbs *one* target document so that it rises for a whole
*group* of queries on the same topic, seeing only the ranks a surrogate ranker returns
(decision-based: no scores, no gradients). Their attacker is a reinforcement-learning policy;
this is the small greedy version of the same setting:

1. **Groups.** The split's queries are clustered by their surrogate embeddings (k-means,
   seeded; Lloyd 1982); from the ``groups`` largest clusters, the ``group_size`` queries
   nearest each centroid form a topic group.
2. **Target.** Per group, a document judged relevant to none of the group's queries whose
   mean surrogate rank over the group lies in ``[rank_min, rank_max]`` (seeded pick).
3. **Perturbation.** Word-level edits drawn from the group's query terms (weighted by how
   many of the group's queries use them): insert a term at a random position, or replace a
   random word that is not a query term. Each round proposes ``candidates`` edits to the
   current text; the surrogate ranks the target for each group query (rank = 1 + number of
   corpus documents scoring higher); the edit with the lowest mean log-rank is kept if it
   improves on the current text. At most ``max_edits`` edits; ``patience`` rounds without an
   improvement end the search.
4. **Success.** For each group query: the target rose (rank after < rank before), and it
   entered the top ``top_k``. Reported against the surrogate, and as *transfer* for every
   other system (their rankings of the perturbed corpus).

The surrogate must be a ``dense`` system (the attack encodes candidate texts with it).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import ParameterError
from .text_noise import query_terms


@dataclass(frozen=True)
class AttackConfig:
    """``[robustness.attack]``: see the module docstring for each setting."""

    surrogate: str
    groups: int = 5
    group_size: int = 5
    rank_min: int = 30
    rank_max: int = 100
    max_edits: int = 12
    candidates: int = 16
    patience: int = 4
    top_k: int = 10
    seed: int = 0

    def check(self) -> None:
        if self.groups < 1 or self.group_size < 1 or self.candidates < 1 or self.max_edits < 1:
            raise ParameterError("attack: groups, group_size, candidates, max_edits must be >= 1")
        if not 1 <= self.rank_min < self.rank_max:
            raise ParameterError(
                f"attack: need 1 <= rank_min < rank_max, got {self.rank_min}, {self.rank_max}"
            )


class SurrogateOracle:
    """Ranks of candidate texts under a dense retriever: decision-based access only."""

    def __init__(self, retriever, doc_ids: list[str]):
        if not hasattr(retriever, "encoder") or getattr(retriever, "embeddings", None) is None:
            raise ParameterError("attack: the surrogate must be an indexed 'dense' system")
        self.retriever = retriever
        self.doc_ids = doc_ids
        self.row = {d: i for i, d in enumerate(doc_ids)}

    def ranks(self, scores: np.ndarray, target: str, texts: list[str], prefix: str) -> np.ndarray:
        """[texts, queries] rank of the target if its text were each of ``texts``."""
        vectors = self.retriever.encoder.encode([prefix + t for t in texts])
        q = self._queries
        own = vectors @ q.T  # [texts, queries]
        others = np.delete(scores, self.row[target], axis=1)  # [queries, corpus - 1]
        return 1 + (others[None, :, :] > own[:, :, None]).sum(axis=2)

    def set_queries(self, query_texts: list[str]) -> np.ndarray:
        """Fix the group's queries; their [queries, corpus] scores (hidden from the attacker,
        who only sees ``ranks``)."""
        self._queries = self.retriever.encode_queries(query_texts)
        return self._queries @ np.asarray(self.retriever.embeddings, dtype=np.float32).T


def topic_groups(
    vectors: np.ndarray, groups: int, size: int, rng: np.random.Generator, iterations: int = 50
) -> list[np.ndarray]:
    """Row indices of up to ``groups`` topic groups of ``size`` queries (k-means, seeded)."""
    n = len(vectors)
    k = max(1, min(n // max(size, 1), 4 * groups))
    centroids = vectors[rng.choice(n, size=k, replace=False)].copy()
    for _ in range(iterations):
        labels = np.argmax(vectors @ centroids.T, axis=1)  # cosine k-means (normalised rows)
        for c in range(k):
            members = vectors[labels == c]
            if len(members):
                mean = members.mean(axis=0)
                centroids[c] = mean / max(np.linalg.norm(mean), 1e-12)
    labels = np.argmax(vectors @ centroids.T, axis=1)
    counts = np.bincount(labels, minlength=k)
    chosen = []
    for c in np.argsort(-counts, kind="stable"):
        if counts[c] < size or len(chosen) == groups:
            break
        members = np.flatnonzero(labels == c)
        nearest = members[np.argsort(-(vectors[members] @ centroids[c]), kind="stable")[:size]]
        chosen.append(np.sort(nearest))
    return chosen


def propose(words: list[str], terms: list[str], weights: np.ndarray, rng) -> list[str]:
    """One edit: insert a weighted query term, or replace a non-term word with one."""
    term = terms[rng.choice(len(terms), p=weights)]
    out = list(words)
    replaceable = [i for i, w in enumerate(out) if w.lower().strip(".,;:()") not in terms]
    if replaceable and rng.random() < 0.5:
        out[replaceable[rng.integers(len(replaceable))]] = term
    else:
        out.insert(int(rng.integers(len(out) + 1)), term)
    return out


def attack_group(
    oracle: SurrogateOracle,
    query_texts: list[str],
    target: str,
    text: str,
    config: AttackConfig,
    rng: np.random.Generator,
    prefix: str = "",
) -> dict[str, Any]:
    """Greedy decision-based search for one group (see the module docstring)."""
    scores = oracle.set_queries(query_texts)
    counts = Counter(t for q in query_texts for t in query_terms(q))
    terms = sorted(counts)
    weights = np.array([counts[t] for t in terms], dtype=float)
    weights /= weights.sum()
    words = text.split()
    best = oracle.ranks(scores, target, [text], prefix)[0]
    start = best.copy()
    best_cost = float(np.log(best).mean())
    edits, stale = 0, 0
    while edits < config.max_edits and stale < config.patience and terms:
        options = [propose(words, terms, weights, rng) for _ in range(config.candidates)]
        ranks = oracle.ranks(scores, target, [" ".join(o) for o in options], prefix)
        costs = np.log(ranks).mean(axis=1)
        pick = int(np.argmin(costs))
        if costs[pick] < best_cost - 1e-12:
            words, best, best_cost = options[pick], ranks[pick], float(costs[pick])
            edits += 1
            stale = 0
        else:
            stale += 1
    return {"text": " ".join(words), "edits": edits, "before": start, "after": best}


def choose_target(
    scores: np.ndarray,
    doc_ids: list[str],
    judged: set[str],
    config: AttackConfig,
    rng: np.random.Generator,
) -> str | None:
    """A document relevant to none of the group's queries with a mean rank in the window."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    rows = np.arange(order.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, order.shape[1] + 1)[None, :]
    mean_rank = ranks.mean(axis=0)
    eligible = [
        i
        for i in np.flatnonzero((mean_rank >= config.rank_min) & (mean_rank <= config.rank_max))
        if doc_ids[i] not in judged
    ]
    if not eligible:
        return None
    return doc_ids[eligible[int(rng.integers(len(eligible)))]]


def ranks_in(run, pairs: list[tuple[str, str]], depth: int) -> dict[tuple[str, str], int]:
    """1-based rank of each (query, doc) pair in ``run`` (``depth + 1`` when absent)."""
    import pyarrow.compute as pc

    wanted = sorted({q for q, _ in pairs})
    table = run.table.filter(pc.is_in(run.table.column("query_id"), pa.array(wanted)))
    lists: dict[str, list[tuple[float, str]]] = {}
    for q, d, score in zip(
        table.column("query_id").to_pylist(),
        table.column("doc_id").to_pylist(),
        table.column("score").to_pylist(),
        strict=True,
    ):
        lists.setdefault(q, []).append((score, d))
    positions = {}
    for q, items in lists.items():
        ordered = sorted(range(len(items)), key=lambda i, items=items: -items[i][0])
        positions[q] = {items[i][1]: rank for rank, i in enumerate(ordered, start=1)}
    return {(q, d): positions.get(q, {}).get(d, depth + 1) for q, d in pairs}


def success_rows(
    system: str, group: int, targets: dict, before: dict, after: dict, top_k: int
) -> dict[str, Any]:
    """Promotion and top-k rates of one group under one system."""
    rose = [after[q] < before[q] for q in before]
    entered = [after[q] <= top_k < before[q] for q in before]
    return {
        "system": system,
        "group": group,
        "target": targets,
        "queries": len(before),
        "promoted": float(np.mean(rose)) if rose else math.nan,
        "entered_top_k": float(np.mean(entered)) if entered else math.nan,
        "mean_rank_before": float(np.mean(list(before.values()))),
        "mean_rank_after": float(np.mean(list(after.values()))),
    }
