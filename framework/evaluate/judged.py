"""A run joined with its qrels, as flat NumPy arrays: what every metric computes from.

``JudgedRun`` is the public input of metric plugins. Rows are the retrieved documents of
the evaluated queries in rank order; per-query arrays have one entry per evaluated query.
All metrics are computed for all queries at once from these arrays (no per-query loop).

Which queries are evaluated follows trec_eval: the queries present in both the run and the
qrels, or, with ``complete=True`` (trec_eval ``-c``), every query in the qrels (a query the
run lacks then scores 0 on every metric here).

A negative grade (trec_eval's ``-1``, "in the pool but not judged") makes a document
unjudged, as trec_eval's ``form_res_rels.c`` does (``RELVALUE_UNJUDGED``): it is neither
relevant nor judged, has gain 0 and no place in the ideal ranking. Its query is still
evaluated; one judged only with negative grades has no relevant document and scores 0.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..data.ordering import encode, group_bounds
from ..data.qrels import Qrels
from ..data.run import Run
from ..errors import ParameterError


class ScorePool(NamedTuple):
    """Scores pooled over queries (``JudgedRun.score_pool``): the positives' scores (a
    positive the run does not hold scores ``-inf``), the pooled non-positives' scores in
    increasing order, and each score's query (an index into ``JudgedRun.query_ids``)."""

    positives: np.ndarray
    negatives: np.ndarray
    positive_query: np.ndarray
    negative_query: np.ndarray


