"""Built-in metrics with trec_eval semantics (their values equal pytrec_eval's).

Notation, for one query: ranked documents d_1..d_n, grade g_i (0 when unjudged: absent
from the qrels, or with a negative grade, trec_eval's "in the pool but not judged"), relevant
r_i = [g_i >= ℓ] with relevance level ℓ (default 1), R = number of judged relevant
documents, cutoff k (the whole ranking when absent).

The set-based measures (``num_ret``, ``num_rel_ret``, ``set_p``, ``set_recall``,
``set_f``) take an optional cutoff k; with it they equal trec_eval on the run cut at k
(``trec_eval -M k``). trec_eval's own measures of these names have no cutoff.

References: Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
ACM TOIS 20(4), 2002 (nDCG); Voorhees, "The TREC-8 question answering track report", 1999
(reciprocal rank); Buckley & Voorhees, "Evaluating evaluation measure stability", SIGIR
2000 (AP, R-precision); Buckley & Voorhees, "Retrieval evaluation with incomplete
information", SIGIR 2004 (bpref); Robertson, "On GMAP", CIKM 2006 (gm_map); van Rijsbergen,
"Information Retrieval", 1979 (F); trec_eval (NIST, ``m_*.c``) for the exact conventions.
"""

from __future__ import annotations

import math
import weakref
from functools import partial

import numpy as np

import rankarena
from rankarena import JudgedRun, Metric, ParameterError


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


def per_query_cumulative(judged: JudgedRun, mask: np.ndarray) -> np.ndarray:
    """Per row, the number of rows of its query up to and including it where ``mask``
    holds (rows are grouped by query, in rank order)."""
    counts = np.cumsum(mask, dtype=np.int64)
    first = np.flatnonzero(judged.position == 0)
    before = np.zeros(judged.n_queries, dtype=np.int64)
    before[judged.query_index[first]] = counts[first] - mask[first]
    return counts - before[judged.query_index]


def per_query_suffix_max(judged: JudgedRun, values: np.ndarray) -> np.ndarray:
    """Per row, the maximum of ``values`` (in [0, 1]) over the rows of its query at or
    below it in the ranking."""
    if not len(values):
        return np.zeros(0, dtype=np.float64)
    # reversed, the queries come in decreasing index order: an offset growing along the
    # reversed rows keeps each query's running maximum from reaching the next query (the
    # rounding it adds is below 2 · n_queries · 2⁻⁵², 4e-10 for a million queries)
    offset = 2.0 * (judged.n_queries - judged.query_index[::-1])
    running = np.maximum.accumulate(values[::-1] + offset) - offset
    return np.clip(running[::-1], 0.0, 1.0)


class NumRet(Metric):
    """num_ret@k = min(n, k): documents retrieved (trec_eval ``num_ret``; with k, on the
    run cut at k, unlike P@k whose divisor is k even when fewer are retrieved)."""

    key = "num_ret"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.per_query_count(judged.top(self.k))


class NumRel(Metric):
    """num_rel = R, the judged relevant documents (trec_eval ``num_rel``). Takes no
    cutoff."""

    key = "num_rel"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.num_relevant.astype(np.float64)


class NumRelRet(Metric):
    """num_rel_ret@k = Σ_{i≤k} r_i, relevant documents retrieved (trec_eval
    ``num_rel_ret``)."""

    key = "num_rel_ret"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.per_query_count(judged.relevant & judged.top(self.k))


class SetP(Metric):
    """set_P@k = num_rel_ret@k / num_ret@k, 0 when nothing is retrieved (trec_eval
    ``set_P``: the divisor is the number retrieved, not k)."""

    key = "set_p"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        top = judged.top(self.k)
        return ratio_or_zero(
            judged.per_query_count(judged.relevant & top), judged.per_query_count(top)
        )


class SetRecall(Metric):
    """set_recall@k = num_rel_ret@k / R, 0 when R = 0 (trec_eval ``set_recall``)."""

    key = "set_recall"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        hits = judged.per_query_count(judged.relevant & judged.top(self.k))
        return ratio_or_zero(hits, judged.num_relevant)


