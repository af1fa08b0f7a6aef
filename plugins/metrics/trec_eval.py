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


def check_gains(key: str, gains: object) -> dict[int, float] | None:
    """Validate an nDCG ``gains`` parameter ``{relevance level: gain}``: levels are integers
    >= 0, gains finite numbers (0 and negative allowed). Returns the gains sorted by level,
    without the levels whose gain is their default (the level itself); None when none is
    left (the raw grades as gains)."""
    if gains is None:
        return None
    if not isinstance(gains, dict):
        raise ParameterError(
            f"metric {key!r}: gains must be a dict {{relevance level: gain}}, got {gains!r}"
        )
    checked: dict[int, float] = {}
    for level, gain in gains.items():
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise ParameterError(
                f"metric {key!r}: gains keys must be relevance levels (integers >= 0), "
                f"got {level!r}"
            )
        if isinstance(gain, bool) or not isinstance(gain, int | float):
            raise ParameterError(
                f"metric {key!r}: the gain of level {level} must be a number, got {gain!r}"
            )
        if not math.isfinite(gain):
            raise ParameterError(
                f"metric {key!r}: the gain of level {level} must be finite, got {gain!r}"
            )
        if float(gain) != level:
            checked[level] = float(gain)
    return dict(sorted(checked.items())) or None


def level_gains(grade: np.ndarray, gains: dict[int, float] | None) -> np.ndarray:
    """The gain of each relevance level in ``grade`` (levels >= 0): ``gains.get(level,
    level)``."""
    grade = np.asarray(grade, dtype=np.float64)
    if not gains:
        return grade.copy()
    levels = np.array(list(gains), dtype=np.float64)
    values = np.array(list(gains.values()), dtype=np.float64)
    at = np.minimum(np.searchsorted(levels, grade), len(levels) - 1)
    return np.where(levels[at] == grade, values[at], grade)


def row_gains(judged: JudgedRun, gains: dict[int, float] | None) -> np.ndarray:
    """Per row, the gain of its grade (``level_gains``); 0 where the document is unjudged
    (absent from the qrels or with a negative grade), as trec_eval's ``get_gain``."""
    if not gains:
        return judged.grade
    return np.where(judged.judged, level_gains(judged.grade, gains), 0.0)


def group_positions(index: np.ndarray) -> np.ndarray:
    """0-based position of each entry within its group, ``index`` sorted."""
    return np.arange(len(index), dtype=np.int64) - np.searchsorted(index, index, side="left")


