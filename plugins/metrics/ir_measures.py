"""Built-in metrics with ir_measures semantics: ``judged``, ``rbp``, ``rbp-residual``, ``err``.

Their values equal the ir_measures package's (MacAvaney, Macdonald & Ounis, "Streamlining
evaluation with ir-measures", ECIR 2022) per query: ``Judged@k`` (its ``judged`` provider),
``RBP(rel=ℓ,p=p)`` (its ``cwl_eval`` provider) and ``ERR@k`` (its ``gdeval`` provider).

Notation, for one query: ranked documents d_1..d_n in the run's order (score descending,
ties by document id descending, as trec_eval), grade g_i (0 when unjudged), cutoff k (the
whole ranking when absent), depth d = min(k, n).

Differences from ir_measures, all outside what its providers accept or agree on:

* ties: ir_measures' ``judged`` and ``cwl_eval`` providers order tied scores by document id
  ascending (resp. input order); here every metric uses the one order above;
* a negative grade (trec_eval's "in the pool but not judged") counts as unjudged here, as
  in every rankarena metric; ir_measures' ``Judged`` and the RBP residual count any qrels
  entry as judged;
* RBP: ``cwl_eval`` normalises its weights over its 1000 first ranks, by 1 - p^1000; the
  paper's weights are used here (equal to 1e-9 for p <= 0.97), and ``rbp`` takes a cutoff
  (ir_measures' RBP takes none: RBP@k equals its RBP on the run cut at k);
* ERR: ``gdeval`` needs a cutoff and prints five decimals; ``err`` without k scores the
  whole ranking.
"""

from __future__ import annotations

import numpy as np

import rankarena
from rankarena import JudgedRun, Metric, ParameterError


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _param_text(value: object) -> str:
    """A parameter value as written in a metric name (``0.5``, ``2``): ``repr`` keeps every
    digit, so two different values never print the same."""
    return repr(value)


class Judged(Metric):
    """Judged@k = |{i ≤ d : d_i judged}| / d, the share of the top k that have a judgement.

    d = min(k, n): ir_measures divides by the number of documents in the top k, not by k
    (so a run shorter than k is not penalised); 0 for a query with no retrieved document.
    A document is judged when the qrels grade it >= 0. Used to check that a run's metric
    values rest on judged documents (MacAvaney et al., ECIR 2022; OpenNIR's ``judged``).
    """

    key = "judged"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        count = judged.per_query_count(judged.judged & judged.top(self.k))
        depth = judged.num_retrieved if self.k is None else np.minimum(judged.num_retrieved, self.k)
        return np.divide(count, depth, out=np.zeros_like(count), where=depth > 0)


class RankBiasedPrecision(Metric):
    """RBP = (1 - p) Σ_{i≤k} r_i p^(i-1), rank-biased precision (A. Moffat and J. Zobel,
    "Rank-biased precision for measurement of retrieval effectiveness", ACM TOIS 27(1), 2008).

    r_i = [g_i >= rel] is binary relevance (ir_measures' ``RBP(rel=ℓ)``; ``rel`` defaults to
    the evaluation's relevance level); p is the persistence, the probability that the user
    goes on from one document to the next. Names: ``rbp@k``, ``rbp(p=0.5)@k``,
    ``rbp(p=0.5,rel=2)`` (parameters other than the defaults, sorted).

    :param k: rank cutoff; ``None`` scores the whole ranking.
    :param p: persistence, 0 < p < 1 (0.8 by default, as ir_measures).
    :param rel: lowest relevant grade (>= 1); ``None``: the evaluation's relevance level.
    """

    key = "rbp"
    DEFAULT_P = 0.8

    def __init__(self, k: int | None = None, p: float = 0.8, rel: int | None = None):
        super().__init__(k)
        if not _is_number(p) or not 0.0 < p < 1.0:
            raise ParameterError(f"metric {self.key!r}: persistence p must be in (0, 1), got {p!r}")
        if rel is not None and (isinstance(rel, bool) or not isinstance(rel, int) or rel < 1):
            raise ParameterError(
                f"metric {self.key!r}: rel must be an integer >= 1 or None, got {rel!r}"
            )
        self.p = float(p)
        self.rel = rel

    @property
    def name(self) -> str:
        """``key@k`` with the defaults, ``key(p=0.5,rel=2)@k`` otherwise."""
        params = []
        if self.p != self.DEFAULT_P:
            params.append(f"p={_param_text(self.p)}")
        if self.rel is not None:
            params.append(f"rel={_param_text(self.rel)}")
        base = f"{self.key}({','.join(params)})" if params else self.key
        return base if self.k is None else f"{base}@{self.k}"

    def weights(self, judged: JudgedRun) -> np.ndarray:
        """Per row, its RBP weight (1 - p) p^(i-1) (``position`` is i - 1)."""
        return (1.0 - self.p) * np.power(self.p, judged.position.astype(np.float64))

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        relevant = judged.relevant if self.rel is None else judged.grade >= self.rel
        return judged.per_query_sum(self.weights(judged), relevant & judged.top(self.k))


