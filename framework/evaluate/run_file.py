"""``evaluate_run_file(path, qrels, metrics)``: a run file of any size, in bounded memory.

A run file of more than ``WHOLE_MAX_BYTES`` is streamed: read in blocks of whole queries
(``rankarena.data.run_blocks``) of ``STREAM_BLOCK_ROWS`` rows, or fewer when the memory
limit (``rankarena.core.memory``: ``RANKARENA_MAX_MEMORY``, else half the physical memory)
allows fewer, each block joined with the qrels and evaluated, its per-query values kept and
the block dropped. Peak memory is then the process's memory before the run, plus the qrels,
plus one block, sized so that the whole stays under the limit. Blocks are also faster than
one whole read (``STREAM_BLOCK_ROWS``). A smaller run, or one whose queries' lines are not
together (which blocks cannot read) when its in-memory evaluation fits the limit, is read
whole and evaluated as ``evaluate`` does, its lines in any order; one that neither fits
nor streams is an error naming the line out of place.

The per-query values of a block are exactly those of the same queries in the whole run
(every metric but those pooling all queries, ``pools_queries``, is a function of one
query's rows and judgements; a pooled one, such as ``auc``, makes ``eval`` read the run
whole or say in one line that it cannot), so the streamed result is
the in-memory one: the per-query values are put back in query-id byte order before the
run's value (``Evaluation.mean``) is taken, which makes it equal bit for bit.
``complete=True`` evaluates the qrels queries the run never named at the end, against no
retrieved document, as ``JudgedRun`` does for them.

Memory per row is a measured constant (``BYTES_PER_BLOCK_ROW``: Arrow's parsed batch, the
sorted ``Run`` and the ``JudgedRun`` arrays of a block;
``WHOLE_BYTES_PER_FILE_BYTE``: reading and evaluating a run whole, per byte of a TREC
file), so the bound holds up to that estimate's accuracy. A limit too small for even a
minimal block (``MIN_BLOCK_ROWS``) is a one-line error before anything is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..core.memory import format_bytes, memory_limit, parse_bytes, resident_bytes
from ..data.qrels import Qrels
from ..data.run import Run
from ..data.run_blocks import QueryOutOfPlace, read_parquet_run_blocks, read_trec_run_blocks
from ..data.trec import read_trec_run
from ..errors import DataFormatError, ParameterError, RankarenaError
from .engine import (
    Evaluation,
    evaluate,
    evaluation_key,
    no_overlap_error,
    per_query_values,
    resolve_metrics,
    summary_rule,
)
from .judged import JudgedRun
from .metric import MetricLike

BYTES_PER_BLOCK_ROW = 600
"""Peak bytes per row of a streamed block (measured: 10M-line runs, ``benchmarks/
bench_eval_stream.py``), with a margin."""
WHOLE_BYTES_PER_FILE_BYTE = 12
"""Peak bytes per byte of a TREC run file read and evaluated whole (measured ≈ 9.1 on
1M-line runs of 43 bytes a line), with a margin; for Parquet runs, ``BYTES_PER_BLOCK_ROW``
per row."""
QRELS_BYTES_PER_ROW = 200
"""Bytes per qrels row a block's join holds besides the block (estimate)."""
STREAM_BLOCK_ROWS = 1_000_000
"""Rows per block when memory allows more: streaming in blocks of this size is faster than
reading whole (measured on a 10M-line run: 4.1 s at 500k or 1M rows a block, 12.1 s whole;
arrays that stay in cache, and Arrow parsing the next block while one is evaluated)."""
WHOLE_MAX_BYTES = 64 * 2**20
"""Runs up to this size (TREC bytes) are read whole without trying blocks."""
OPTIONS = ("relevance_level", "complete", "ignore_identical_ids")
MIN_BLOCK_ROWS = 100_000
"""The smallest block worth streaming; a limit leaving less is refused before reading."""


