"""How hard and how safe is a set of negatives, before any training?

All sets are rescored by one ``scorer`` (a retriever that implements ``score_pairs``; by
default the dense MiniLM bi-encoder), so that strategies mined with different retrievers are
compared on one scale. Per query q with positive score p (the lowest of its positives) and
negative scores n_1 … n_K:

* **hardness** h_k = clip(n_k / p, 0, 1): how close a negative comes to the positive
  (NV-Retriever's "percentage of the positive score" view; queries with p ≤ 0 are skipped);
* **safety** s_k = clip((p − n_k) / m, 0, 1), m = ``margin``: 0 for a negative scoring at or
  above the positive (a likely false negative), 1 once it is at least m below (max-margin);
* **unsafe share**: the share of negatives with n_k ≥ p;
* **ECI**, Effective Contrastive Information (Sinha, Bansal & Seetharaman, "ECI: Effective
  Contrastive Information to Evaluate Hard-Negatives", arXiv:2603.20990 **v1**, 2026; v2
  replaced this metric with a different one, ECI_sem, which is not built here): information
  capacity × discriminative efficiency, ECI(q) = ln(1 + K) · 2HS / (H + S) with H and S the
  means of h_k and s_k — the InfoNCE bound ln(1 + K) on the mutual information a set of K
  negatives can carry (van den Oord et al. 2018), times the harmonic mean of signal
  (hardness) and safety. Reported as the mean over queries. unverified: v1's exact
  normalisations of H and S could not be checked here; these are the definitions above.
* **held-out false-negative rate**: when the set was mined with some labelled positives
  hidden (``rankarena mine --holdout``), the share of those hidden positives that came back
  as negatives. Hidden positives are the query's qrels positives that the set never uses as
  a positive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.training_examples import TrainingExamples
from .mining import MiningContext


@dataclass
class NegativeSetStats:
    """The diagnostics of one negative set (see the module docstring)."""

    name: str
    queries: int
    negatives_per_query: float
    positive_mean: float
    negative_mean: float
    hardness: float
    safety: float
    unsafe_share: float
    eci: float
    heldout: int
    heldout_mined: int

    @property
    def heldout_fn_rate(self) -> float:
        """Share of the hidden positives mined as negatives (NaN when none were hidden)."""
        return self.heldout_mined / self.heldout if self.heldout else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The fields and the held-out false-negative rate."""
        return {**asdict(self), "heldout_fn_rate": self.heldout_fn_rate}


@dataclass
class ScoredSet:
    """Per query: the positive score p and the negative scores, under the scorer."""

    query_ids: list[str]
    positive: np.ndarray
    negatives: list[np.ndarray]


def score_set(
    examples: TrainingExamples,
    context: MiningContext,
    scorer: str = "dense",
    scorer_params: Mapping[str, Any] | None = None,
) -> ScoredSet:
    """Rescore every (query, positive) and (query, negative) pair of ``examples``."""
    rows = examples.table.select(["query_id", "positive_id", "negative_ids"]).to_pylist()
    positives: dict[str, list[str]] = {}
    negatives: dict[str, list[str]] = {}
    for row in rows:
        positives.setdefault(row["query_id"], []).append(row["positive_id"])
        negatives.setdefault(row["query_id"], row["negative_ids"])
    queries = [q for q in positives if negatives[q]]
    pair_queries, pair_docs = [], []
    for query in queries:
        for doc in positives[query] + negatives[query]:
            pair_queries.append(query)
            pair_docs.append(doc)
    scores = context.score_pairs(scorer, scorer_params, pair_queries, pair_docs)
    positive, negative_lists, at = [], [], 0
    for query in queries:
        count_pos, count_neg = len(positives[query]), len(negatives[query])
        positive.append(scores[at : at + count_pos].min())
        negative_lists.append(scores[at + count_pos : at + count_pos + count_neg])
        at += count_pos + count_neg
    return ScoredSet(queries, np.array(positive), negative_lists)


def set_stats(
    name: str,
    examples: TrainingExamples,
    context: MiningContext,
    scored: ScoredSet,
    margin: float = 0.1,
) -> NegativeSetStats:
    """The diagnostics of ``examples`` from its rescored pairs ``scored``."""
    hard, safe, eci, unsafe, count = [], [], [], 0, 0
    for p, negs in zip(scored.positive, scored.negatives, strict=True):
        count += len(negs)
        unsafe += int(np.sum(negs >= p))
        safety = np.clip((p - negs) / margin, 0.0, 1.0).mean()
        safe.append(safety)
        if p <= 0:
            continue
        hardness = np.clip(negs / p, 0.0, 1.0).mean()
        hard.append(hardness)
        efficiency = 0.0 if hardness + safety == 0 else 2 * hardness * safety / (hardness + safety)
        eci.append(math.log1p(len(negs)) * efficiency)
    hidden, mined = heldout_counts(examples, context)
    all_negatives = np.concatenate(scored.negatives) if scored.negatives else np.zeros(0)
    return NegativeSetStats(
        name=name,
        queries=len(scored.query_ids),
        negatives_per_query=count / max(len(scored.query_ids), 1),
        positive_mean=float(np.mean(scored.positive)) if len(scored.positive) else math.nan,
        negative_mean=float(np.mean(all_negatives)) if len(all_negatives) else math.nan,
        hardness=float(np.mean(hard)) if hard else math.nan,
        safety=float(np.mean(safe)) if safe else math.nan,
        unsafe_share=unsafe / count if count else math.nan,
        eci=float(np.mean(eci)) if eci else math.nan,
        heldout=hidden,
        heldout_mined=mined,
    )


def heldout_counts(examples: TrainingExamples, context: MiningContext) -> tuple[int, int]:
    """(hidden positives, how many of them are among the negatives of their query)."""
    rows = examples.table.select(["query_id", "positive_id", "negative_ids"]).to_pylist()
    used: dict[str, set[str]] = {}
    negatives: dict[str, set[str]] = {}
    for row in rows:
        used.setdefault(row["query_id"], set()).add(row["positive_id"])
        negatives.setdefault(row["query_id"], set()).update(row["negative_ids"])
    hidden = mined = 0
    for query, shown in used.items():
        for doc in context.all_positives.get(query, set()) - shown:
            hidden += 1
            mined += doc in negatives[query]
    return hidden, mined


def plot_histograms(scored: Mapping[str, ScoredSet], path: str | Path, bins: int = 40) -> None:
    """One panel per set: histograms of positive and negative scores (PNG, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..data import atomic_path

    names = list(scored)
    columns = min(3, len(names)) or 1
    rows = math.ceil(len(names) / columns) or 1
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names, strict=False):
        data = scored[name]
        negatives = np.concatenate(data.negatives) if data.negatives else np.zeros(0)
        low = min(negatives.min(initial=1.0), data.positive.min(initial=1.0))
        high = max(negatives.max(initial=0.0), data.positive.max(initial=0.0))
        edges = np.linspace(low, high, bins + 1)
        ax.hist(negatives, bins=edges, density=True, alpha=0.6, label="negatives")
        ax.hist(data.positive, bins=edges, density=True, alpha=0.6, label="positives")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("score")
        ax.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)


def stats_table(stats: Sequence[NegativeSetStats]) -> list[dict[str, Any]]:
    """The rows of a comparison table, one per set."""
    return [s.to_dict() for s in stats]