class SetF(Metric):
    """set_F@k = (1 + β) · P · Rec / (β · P + Rec), P = set_P@k, Rec = set_recall@k; 0 when
    P + Rec = 0 (trec_eval ``set_F``, parameter β, default 1: the harmonic mean F1).

    As in trec_eval's ``m_set_F.c``, β weighs recall linearly: it is what van Rijsbergen's
    F_b writes b² (``set_f(beta=0.25)`` is F_0.5 of the textbooks).
    """

    key = "set_f"

    def __init__(self, k: int | None = None, beta: float = 1.0):
        super().__init__(k)
        if isinstance(beta, bool) or not isinstance(beta, int | float) or not beta > 0:
            raise ParameterError(f"metric 'set_f': beta must be a positive number, got {beta!r}")
        if not math.isfinite(beta):
            raise ParameterError(f"metric 'set_f': beta must be finite, got {beta!r}")
        self.beta = float(beta)

    @property
    def name(self) -> str:
        """``set_f@k`` with β = 1, ``set_f(beta=0.5)@k`` otherwise."""
        base = self.key if self.beta == 1.0 else f"{self.key}(beta={self.beta!r})"
        return base if self.k is None else f"{base}@{self.k}"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        top = judged.top(self.k)
        hits = judged.per_query_count(judged.relevant & top)
        precision = ratio_or_zero(hits, judged.per_query_count(top))
        recall = ratio_or_zero(hits, judged.num_relevant)
        return ratio_or_zero((1.0 + self.beta) * precision * recall, self.beta * precision + recall)


class Bpref(Metric):
    """bpref = (1/R) Σ_{retrieved relevant d} (1 − min(n_d, R) / min(N, R)) (trec_eval
    ``bpref``; the term is 1 when n_d = 0), with n_d the judged non-relevant documents
    (0 <= grade < ℓ) ranked above d, N the judged non-relevant documents of the qrels;
    unjudged documents (absent, or with a negative grade) are skipped. Takes no cutoff.
    """

    key = "bpref"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        nonrel = judged.judged & ~judged.relevant
        rows = judged.relevant_rows
        above = per_query_cumulative(judged, nonrel)[rows]  # relevant rows are not nonrel
        queries = judged.query_index[rows]
        num_rel = judged.num_relevant[queries]
        num_nonrel = (judged.num_judged - judged.num_relevant)[queries]
        penalty = ratio_or_zero(np.minimum(above, num_rel), np.minimum(num_nonrel, num_rel))
        total = np.bincount(queries, 1.0 - penalty, minlength=judged.n_queries)
        return ratio_or_zero(total.astype(np.float64), judged.num_relevant)


MIN_GEO_MEAN = 1e-5  # trec_eval's floor before the logarithm (trec_eval.h)


class GMAP(Metric):
    """gm_map per query = ln(max(AP, 10⁻⁵)), AP as ``map`` (trec_eval ``gm_map``, and what
    pytrec_eval reports per query). The GMAP of a run is exp(mean of these values): the
    engine's mean is arithmetic, so the printed mean of ``gm_map`` is ln(GMAP); apply
    exp() to it. Takes no cutoff.
    """

    key = "gm_map"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return np.log(np.maximum(AveragePrecision().per_query(judged), MIN_GEO_MEAN))


RECALL_LEVELS = tuple(i / 10 for i in range(11))  # trec_eval's iprec_at_recall defaults


def interpolated_precision(judged: JudgedRun, levels: np.ndarray) -> np.ndarray:
    """Per query (rows) and recall level (columns): trec_eval's ``iprec_at_recall``.

    With n = ⌊level · R + 0.9⌋ (trec_eval 9.0's rule, which pytrec_eval builds; trec_eval
    10 rounds instead): 0 when n exceeds the relevant retrieved, else
    max_{j ≥ i} P@j, i the rank of the n-th relevant retrieved document (the first when
    n = 0), j up to the last retrieved.
    """
    relevant = judged.relevant
    precision = per_query_cumulative(judged, relevant) / (judged.position + 1.0)
    best = per_query_suffix_max(judged, precision)[judged.relevant_rows]
    rel_ret = np.bincount(
        judged.query_index[judged.relevant_rows], minlength=judged.n_queries
    ).astype(np.int64)
    first = np.cumsum(rel_ret) - rel_ret
    wanted = np.floor(levels[None, :] * judged.num_relevant[:, None] + 0.9).astype(np.int64)
    defined = (wanted <= rel_ret[:, None]) & (rel_ret[:, None] > 0)
    at = first[:, None] + np.maximum(wanted, 1) - 1
    out = np.zeros(at.shape, dtype=np.float64)
    out[defined] = best[at[defined]]
    return out


# the 11 default levels of a JudgedRun, computed once for all iprec_at_recall_L and 11pt_avg
_DEFAULT_LEVELS: weakref.WeakKeyDictionary[JudgedRun, np.ndarray] = weakref.WeakKeyDictionary()


def default_levels_precision(judged: JudgedRun) -> np.ndarray:
    """``interpolated_precision`` at ``RECALL_LEVELS``, cached per ``JudgedRun``."""
    values = _DEFAULT_LEVELS.get(judged)
    if values is None:
        values = _DEFAULT_LEVELS[judged] = interpolated_precision(judged, np.array(RECALL_LEVELS))
    return values