class JudgedRun:
    """Run rows with their relevance grades, plus per-query judgement statistics.

    Row arrays (length = retrieved documents of evaluated queries, in rank order):

    * ``query_index`` — index of the row's query in ``query_ids``;
    * ``position`` — 0-based rank within the query;
    * ``score`` — the run's score;
    * ``grade`` — the qrels grade, 0 where the document is unjudged (absent from the qrels
      or judged with a negative grade);
    * ``judged`` — the document has a grade >= 0 in the qrels;
    * ``pooled`` — the document is in the qrels, with any grade (trec_eval's pool: a
      negative grade is pooled but unjudged);
    * ``relevant`` — ``grade >= relevance_level``.

    Per-query arrays (length ``n_queries``): ``num_relevant`` (judged documents with grade
    >= ``relevance_level``), ``num_judged`` (qrels documents with a grade >= 0, relevant or
    not, retrieved or not), ``num_retrieved``.

    Ideal ranking (for nDCG-like metrics): ``ideal_query_index``, ``ideal_position`` and
    ``ideal_grade`` list each query's positive grades from the qrels in decreasing order.
    """

    def __init__(
        self,
        run: Run,
        qrels: Qrels,
        *,
        relevance_level: int = 1,
        complete: bool = False,
        ignore_identical_ids: bool = False,
    ):
        if relevance_level < 1:
            raise ParameterError(f"relevance level must be at least 1, got {relevance_level}")
        self.relevance_level = relevance_level
        run_q = run.encoded_queries
        qrels_t = qrels.table
        qrels_queries = pc.unique(qrels_t.column("query_id"))
        # evaluated queries, in byte order of their ids
        if complete:
            evaluated = qrels_queries
        else:
            in_run = pc.is_in(qrels_queries, value_set=run_q.dictionary)
            evaluated = qrels_queries.filter(in_run)
        evaluated = evaluated.take(pc.sort_indices(evaluated))
        self.query_ids: pa.Array = evaluated
        self.n_queries = len(evaluated)

        # run rows -> evaluated query index (or -1)
        q_of_dict = _index_in(run_q.dictionary, evaluated)
        row_query = q_of_dict[run_q.codes]
        keep = row_query >= 0
        if ignore_identical_ids:
            same = pc.equal(run.table.column("query_id"), run.table.column("doc_id"))
            keep &= ~same.to_numpy(zero_copy_only=False)
        all_kept = bool(keep.all())
        rows = np.arange(len(keep)) if all_kept else np.flatnonzero(keep)
        self.query_index = row_query if all_kept else row_query[rows]
        self.score = run.table.column("score").to_numpy()
        if not all_kept:
            self.score = self.score[rows]
        starts, lengths = group_bounds(self.query_index)
        self.position = np.arange(len(rows), dtype=np.int64) - np.repeat(starts, lengths)
        self.num_retrieved = np.zeros(self.n_queries, dtype=np.int64)
        self.num_retrieved[self.query_index[starts]] = lengths

        # qrels rows -> (evaluated query index, qrels doc index)
        qrels_q = encode(qrels_t.column("query_id"))
        qrels_d = encode(qrels_t.column("doc_id"))
        qq = _index_in(qrels_q.dictionary, evaluated)[qrels_q.codes]
        grades = qrels_t.column("relevance").to_numpy().astype(np.int64)
        in_eval = qq >= 0
        qq, qd, grades = qq[in_eval], qrels_d.codes[in_eval], grades[in_eval]

        # look up each row's grade: key = query * n_docs + doc over the qrels' doc dictionary
        n_docs = max(len(qrels_d.dictionary), 1)
        keys = qq * n_docs + qd
        key_order = np.argsort(keys)
        keys, key_grades = keys[key_order], grades[key_order]
        run_docs = run.table.column("doc_id")
        row_doc = _index_in(
            run_docs if all_kept else run_docs.take(pa.array(rows)), qrels_d.dictionary
        )
        candidate = np.flatnonzero(row_doc >= 0)
        grade = np.zeros(len(rows), dtype=np.float64)
        judged = np.zeros(len(rows), dtype=bool)
        pooled = np.zeros(len(rows), dtype=bool)
        if len(candidate) and len(keys):
            row_keys = self.query_index[candidate] * n_docs + row_doc[candidate]
            at = np.minimum(np.searchsorted(keys, row_keys), len(keys) - 1)
            hit = keys[at] == row_keys
            found = key_grades[at[hit]]
            judged[candidate[hit]] = found >= 0
            pooled[candidate[hit]] = True
            grade[candidate[hit]] = np.maximum(found, 0)
        self.grade = grade
        self.judged = judged
        self.pooled = pooled
        self.relevant = grade >= relevance_level

        self.num_relevant = np.bincount(
            qq[grades >= relevance_level], minlength=self.n_queries
        ).astype(np.int64)
        self.num_judged = np.bincount(qq[grades >= 0], minlength=self.n_queries).astype(np.int64)
        positive = grades > 0
        ideal_order = np.lexsort((-grades[positive], qq[positive]))
        self.ideal_query_index = qq[positive][ideal_order]
        self.ideal_grade = grades[positive][ideal_order].astype(np.float64)
        i_starts, i_lengths = group_bounds(self.ideal_query_index)
        self.ideal_position = np.arange(len(self.ideal_grade), dtype=np.int64) - np.repeat(
            i_starts, i_lengths
        )

    # ------------------------------------------------------------------ helpers for metrics

    def top(self, k: int | None) -> np.ndarray:
        """Boolean row mask of the first ``k`` documents of each query (all rows if None)."""
        if k is None:
            return np.ones(len(self.position), dtype=bool)
        return self.position < k

    def per_query_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum ``values`` (one per row) over the rows of each query, optionally masked."""
        index = self.query_index if mask is None else self.query_index[mask]
        weights = values if mask is None else values[mask]
        return np.bincount(index, weights=weights, minlength=self.n_queries).astype(np.float64)

    def per_query_count(self, mask: np.ndarray) -> np.ndarray:
        """Count the rows of each query where ``mask`` holds."""
        return np.bincount(self.query_index[mask], minlength=self.n_queries).astype(np.float64)

    def first_row(self, mask: np.ndarray) -> np.ndarray:
        """Per query, the 0-based position of the first row where ``mask`` holds (-1: none)."""
        out = np.full(self.n_queries, -1, dtype=np.int64)
        rows = np.flatnonzero(mask)
        if len(rows):
            queries, first = np.unique(self.query_index[rows], return_index=True)
            out[queries] = self.position[rows[first]]
        return out

    @cached_property
    def relevant_rows(self) -> np.ndarray:
        """Indices of the relevant rows, in rank order."""
        return np.flatnonzero(self.relevant)

    @cached_property
    def relevant_rank(self) -> np.ndarray:
        """Per relevant row (``relevant_rows``), its 1-based rank among its query's relevant
        rows."""
        queries = self.query_index[self.relevant_rows]
        starts, lengths = group_bounds(queries)
        return np.arange(1, len(queries) + 1, dtype=np.int64) - np.repeat(starts, lengths)

    @cached_property
    def judged_rows(self) -> np.ndarray:
        """Indices of the judged rows (grade ≥ 0 in the qrels), in rank order."""
        return np.flatnonzero(self.judged)

    @cached_property
    def pooled_rows(self) -> np.ndarray:
        """Indices of the rows the qrels list (judged, or pooled with a negative grade)."""
        return np.flatnonzero(self.pooled)

    def count_above(self, marked_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per row of ``rows``, how many of ``marked_rows`` (sorted row indices) belong to
        its query and rank above it. Rows are grouped by query in rank order, so these are
        the marked indices between the query's first row and the row."""
        starts = rows - self.position[rows]
        return np.searchsorted(marked_rows, rows) - np.searchsorted(marked_rows, starts)

    @cached_property
    def relevant_position(self) -> np.ndarray:
        """Per relevant row (``relevant_rows``), its 0-based position in its query's
        ranking."""
        return self.position[self.relevant_rows]

    @cached_property
    def relevant_query(self) -> np.ndarray:
        """Per relevant row (``relevant_rows``), its query index."""
        return self.query_index[self.relevant_rows]

    def relevant_in_top(self, k: int | None) -> np.ndarray:
        """Per query, the relevant documents among its first ``k`` (all if None): the same
        as ``per_query_count(relevant & top(k))``, counted over the relevant rows only."""
        queries = self.relevant_query
        if k is not None:
            queries = queries[self.relevant_position < k]
        return np.bincount(queries, minlength=self.n_queries).astype(np.float64)

    def retrieved_in_top(self, k: int | None) -> np.ndarray:
        """Per query, min(retrieved, k): ``per_query_count(top(k))`` without a row mask."""
        count = self.num_retrieved if k is None else np.minimum(self.num_retrieved, k)
        return count.astype(np.float64)

    @cached_property
    def first_relevant_position(self) -> np.ndarray:
        """Per query, the 0-based position of its first relevant document (-1: none)."""
        out = np.full(self.n_queries, -1, dtype=np.int64)
        queries = self.relevant_query
        if len(queries):
            first = np.flatnonzero(np.r_[True, queries[1:] != queries[:-1]])
            out[queries[first]] = self.relevant_position[first]
        return out

    def score_pool(self, n: int) -> ScorePool:
        """The pool of the pooled ROC AUC of Sheikholeslami et al. (arXiv:2510.00137):
        every query's positives (grade >= ``relevance_level``; the run holds them first in
        ``positives``, in rank order, then those it lacks, at ``-inf``: below every score)
        and its top ``n`` non-positives by rank (judged non-relevant or unjudged), all
        queries together. Its ROC curve is ``rankarena.report.figures.roc_points``; its
        AUC the built-in metric ``auc@n``."""
        non_positive = np.flatnonzero(~self.relevant)
        # 0-based rank among its query's non-positives: its position less the positives above
        rank = self.position[non_positive] - self.count_above(self.relevant_rows, non_positive)
        pooled = non_positive[rank < n]
        order = np.argsort(self.score[pooled], kind="stable")
        found_per_query = np.bincount(self.relevant_query, minlength=self.n_queries)
        missing = np.maximum(self.num_relevant - found_per_query, 0)
        return ScorePool(
            positives=np.concatenate(
                [self.score[self.relevant_rows], np.full(int(missing.sum()), -np.inf)]
            ),
            negatives=self.score[pooled][order],
            positive_query=np.concatenate(
                [self.relevant_query, np.repeat(np.arange(self.n_queries), missing)]
            ),
            negative_query=self.query_index[pooled][order],
        )

    @staticmethod
    def discount(position: np.ndarray) -> np.ndarray:
        """The DCG discount ``1 / log2(position + 2)`` for 0-based positions."""
        return 1.0 / np.log2(position + 2.0)


def _index_in(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """For each of ``values``, its index in ``value_set`` or -1."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    found = pc.index_in(values, value_set=value_set)
    return found.fill_null(-1).to_numpy().astype(np.int64)