def ideal_gains(
    judged: JudgedRun, gains: dict[int, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ideal ranking's positive gains: per query, the gains > 0 of its judged documents
    (grade >= 0) in decreasing order, as ``(query index, 0-based position, gain)`` sorted by
    query. With the raw grades as gains these are ``JudgedRun``'s ideal arrays."""
    if not gains:
        return judged.ideal_query_index, judged.ideal_position, judged.ideal_grade
    query = judged.ideal_query_index
    gain = level_gains(judged.ideal_grade, gains)
    zero_gain = gains.get(0, 0.0)
    if zero_gain > 0:  # level 0 given a gain: the documents judged 0 join the ideal ranking
        n = judged.n_queries
        zeros = judged.num_judged - np.bincount(query, minlength=n)
        query = np.concatenate([query, np.repeat(np.arange(n, dtype=query.dtype), zeros)])
        gain = np.concatenate([gain, np.full(int(zeros.sum()), zero_gain)])
    keep = gain > 0
    order = np.lexsort((-gain[keep], query[keep]))
    query, gain = query[keep][order], gain[keep][order]
    return query, group_positions(query), gain


def gains_text(gains: dict[int, float]) -> str:
    """The canonical ``{1: 3.5, 2: 9.0}`` (levels sorted) that ``parse_metric_name`` reads
    back."""
    return "{" + ", ".join(f"{level}: {gain!r}" for level, gain in gains.items()) + "}"


class NDCG(Metric):
    """nDCG@k = DCG@k / IDCG@k, DCG@k = Σ_{i≤k} G(g_i) / log2(i+1); 0 when IDCG is 0.

    IDCG@k is DCG@k of the ideal ranking: the query's judged documents (grade >= 0) sorted
    by decreasing gain, summed while the gain is > 0. Gains are the raw grades (trec_eval
    ``ndcg`` and ``ndcg_cut``; ``ndcg@k``, ``ndcg``), or ``gains={level: gain}``
    (``ndcg(gains={1: 3.5, 2: 9.0})@10``: trec_eval ``ndcg.1=3.5,2=9.0``, whose ``m_ndcg.c``
    this follows): G(level) = gains.get(level, level) for a judged document; an unjudged
    one (absent from the qrels, or a negative grade) has gain 0. The relevance level plays
    no part: grade 0 has gain 0 unless ``gains`` gives level 0 one; gains may be 0 or
    negative (a negative gain lowers DCG and stays out of the ideal ranking). With k both
    DCG and IDCG stop at rank k (trec_eval's ``ndcg_cut`` takes no gains).

    trec_eval sorts the levels with a comparison that truncates the difference of two gains
    to an integer, so levels whose gains differ by less than 1 may stay out of order in its
    ideal ranking; rankarena sorts exactly (the two differ only in that case).
    """

    key = "ndcg"

    def __init__(self, k: int | None = None, gains: dict | None = None):
        super().__init__(k)
        self.gains = check_gains(self.key, gains)

    @property
    def name(self) -> str:
        """``ndcg@k``; ``ndcg(gains={1: 3.5, 2: 9.0})@k`` with gains, levels sorted."""
        base = self.key if self.gains is None else f"{self.key}(gains={gains_text(self.gains)})"
        return base if self.k is None else f"{base}@{self.k}"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        if self.gains is None:
            rows = judged.judged_rows[judged.grade[judged.judged_rows] > 0]
            if self.k is not None:
                rows = rows[judged.position[rows] < self.k]
            gain = judged.grade[rows] * judged.discount(judged.position[rows])
            ideal_query, ideal_position = judged.ideal_query_index, judged.ideal_position
            ideal = judged.ideal_grade * judged.discount(ideal_position)
        else:
            gains = row_gains(judged, self.gains)
            rows = np.flatnonzero(judged.top(self.k) & (gains != 0))
            gain = gains[rows] * judged.discount(judged.position[rows])
            ideal_query, ideal_position, ideal = ideal_gains(judged, self.gains)
            ideal = ideal * judged.discount(ideal_position)
        dcg = np.bincount(judged.query_index[rows], gain, minlength=judged.n_queries)
        dcg = dcg.astype(np.float64)  # bincount of nothing is int
        keep = np.ones(len(ideal), bool) if self.k is None else ideal_position < self.k
        idcg = np.bincount(ideal_query[keep], ideal[keep], minlength=judged.n_queries)
        return ratio_or_zero(dcg, idcg)


def per_query_cumsum(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per entry, the sum of ``values`` over the entries of its group up to and including
    it (entries grouped by ``index``, contiguously)."""
    values = np.asarray(values, dtype=np.float64)
    total = np.cumsum(values)
    if not len(values):
        return total
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    return total - np.repeat(total[starts] - values[starts], lengths)


class RNDCG(Metric):
    """Rndcg: nDCG averaged at the R levels (trec_eval ``Rndcg``, ``m_Rndcg.c``,
    experimental in trec_eval; nDCG of Järvelin & Kekäläinen, ACM TOIS 20(4), 2002).

    With gains as for ``ndcg`` (raw grades, or ``gains={level: gain}``, levels sorted
    exactly by gain as there) and the ideal ranking's gains G*_1 ≥ G*_2 ≥ … (the query's
    judged documents by decreasing gain), let P be the number of ideal gains > 0 and the R
    levels the ranks c ≤ P where the ideal gain changes: G*_{c+1} ≠ G*_c (always c = P).
    Rndcg is the mean of nDCG@c over the R levels (DCG@c of the ranking cut at c, over fewer
    ranks when fewer are retrieved), together with, where at least P + 2 documents are
    retrieved, nDCG of the whole ranking (the change to the gain 0 of the unjudged
    documents, at the number retrieved; trec_eval's loop skips it when exactly P + 1 are
    retrieved). 0 when the query has no relevant document (grade >= the relevance level),
    or when no gain is positive (trec_eval divides 0 by 0 there: NaN; possible only with
    custom gains). Takes no cutoff.
    """

    key = "rndcg"

    def __init__(self, gains: dict | None = None):
        super().__init__(None)
        self.gains = check_gains(self.key, gains)

    @property
    def name(self) -> str:
        """``rndcg``; ``rndcg(gains={1: 3.5, 2: 9.0})`` with gains, levels sorted."""
        return self.key if self.gains is None else f"{self.key}(gains={gains_text(self.gains)})"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        n = judged.n_queries
        dcg_rows = row_gains(judged, self.gains) * judged.discount(judged.position)
        dcg_cum = per_query_cumsum(judged.query_index, dcg_rows)
        first = np.flatnonzero(judged.position == 0)
        row_start = np.zeros(n, dtype=np.int64)
        row_start[judged.query_index[first]] = first
        query, position, gain = ideal_gains(judged, self.gains)
        ideal_rows = gain * judged.discount(position)
        idcg_cum = per_query_cumsum(query, ideal_rows)
        # the R levels: the last ideal rank of each run of equal positive gains
        last = np.ones(len(query), dtype=bool)
        last[:-1] = (query[1:] != query[:-1]) | (gain[1:] != gain[:-1])
        at_query = query[last]
        depth = np.minimum(position[last] + 1, judged.num_retrieved[at_query])
        dcg_at = np.zeros(len(depth), dtype=np.float64)
        retrieved = depth > 0
        dcg_at[retrieved] = dcg_cum[row_start[at_query[retrieved]] + depth[retrieved] - 1]
        total = np.bincount(at_query, dcg_at / idcg_cum[last], minlength=n).astype(np.float64)
        count = np.bincount(at_query, minlength=n).astype(np.float64)
        # the final change, to the unjudged documents' gain 0, at the number retrieved
        num_positive = np.bincount(query, minlength=n)
        final = (num_positive > 0) & (judged.num_retrieved >= num_positive + 2)
        ndcg = ratio_or_zero(
            judged.per_query_sum(dcg_rows), np.bincount(query, ideal_rows, minlength=n)
        )
        total += np.where(final, ndcg, 0.0)
        count += final
        return np.where(judged.num_relevant > 0, ratio_or_zero(total, count), 0.0)


class RecipRank(Metric):
    """MRR@k: 1 / rank of the first relevant document within the top k, else 0.

    Without k it is trec_eval's ``recip_rank``; with k it equals ``recip_rank`` computed on
    the run cut at k (BEIR's MRR@k).
    """

    key = "mrr"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        first = judged.first_relevant_position.astype(np.float64)
        found = (first >= 0) if self.k is None else (first >= 0) & (first < self.k)
        return np.divide(1.0, first + 1.0, out=np.zeros_like(first), where=found)


class Recall(Metric):
    """Recall@k = Σ_{i≤k} r_i / R (0 when R = 0)."""

    key = "recall"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return ratio_or_zero(judged.relevant_in_top(self.k), judged.num_relevant)


class Precision(Metric):
    """P@k = Σ_{i≤k} r_i / k (the divisor is k even when fewer are retrieved)."""

    key = "p"
    requires_k = True

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.relevant_in_top(self.k) / self.k


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
        return (judged.relevant_in_top(self.k) > 0).astype(float)


class RPrecision(Metric):
    """R-precision = Σ_{i≤R} r_i / R (0 when R = 0). Takes no cutoff."""

    key = "r-precision"

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        queries = judged.relevant_query
        within = judged.relevant_position < judged.num_relevant[queries]
        hits = np.bincount(queries[within], minlength=judged.n_queries).astype(np.float64)
        return ratio_or_zero(hits, judged.num_relevant)


def parameter_name(key: str, param: str, value: float, defaults: tuple[float, ...]) -> str:
    """The name of a metric with one numeric parameter that trec_eval computes at default
    values: pytrec_eval's ``key_0.20`` at a default, ``key(param=value)`` otherwise."""
    return f"{key}_{value:.2f}" if value in defaults else f"{key}({param}={value!r})"


RPREC_MULTS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)  # trec_eval's defaults


class RPrecMult(Metric):
    """Rprec_mult_m = precision at the multiple m of R: Σ_{i≤c} r_i / c with the cutoff
    c = ⌊m · R + 0.9⌋ (the divisor is c even when fewer are retrieved); 0 when c = 0
    (trec_eval ``Rprec_mult``, whose 10 default multiples 0.2, 0.4, …, 2.0 are registered
    as ``rprec_mult_0.20`` … ``rprec_mult_2.00``). Takes no cutoff.
    """

    key = "rprec_mult"

    def __init__(self, mult: float):
        super().__init__(None)
        if isinstance(mult, bool) or not isinstance(mult, int | float) or not mult > 0:
            raise ParameterError(
                f"metric 'rprec_mult': mult must be a positive number, got {mult!r}"
            )
        if not math.isfinite(mult):
            raise ParameterError(f"metric 'rprec_mult': mult must be finite, got {mult!r}")
        self.mult = float(mult)

    @property
    def name(self) -> str:
        """pytrec_eval's name ``Rprec_mult_0.20`` lowercased at the 10 default multiples,
        ``rprec_mult(mult=0.5)`` at others."""
        return parameter_name(self.key, "mult", self.mult, RPREC_MULTS)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        # trec_eval: cutoff = (long)(mult * num_rel + 0.9), in double precision
        cutoff = np.floor(self.mult * judged.num_relevant + 0.9).astype(np.int64)
        queries = judged.relevant_query
        within = judged.relevant_position < cutoff[queries]
        hits = np.bincount(queries[within], minlength=judged.n_queries).astype(np.float64)
        return ratio_or_zero(hits, cutoff)


def per_query_suffix_max(queries: np.ndarray, n_queries: int, values: np.ndarray) -> np.ndarray:
    """Per element, the maximum of ``values`` (in [0, 1]) over the elements of its query at
    or after it; ``queries`` (query index per element, < ``n_queries``) is non-decreasing."""
    if not len(values):
        return np.zeros(0, dtype=np.float64)
    # reversed, the queries come in decreasing index order: an offset growing along the
    # reversed rows keeps each query's running maximum from reaching the next query (the
    # rounding it adds is below 2 · n_queries · 2⁻⁵², 4e-10 for a million queries)
    offset = 2.0 * (n_queries - queries[::-1])
    running = np.maximum.accumulate(values[::-1] + offset) - offset
    return np.clip(running[::-1], 0.0, 1.0)


class NumRet(Metric):
    """num_ret@k = min(n, k): documents retrieved (trec_eval ``num_ret``; with k, on the
    run cut at k, unlike P@k whose divisor is k even when fewer are retrieved)."""

    key = "num_ret"
    summary = "sum"  # trec_eval's summary line sums the counts over queries
    bounds = (0.0, math.inf)  # a count

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.retrieved_in_top(self.k)


class NumRel(Metric):
    """num_rel = R, the judged relevant documents (trec_eval ``num_rel``). Takes no
    cutoff."""

    key = "num_rel"
    summary = "sum"  # trec_eval's summary line sums the counts over queries
    bounds = (0.0, math.inf)  # a count

    def __init__(self) -> None:
        super().__init__(None)

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.num_relevant.astype(np.float64)


class NumRelRet(Metric):
    """num_rel_ret@k = Σ_{i≤k} r_i, relevant documents retrieved (trec_eval
    ``num_rel_ret``)."""

    key = "num_rel_ret"
    summary = "sum"  # trec_eval's summary line sums the counts over queries
    bounds = (0.0, math.inf)  # a count

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return judged.relevant_in_top(self.k)


class SetP(Metric):
    """set_P@k = num_rel_ret@k / num_ret@k, 0 when nothing is retrieved (trec_eval
    ``set_P``: the divisor is the number retrieved, not k)."""

    key = "set_p"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return ratio_or_zero(judged.relevant_in_top(self.k), judged.retrieved_in_top(self.k))


class SetRecall(Metric):
    """set_recall@k = num_rel_ret@k / R, 0 when R = 0 (trec_eval ``set_recall``)."""

    key = "set_recall"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        return ratio_or_zero(judged.relevant_in_top(self.k), judged.num_relevant)


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
        hits = judged.relevant_in_top(self.k)
        precision = ratio_or_zero(hits, judged.retrieved_in_top(self.k))
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
        rows = judged.relevant_rows
        nonrel = judged.judged_rows[~judged.relevant[judged.judged_rows]]
        above = judged.count_above(nonrel, rows)
        queries = judged.query_index[rows]
        num_rel = judged.num_relevant[queries]
        num_nonrel = (judged.num_judged - judged.num_relevant)[queries]
        penalty = ratio_or_zero(np.minimum(above, num_rel), np.minimum(num_nonrel, num_rel))
        total = np.bincount(queries, 1.0 - penalty, minlength=judged.n_queries)
        return ratio_or_zero(total.astype(np.float64), judged.num_relevant)


MIN_GEO_MEAN = 1e-5  # trec_eval's floor before the logarithm (trec_eval.h)


class GMAP(Metric):
    """gm_map per query = ln(max(AP, 10⁻⁵)), AP as ``map`` (trec_eval ``gm_map``, and what
    pytrec_eval reports per query); the run's value is GMAP = exp(mean of these values),
    trec_eval's summary (Robertson, "On GMAP", CIKM 2006). Takes no cutoff.
    """

    key = "gm_map"
    summary = "exp_mean"
    bounds = (math.log(MIN_GEO_MEAN), 0.0)  # ln(AP), AP floored at 10⁻⁵

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
    # P@j only rises at relevant documents, so its maximum over j ≥ i (i relevant) is
    # reached at a relevant document: the suffix maximum runs over the relevant rows only
    precision = judged.relevant_rank / (judged.relevant_position + 1.0)
    best = per_query_suffix_max(judged.relevant_query, judged.n_queries, precision)
    rel_ret = np.bincount(judged.relevant_query, minlength=judged.n_queries).astype(np.int64)
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
        return parameter_name(self.key, "level", self.level, RECALL_LEVELS)

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
        n = judged.count_above(judged.judged_rows[~judged.relevant[judged.judged_rows]], rows)
        u = judged.count_above(judged.pooled_rows[~judged.judged[judged.pooled_rows]], rows)
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
    register("rprec_mult", RPrecMult)
    for mult in RPREC_MULTS:
        register(
            f"rprec_mult_{mult:.2f}",
            partial(RPrecMult, mult=mult),
            description=f"rprec_mult with mult={mult} (trec_eval's default multiple).",
        )
    register("rndcg", RNDCG)
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
