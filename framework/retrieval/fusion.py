"""Rank fusion: combine several runs of the same queries into one.

For a document d of query q and input runs i = 1..m with weights w_i:

* ``rrf`` — reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
  s(d) = Σ_i w_i / (k + rank_i(d)), over the runs that retrieved d; k = 60 by default.
* ``combsum`` — (Fox & Shaw, TREC-2 1994): s(d) = Σ_i w_i · norm_i(score_i(d)).
* ``combmnz`` — combsum × |{i : d ∈ run_i}|.

``norm`` is applied per query and run: ``min-max`` (s − min) / (max − min) (0 where all
scores are equal), ``z-score`` (s − mean) / std (0 where std = 0), or ``none``.
Only the first ``depth`` documents of each input are fused when ``depth`` is given.
A weight may be one number for every query or a mapping ``{query_id: w}`` (per-query
weights, as adaptive RRF computes them; queries missing from the mapping get weight 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..data.ordering import encode, group_bounds
from ..data.run import Run
from ..errors import ParameterError, did_you_mean

FUSION_METHODS = ("rrf", "combsum", "combmnz")
NORMALIZATIONS = ("min-max", "z-score", "none")


def fuse(
    runs: Sequence[Run],
    method: str = "rrf",
    *,
    k: float = 60.0,
    norm: str = "min-max",
    weights: Sequence[float | Mapping[str, float]] | None = None,
    depth: int | None = None,
) -> Run:
    """Fuse ``runs`` into one ``Run`` (see the module docstring for the formulas)."""
    if method not in FUSION_METHODS:
        raise ParameterError(
            f"unknown fusion method {method!r}{did_you_mean(method, FUSION_METHODS)}; "
            f"valid: {', '.join(FUSION_METHODS)}"
        )
    if norm not in NORMALIZATIONS:
        raise ParameterError(
            f"unknown normalization {norm!r}{did_you_mean(norm, NORMALIZATIONS)}; "
            f"valid: {', '.join(NORMALIZATIONS)}"
        )
    if not runs:
        raise ParameterError("fuse needs at least one run")
    weights = [1.0] * len(runs) if weights is None else list(weights)
    if len(weights) != len(runs):
        raise ParameterError(f"{len(weights)} weights given for {len(runs)} runs")
    parts = []
    for run, weight in zip(runs, weights, strict=True):
        table = run.table if depth is None else run.top(depth).table
        parts.append(
            pa.table(
                {
                    "query_id": table.column("query_id"),
                    "doc_id": table.column("doc_id"),
                    "part": _contribution(table, method, k, norm) * _row_weights(table, weight),
                }
            )
        )
    query_ids, doc_ids, total, count = _sum_by_pair(pa.concat_tables(parts))
    score = total * count if method == "combmnz" else total
    return Run.from_arrays(query_ids, doc_ids, score)


def _sum_by_pair(table: pa.Table) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
    """(query ids, doc ids, Σ part, count) per distinct (query_id, doc_id) pair.

    The pairs are grouped on integer codes (each id column dictionary-encoded once, key =
    query code × documents + doc code) by a sort, O(n log n) and cache-friendly, where a
    hash aggregation over the two string columns grew faster than n log n past a million
    rows (``benchmarks/bench_scaling.py``). Each pair's parts are summed in row order."""
    query = pc.dictionary_encode(table.column("query_id")).combine_chunks()
    doc = pc.dictionary_encode(table.column("doc_id")).combine_chunks()
    q_codes = query.indices.to_numpy().astype(np.int64)
    d_codes = doc.indices.to_numpy().astype(np.int64)
    keys = q_codes * max(len(doc.dictionary), 1) + d_codes
    pairs, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    parts = table.column("part").to_numpy()
    total = np.bincount(inverse, weights=parts, minlength=len(pairs))
    count = np.bincount(inverse, minlength=len(pairs)).astype(np.float64)
    query_ids = query.dictionary.take(pa.array(q_codes[first]))
    doc_ids = doc.dictionary.take(pa.array(d_codes[first]))
    return query_ids, doc_ids, total, count


def _row_weights(table: pa.Table, weight: float | Mapping[str, float]) -> np.ndarray | float:
    """The weight of every row of ``table``: a constant, or looked up by query id."""
    if not isinstance(weight, Mapping):
        return float(weight)
    encoded = encode(table.column("query_id"))
    per_query = np.array(
        [float(weight.get(q, 1.0)) for q in encoded.dictionary.to_pylist()], dtype=np.float64
    )
    return per_query[encoded.codes]


def _contribution(table: pa.Table, method: str, k: float, norm: str) -> np.ndarray:
    """Per row of one run (trec_eval order), its unweighted share of the fused score."""
    if method == "rrf":
        return 1.0 / (k + table.column("rank").to_numpy().astype(np.float64))
    scores = table.column("score").to_numpy()
    if norm == "none" or len(scores) == 0:
        return scores.astype(np.float64)
    queries = encode(table.column("query_id")).codes  # rows are grouped by query
    starts, lengths = group_bounds(queries)
    if norm == "min-max":
        low = np.minimum.reduceat(scores, starts)
        high = np.maximum.reduceat(scores, starts)
        span = np.repeat(high - low, lengths)
        shifted = scores - np.repeat(low, lengths)
        return np.divide(shifted, span, out=np.zeros_like(shifted), where=span > 0)
    mean = np.add.reduceat(scores, starts) / lengths
    centred = scores - np.repeat(mean, lengths)
    std = np.sqrt(np.add.reduceat(centred**2, starts) / lengths)
    spread = np.repeat(std, lengths)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)