class RankBiasedPrecisionResidual(RankBiasedPrecision):
    """The RBP residual: the most that unknown relevance could still add to RBP (Moffat &
    Zobel, 2008, section 5): residual = (1 - p) Σ_{i≤d, d_i unjudged} p^(i-1) + p^d.

    The unjudged documents within the depth d = min(k, n) and every rank below it count as
    relevant: the true RBP lies in [rbp, rbp + residual]. This is ``cwl_eval``'s residual
    expected utility (ir_measures' RBP provider) with unjudged gain 1. Parameters as ``rbp``
    (``rel`` does not change the residual). Name ``rbp-residual@k``.
    """

    key = "rbp-residual"
    higher_is_better = False  # the unjudged share of the weight: the less, the surer

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        unjudged = ~judged.judged & judged.top(self.k)
        depth = judged.num_retrieved if self.k is None else np.minimum(judged.num_retrieved, self.k)
        return judged.per_query_sum(self.weights(judged), unjudged) + np.power(self.p, depth)


class ExpectedReciprocalRank(Metric):
    """ERR@k = Σ_{i≤k} (R_i / i) Π_{j<i} (1 - R_j), R_i = (2^g_i - 1) / 2^gmax: expected
    reciprocal rank (O. Chapelle, D. Metzler, Y. Zhang and P. Grinspan, "Expected reciprocal
    rank for graded relevance", CIKM 2009).

    R_i is the probability that the user is satisfied by d_i, from its grade; gmax is the
    top of the grading scale: 4 by default, as gdeval (``MAX_JUDGMENT``, ir_measures' ERR
    provider), whatever the qrels' largest grade. A grade above gmax is an error.
    Name ``err@k``, ``err(gmax=3)@k`` with another scale.

    :param k: rank cutoff; ``None`` scores the whole ranking.
    :param gmax: the largest grade of the scale (an integer >= 1).
    """

    key = "err"
    DEFAULT_GMAX = 4

    def __init__(self, k: int | None = None, gmax: int = 4):
        super().__init__(k)
        if isinstance(gmax, bool) or not isinstance(gmax, int) or gmax < 1:
            raise ParameterError(f"metric 'err': gmax must be an integer >= 1, got {gmax!r}")
        self.gmax = gmax

    @property
    def name(self) -> str:
        """``err@k`` with gmax 4, ``err(gmax=3)@k`` otherwise."""
        base = self.key if self.gmax == self.DEFAULT_GMAX else f"{self.key}(gmax={self.gmax})"
        return base if self.k is None else f"{base}@{self.k}"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        rows = np.flatnonzero(judged.top(self.k) & (judged.grade > 0))
        grade = judged.grade[rows]
        if len(grade) and grade.max() > self.gmax:
            raise ParameterError(
                f"metric {self.name!r}: grade {grade.max():g} exceeds gmax={self.gmax}; "
                f"write err(gmax={int(grade.max())})"
            )
        satisfied = (np.exp2(grade) - 1.0) / 2.0**self.gmax
        # Π_{j<i} (1 - R_j) within each query: an exclusive cumulative sum of log(1 - R_j)
        # over the rows with R_j > 0 (the others contribute a factor 1), restarted per query
        log_stay = np.log1p(-satisfied)
        query = judged.query_index[rows]
        total = np.cumsum(log_stay) - log_stay
        first = np.r_[True, query[1:] != query[:-1]] if len(rows) else np.zeros(0, bool)
        start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
        before = np.exp(total - total[start])
        value = satisfied * before / (judged.position[rows] + 1.0)
        return np.bincount(query, value, minlength=judged.n_queries).astype(np.float64)


@rankarena.hookimpl
def register_metrics(register) -> None:
    register("judged", Judged)
    register("rbp", RankBiasedPrecision)
    register("rbp-residual", RankBiasedPrecisionResidual)
    register("err", ExpectedReciprocalRank)