class IPrecAtRecall(Metric):
    """iprec_at_recall_L = interpolated precision at recall L: max_{j ≥ i} P@j, i the rank
    of the n-th relevant retrieved document, n = ⌊L · R + 0.9⌋; the first relevant one when
    n = 0; 0 when fewer than n are retrieved (trec_eval ``iprec_at_recall``, whose 11
    default levels 0.0, 0.1, …, 1.0 are registered as ``iprec_at_recall_0.00`` …
    ``iprec_at_recall_1.00``). Takes no cutoff.
    """

    key = "iprec_at_recall"

    def __init__(self, level: float):
        super().__init__(None)
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 <= level <= 1:
            raise ParameterError(
                f"metric 'iprec_at_recall': level must be a number in [0, 1], got {level!r}"
            )
        self.level = float(level)

    @property
    def name(self) -> str:
        """pytrec_eval's name ``iprec_at_recall_0.10`` at the 11 default levels,
        ``iprec_at_recall(level=0.25)`` at others."""
        if self.level in RECALL_LEVELS:
            return f"{self.key}_{self.level:.2f}"
        return f"{self.key}(level={self.level!r})"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        if self.level in RECALL_LEVELS:
            return default_levels_precision(judged)[:, RECALL_LEVELS.index(self.level)].copy()
        return interpolated_precision(judged, np.array([self.level]))[:, 0]


class ElevenPointAverage(Metric):
    """11pt_avg = (1/11) Σ_{L ∈ {0, 0.1, …, 1}} iprec_at_recall_L (trec_eval ``11pt_avg``).
    Takes no cutoff."""

    key = "11pt_avg"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return default_levels_precision(judged).mean(axis=1)


INFAP_EPSILON = 1e-5  # trec_eval.h


class InfAP(Metric):
    """infAP (Yilmaz & Aslam, CIKM 2006; trec_eval ``infAP``): (1/R) Σ over the retrieved
    relevant documents d at rank j+1 (j = 0, 1, …) of 1 when j = 0, else

        1/(j+1) + j/(j+1) · ((r + n + u) / j) · ((r + ε) / (r + n + 2ε)),

    with r, n, u the relevant, judged non-relevant and pooled-unjudged (negative grade)
    documents ranked above d, ε = 10⁻⁵: documents above d absent from the qrels (not in the
    pool) count as non-relevant, the pooled but unjudged ones are assumed relevant in the
    proportion of the judged ones. Takes no cutoff.
    """

    key = "infap"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        rows = judged.relevant_rows
        r = (judged.relevant_rank - 1).astype(np.float64)
        n = per_query_cumulative(judged, judged.judged & ~judged.relevant)[rows]
        u = per_query_cumulative(judged, judged.pooled & ~judged.judged)[rows]
        j = judged.position[rows].astype(np.float64)
        safe_j = np.maximum(j, 1.0)
        term = 1.0 / (j + 1.0) + (j / (j + 1.0)) * ((r + n + u) / safe_j) * (
            (r + INFAP_EPSILON) / (r + n + 2 * INFAP_EPSILON)
        )
        term = np.where(j == 0, 1.0, term)
        total = np.bincount(judged.query_index[rows], term, minlength=judged.n_queries)
        return ratio_or_zero(total.astype(np.float64), judged.num_relevant)


@rankarena.hookimpl
def register_metrics(register) -> None:
    register("ndcg", NDCG, aliases=["ndcg_cut"])
    register("mrr", RecipRank, aliases=["recip_rank", "rr"])
    register("recall", Recall)
    register("p", Precision, aliases=["precision"])
    register("map", AveragePrecision, aliases=["ap", "map_cut"])
    register("success", Success)
    register("r-precision", RPrecision, aliases=["rprec", "r_precision"])
    register("num_ret", NumRet)
    register("num_rel", NumRel)
    register("num_rel_ret", NumRelRet)
    register("set_p", SetP)
    register("set_recall", SetRecall)
    register("set_f", SetF)
    register("bpref", Bpref)
    register("gm_map", GMAP, aliases=["gmap"])
    register("iprec_at_recall", IPrecAtRecall)
    for level in RECALL_LEVELS:
        register(
            f"iprec_at_recall_{level:.2f}",
            partial(IPrecAtRecall, level=level),
            description=f"iprec_at_recall with level={level} (trec_eval's default level).",
        )
    register("11pt_avg", ElevenPointAverage, aliases=["11pt"])
    register("infap", InfAP, aliases=["inf_ap"])
