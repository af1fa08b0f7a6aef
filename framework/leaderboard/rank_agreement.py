"""How much two rankings of the same query agree: Kendall's τ-b over their top-k lists.

For one query, let A and B be the top-k document lists of the original and the perturbed
run. Every document of A ∪ B gets its rank in each list, and rank k + 1 (tied, at the
bottom) where the list lacks it; τ-b (Kendall 1945, tie-corrected) is computed between the
two rank vectors with ``scipy.stats.kendalltau``:

    τ_b = (C − D) / sqrt((C + D + T_A) · (C + D + T_B))

with C/D the concordant/discordant pairs and T_A/T_B the pairs tied only in A/only in B.
τ = 1 for identical top-k lists, about 0 for unrelated ones, −1 for a reversal. Used as
the ranking-stability measure of robustness runs (Wu et al. 2022, "Are Neural Ranking Models
Robust?", measure how much a perturbation moves the ranked list, not just the metric).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from ..data import Run


def top_lists(run: Run, k: int) -> dict[str, list[str]]:
    """Each query's top-``k`` document ids, best first."""
    table = run.top(k).table
    lists: dict[str, list[str]] = {}
    for query, doc in zip(
        table.column("query_id").to_pylist(), table.column("doc_id").to_pylist(), strict=True
    ):
        lists.setdefault(query, []).append(doc)
    return lists


def kendall_tau_topk(first: list[str], second: list[str], k: int) -> float:
    """τ-b between two top-k lists (see the module docstring); 1.0 when both are empty or
    hold the same single document."""
    docs = list(dict.fromkeys([*first[:k], *second[:k]]))
    if len(docs) < 2:
        return 1.0
    rank_a = {d: i for i, d in enumerate(first[:k])}
    rank_b = {d: i for i, d in enumerate(second[:k])}
    a = np.array([rank_a.get(d, k) for d in docs], dtype=float)
    b = np.array([rank_b.get(d, k) for d in docs], dtype=float)
    tau = kendalltau(a, b).statistic
    return float(tau) if np.isfinite(tau) else 0.0


def per_query_tau(original: Run, perturbed: Run, k: int, query_ids: list[str]) -> np.ndarray:
    """τ-b of every query in ``query_ids`` (a query absent from a run has an empty list)."""
    a, b = top_lists(original, k), top_lists(perturbed, k)
    return np.array([kendall_tau_topk(a.get(q, []), b.get(q, []), k) for q in query_ids])