def evaluate_run_file(
    path: str | os.PathLike[str],
    qrels: Qrels,
    metrics: Sequence[str | MetricLike],
    *,
    max_memory: int | str | None = None,
    block_rows: int | None = None,
    host: Any = None,
    on_rows: Callable[[int], None] | None = None,
    **options: Any,
) -> Evaluation:
    """Evaluate the run file at ``path`` (TREC text, or ``.parquet``) against ``qrels``
    within the memory limit (module docstring).

    :param max_memory: bytes (or a size such as ``"2G"``) the process may use; default
        the memory limit (``RANKARENA_MAX_MEMORY``, else half the physical memory).
    :param block_rows: stream in blocks of about this many rows whatever the limit (the
        run must then have each query's lines together).
    :param on_rows: called with the number of rows of each block evaluated (progress).
    :param options: ``relevance_level``, ``complete``, ``ignore_identical_ids``, as for
        ``evaluate``.
    """
    limit, source = _limit(max_memory)
    path = Path(path)
    parquet = path.suffix == ".parquet"
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ParameterError(
            f"unknown evaluation option(s): {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(OPTIONS)}"
        )
    if not path.is_file():
        raise DataFormatError(path, "no such file")
    reader = read_parquet_run_blocks if parquet else read_trec_run_blocks
    metrics = resolve_metrics(metrics, host)  # once: the paths below take the objects
    pooled = [m.name for m in metrics if getattr(m, "pools_queries", False)]
    if block_rows is not None:
        if pooled:
            raise ParameterError(
                f"metric {pooled[0]!r} pools every query's scores: it cannot be evaluated "
                f"in blocks (block_rows={block_rows}); evaluate the run whole"
            )
        blocks = reader(path, block_rows, f"block_rows={block_rows}")
        return _evaluate_blocks(blocks, qrels, metrics, host, on_rows, path, options)
    qrels_bytes = QRELS_BYTES_PER_ROW * len(qrels)
    free = limit - resident_bytes() - qrels_bytes
    whole_bytes = _whole_bytes(path, parquet)
    whole_fits = whole_bytes <= free

    def whole() -> Evaluation:
        run = Run.from_parquet(path) if parquet else read_trec_run(path)
        evaluation = evaluate(run, qrels, metrics, host=host, **options)
        if on_rows is not None:
            on_rows(len(run))
        return evaluation

    if whole_fits and (pooled or path.stat().st_size <= WHOLE_MAX_BYTES):
        return whole()
    if pooled:
        raise RankarenaError(
            f"eval needs {format_bytes(whole_bytes)} to read {path.name} whole, which metric "
            f"{pooled[0]!r} needs (it pools every query's scores); limit: "
            f"{format_bytes(limit)} ({source}); raise the limit or leave {pooled[0]!r} out"
        )
    block_lines = min(free // BYTES_PER_BLOCK_ROW, STREAM_BLOCK_ROWS)
    if block_lines < MIN_BLOCK_ROWS and not whole_fits:
        raise RankarenaError(
            f"eval needs at least {format_bytes(MIN_BLOCK_ROWS * BYTES_PER_BLOCK_ROW)} "
            f"besides the {format_bytes(limit - free)} in use (the program and the "
            f"qrels) to stream {path.name}; limit: {format_bytes(limit)} ({source})"
        )
    try:
        blocks = reader(path, max(block_lines, MIN_BLOCK_ROWS), source)
        return _evaluate_blocks(blocks, qrels, metrics, host, on_rows, path, options)
    except QueryOutOfPlace:
        if not whole_fits:
            raise
    return whole()  # its queries are not together: read whole, any order


def _limit(max_memory: int | str | None) -> tuple[int, str]:
    if max_memory is None:
        return memory_limit()
    if isinstance(max_memory, str):
        return parse_bytes(max_memory, "max_memory"), f"max_memory={max_memory}"
    return int(max_memory), f"max_memory={max_memory}"


def _whole_bytes(path: Path, parquet: bool) -> int:
    """Estimated peak memory of reading and evaluating the run whole."""
    if parquet:
        try:
            return pq.ParquetFile(path).metadata.num_rows * BYTES_PER_BLOCK_ROW
        except (OSError, pa.ArrowException):
            return 0  # not readable: Run.from_parquet names the problem
    return path.stat().st_size * WHOLE_BYTES_PER_FILE_BYTE


def _evaluate_blocks(
    blocks, qrels: Qrels, metrics, host, on_rows, path: Path, options: dict
) -> Evaluation:
    """Evaluate each block, keep its per-query values; put them together in query order."""
    resolved = resolve_metrics(metrics, host)
    names = [m.name for m in resolved]
    summaries = {m.name: summary_rule(m) for m in resolved}
    complete = bool(options.pop("complete", False))
    ids: list[pa.Array] = []
    values: dict[str, list[np.ndarray]] = {name: [] for name in names}
    run_queries = 0
    first_query = None
    seen: list[pa.Array] = []
    for run in blocks:
        queries = pc.unique(run.table.column("query_id"))
        run_queries += len(queries)
        first_query = first_query or run.table.column("query_id")[0].as_py()
        if complete:
            seen.append(queries)
        judged = JudgedRun(run, qrels.for_queries(queries), **options)
        if judged.n_queries:
            ids.append(judged.query_ids)
            for name, array in per_query_values(resolved, judged).items():
                values[name].append(array)
        if on_rows is not None:
            on_rows(len(run))
        del run, judged
    if complete:
        _add_unretrieved(qrels, seen, resolved, ids, values, options)
    if not ids:
        raise no_overlap_error(qrels, path, run_queries, first_query)
    query_ids = pa.concat_arrays(ids)
    order = pc.sort_indices(query_ids).to_numpy()
    per_query = {name: np.concatenate(arrays)[order] for name, arrays in values.items()}
    settings = {"relevance_level": 1, "ignore_identical_ids": False, **options}
    settings["complete"] = complete
    keys = {m.name: evaluation_key(qrels, m, **settings) for m in resolved}
    ordered = query_ids.take(pa.array(order)).to_pylist()
    return Evaluation(ordered, per_query, names, keys, summaries)


def _add_unretrieved(qrels, seen, resolved, ids, values, options) -> None:
    """With ``complete``: the qrels queries no block named, scored on no document."""
    all_queries = qrels.table.column("query_id")
    named = pa.concat_arrays(seen) if seen else pa.array([], pa.string())
    missing = pc.invert(pc.is_in(all_queries, value_set=named))
    if not pc.any(missing).as_py():
        return
    rest = Qrels(qrels.table.filter(missing), source=qrels.source)
    empty = Run.from_arrays([], [], [])
    judged = JudgedRun(empty, rest, complete=True, **options)
    ids.append(judged.query_ids)
    for name, array in per_query_values(resolved, judged).items():
        values[name].append(array)
