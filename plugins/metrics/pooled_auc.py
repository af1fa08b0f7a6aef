"""Built-in metric ``auc``: the ROC AUC of a run's scores pooled over all queries.

exact (the protocol of Sheikholeslami et al., "Optimizing What Matters: AUC-Driven Learning
for Robust Neural Retrieval", arXiv:2510.00137, 2025): for each query, its positives' scores
and the scores of its top N non-positive documents by score (N = 500 there), all queries'
pooled into one set of positives and one of negatives; the AUC is the probability that a
positive of the pool scores above a negative of the pool, ties counting one half (the
Mann–Whitney U statistic over |P|·|N|; equal to ``sklearn.metrics.roc_auc_score`` on the
pooled scores). Because a positive is compared with other queries' negatives, the AUC
measures whether one score threshold separates relevant from non-relevant documents across
queries, which no per-query metric does.

Positives are the documents with grade >= ``relevance_level``; every other document of the
run (judged non-relevant or unjudged) is a non-positive, as in the paper. The paper scores
every passage of the corpus; a run holds only its top documents, so a positive the run does
not hold has no score: it counts as below every pooled negative (the bound a truncated
ranking gives for its own query). Give a run deep enough to hold every positive (e.g. dense
retrieval at k = 1000 on SciFact) for the paper's number.

The run's value is the pooled AUC. The per-query value is the query's share of it: the
credit of its positives (negatives below them, plus half the tied ones) over |P|·|N|, so
the values add up to the AUC (``summary = "sum"``). The pool needs every query at once, so
``eval`` reads a run whole for this metric (a one-line error names the memory it needs if
that is above the limit), never block by block.
"""

from __future__ import annotations

import numpy as np

import rankarena
from rankarena import JudgedRun, Metric, ParameterError

DEFAULT_NEGATIVES = 500
"""Non-positives per query in the pool: the paper's 500."""


class PooledAUC(Metric):
    """exact: ROC AUC of all queries' positives against their top-N non-positives, pooled
    (see the module docstring; ``auc@N``, N = 500 when not given)."""

    key = "auc"
    summary = "sum"
    pools_queries = True
    uses_scores = True  # tied scores count one half; scores compare across queries

    def __init__(self, k: int | None = None):
        super().__init__(DEFAULT_NEGATIVES if k is None else k)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        pool = judged.score_pool(self.k)  # the paper's pool
        if len(pool.positives) == 0 or len(pool.negatives) == 0:
            absent = "positive" if len(pool.positives) == 0 else "non-positive document"
            raise ParameterError(
                f"metric {self.name!r}: the run's {judged.n_queries:,} evaluated queries have "
                f"no {absent}: the pooled AUC is undefined"
            )
        found = len(judged.relevant_rows)  # the positives the run holds come first
        scores = pool.positives[:found]
        below = np.searchsorted(pool.negatives, scores, side="left")
        tied = np.searchsorted(pool.negatives, scores, side="right") - below
        credit = below + 0.5 * tied  # a positive the run lacks: no credit, even with -inf runs
        total = np.bincount(pool.positive_query[:found], credit, minlength=judged.n_queries)
        return total / (len(pool.positives) * len(pool.negatives))


@rankarena.hookimpl
def register_metrics(register) -> None:
    register("auc", PooledAUC, aliases=["pooled_auc"])
