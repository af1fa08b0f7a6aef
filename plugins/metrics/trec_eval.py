"""Built-in metrics with trec_eval semantics (their values equal pytrec_eval's).

Notation, for one query: ranked documents d_1..d_n, grade g_i (0 when unjudged: absent
from the qrels, or with a negative grade, trec_eval's "in the pool but not judged"), relevant
r_i = [g_i >= ℓ] with relevance level ℓ (default 1), R = number of judged relevant
documents, cutoff k (the whole ranking when absent).

References: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
ACM TOIS 20(4), 2002 (nDCG); Voorhees, "The TREC-8 question answering track report", 1999
(reciprocal rank); Buckley & Voorhees, "Evaluating evaluation measure stability", SIGIR
2000 (AP, R-precision); trec_eval (NIST) for the exact conventions.
"""

from __future__ import annotations

import numpy as np

import rankarena
from rankarena import JudgedRun, Metric


def ratio_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` per query, 0 where the denominator is 0 (trec_eval)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


class NDCG(Metric):
    """nDCG@k = DCG@k / IDCG@k, DCG@k = Σ_{i≤k, g_i>0} g_i / log2(i+1); 0 when IDCG is 0.

    IDCG@k is DCG@k of the qrels' positive grades sorted in decreasing order (trec_eval
    ``ndcg_cut``; gains are the raw grades).
    """

    key = "ndcg"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        rows = np.flatnonzero(judged.top(self.k) & (judged.grade > 0))
        gain = judged.grade[rows] * judged.discount(judged.position[rows])
        dcg = np.bincount(judged.query_index[rows], gain, minlength=judged.n_queries)
        dcg = dcg.astype(np.float64)  # bincount of nothing is int
        ideal = judged.ideal_grade * judged.discount(judged.ideal_position)
        keep = np.ones(len(ideal), bool) if self.k is None else judged.ideal_position < self.k
        idcg = np.bincount(judged.ideal_query_index[keep], ideal[keep], minlength=judged.n_queries)
        return ratio_or_zero(dcg, idcg)


class RecipRank(Metric):
    """MRR@k: 1 / rank of the first relevant document within the top k, else 0.

    Without k it is trec_eval's ``recip_rank``; with k it equals ``recip_rank`` computed on
    the run cut at k (BEIR's MRR@k).
    """

    key = "mrr"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        first = judged.first_row(judged.relevant & judged.top(self.k)).astype(np.float64)
        return np.divide(1.0, first + 1.0, out=np.zeros_like(first), where=first >= 0)


class Recall(Metric):
    """Recall@k = Σ_{i≤k} r_i / R (0 when R = 0)."""

    key = "recall"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        hits = judged.per_query_count(judged.relevant & judged.top(self.k))
        return ratio_or_zero(hits, judged.num_relevant)


class Precision(Metric):
    """P@k = Σ_{i≤k} r_i / k (the divisor is k even when fewer are retrieved)."""

    key = "p"
    requires_k = True

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.per_query_count(judged.relevant & judged.top(self.k)) / self.k


class AveragePrecision(Metric):
    """AP@k = (1/R) Σ_{i≤k, r_i=1} P@i (trec_eval ``map_cut``; ``map`` without k)."""

    key = "map"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        rows = judged.relevant_rows
        keep = slice(None) if self.k is None else judged.position[rows] < self.k
        precision = judged.relevant_rank[keep] / (judged.position[rows][keep] + 1.0)
        total = np.bincount(
            judged.query_index[rows][keep], precision, minlength=judged.n_queries
        ).astype(np.float64)
        return ratio_or_zero(total, judged.num_relevant)


class Success(Metric):
    """Success@k = 1 if any of the top k is relevant, else 0."""

    key = "success"
    requires_k = True

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return (judged.per_query_count(judged.relevant & judged.top(self.k)) > 0).astype(float)


class RPrecision(Metric):
    """R-precision = Σ_{i≤R} r_i / R (0 when R = 0). Takes no cutoff."""

    key = "r-precision"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        mask = judged.relevant & (judged.position < judged.num_relevant[judged.query_index])
        return ratio_or_zero(judged.per_query_count(mask), judged.num_relevant)


@rankarena.hookimpl
def register_metrics(register) -> None:
    register("ndcg", NDCG, aliases=["ndcg_cut"])
    register("mrr", RecipRank, aliases=["recip_rank", "rr"])
    register("recall", Recall)
    register("p", Precision, aliases=["precision"])
    register("map", AveragePrecision, aliases=["ap", "map_cut"])
    register("success", Success)
    register("r-precision", RPrecision, aliases=["rprec", "r_precision"])
