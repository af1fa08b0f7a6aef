"""Cost curves (issue 19): time and peak memory of each stage against size, fitted exponents.

    python benchmarks/bench_scaling.py                       # default sizes (~10-15 min, 2 cores)
    python benchmarks/bench_scaling.py --output /tmp/scaling --stages evaluate fusion
    python benchmarks/bench_scaling.py --max-scale 10        # every stage one decade further
    python benchmarks/bench_scaling.py --max-scale 0.1       # a quick smoke run
    python benchmarks/bench_scaling.py --sizes-aggregate 10,100,1000 --aggregators borda kemeny
    python benchmarks/bench_scaling.py --replot docs/figures/scaling/points.json  # no measuring

**Stages** (the product's public Python API; n is what grows, the rest is fixed):

============== =========================================================== ===============
stage          timed call                                                  n (default)
============== =========================================================== ===============
read-run       ``rankarena.data.read_trec_run(path)``: a TREC run file of  run lines,
               n lines (n / 1,000 queries x 1,000 docs)                    10k - 3.2M
evaluate       ``rankarena.evaluate(run, qrels, --metrics)`` on a prebuilt run lines,
               ``Run`` of n lines and its ``Qrels`` (5 judgements a query) 10k - 3.2M
bm25-index     ``retrievers.create("bm25").index(corpus)`` (defaults:      documents,
               porter, en stopwords, title + text)                         1k - 320k
bm25-search    ``.search(queries, k=--bm25-k)`` of --bm25-queries fixed    documents,
               queries on an index of n documents (indexing not timed)     1k - 100k
exact-search   ``rankarena.retrieval.vector_search.exact_search(queries,   documents,
               docs, --exact-k)``: n random fp32 docs x --dim, --exact-    1k - 1M
               queries fixed queries, on the CPU
fusion         ``rankarena.retrieval.fusion.fuse(runs, --fusion-method)``  lines per run,
               of --fusion-runs runs of n lines each                       10k - 3.2M
aggregate      ``aggregators.create(NAME).aggregate(table)`` for each of   systems,
               --aggregators, on a table of n systems x --tasks tasks      10 - 10k
store-append   --store-appends ``Results.append_to`` of --store-batch      rows in the
               rows each, into a results store already holding n rows      store, 10k-3.2M
============== =========================================================== ===============

**Data** (seeded, ``--seed``; never timed). Runs: query q has a pool of 2,000 documents
(``d{q*2000+j}``) of which each run takes 1,000 at random (so two runs share about half),
scores N(0, 1) sorted down the ranks; qrels: 3 retrieved documents (biased to the top
ranks) and 2 unretrieved ones per query, grades 1-3. The TREC file (``qid Q0 doc rank score
tag``) is written by the child just before it is read (so it is in the page cache).
BM25: documents of ``benchmarks/synthetic_corpus.py``'s ``CorpusModel`` (fitted once on
SciFact and climate-fever-sentences, ``--corpus-data``), a ``Corpus`` built in memory; the
queries are ``CorpusModel.queries`` drawn from the first --bm25-queries documents, which
every corpus size shares (a corpus of n documents is a prefix of a larger one), so every
size searches the same queries. Vectors: standard normal, rows L2-normalised, queries from
their own generator. Score tables: ``benchmarks/bench_aggregate.py``'s (strength + noise,
--missing cells empty unless the aggregator refuses holes). Store: a store made by one
append of n unique result rows (the state ``compact_store`` leaves: one part), then the
timed appends add new rows (no row replaced); the merges the appends trigger are timed
(their amortised cost over many appends is ``bench_store.py``'s subject).

**How** each (stage, n) point is measured: in a fresh Python process (``python
bench_scaling.py --point ...``, one at a time), which builds the data, runs the stage once
on tiny data (imports, thread pools, lazy initialisation: one-off costs that would bend
the curve at small n), collects garbage, returns free heap to the OS (glibc
``malloc_trim``, Arrow's ``release_unused``), reads its resident set (the *baseline*),
resets the kernel's peak mark (``/proc/self/clear_refs`` = 5; otherwise ``ru_maxrss``
growth, a lower bound, and the JSON says so) and runs the stage under
``time.perf_counter``, then again: at least twice, up to --repeats runs while their
total is under --min-total seconds (``store-append`` runs once: its stage already is
--store-appends appends, and a repeat would grow the store). Reported: **seconds** = the
fastest run after the first, the same rule at every size: the first ("cold") run pays
page faults for memory just handed back to the OS and cold caches (at small n several
times the later runs), and the later runs differ only by what other work on the machine
adds; fitting the best of *all* runs would mix warm small points (many runs) with cold
large ones (one run) and inflate the exponent; **cpu s** = the process's CPU time (user
+ system, all threads) in that run; **cold s** = the first run (reported and fitted for
reference); **Δpeak MiB** = peak RSS during the first run minus the baseline (what the
stage allocates, including its output); **peak MiB** = the absolute peak RSS during that
run (baseline included); the JSON also has the baseline and the process's lifetime
``ru_maxrss`` (data generation included). A point whose process runs past --timeout
seconds (data generation included) is reported as ``timeout`` and the stage's larger
sizes as ``skipped``; a failing point shows its last error line. Nothing is dropped
silently.

**Sizes**: a geometric series, --per-decade points per decade (10^(i/2) to two significant
digits by default: 10k, 32k, 100k, 320k, ...), from each stage's low to its high size;
--max-scale multiplies the high end; ``--sizes-STAGE 1000,10000,...`` gives a stage's sizes
exactly. Run sizes are rounded to whole queries of 1,000 lines.

**Fit**: the exponent b of t = a n^b by least squares on (ln n, ln t) over the points with
n >= the stage's fit minimum (``--fit-min STAGE=N``; defaults in ``STAGES``: the smallest
sizes, where fixed costs dominate, are left out), with its standard error; the same for
the CPU seconds ("cpu b": on a busy machine a wall-time exponent well above the CPU-time
one points at contention rather than at the code), for the cold first runs ("cold b", for
reference) and for Δpeak MiB over the points with Δpeak >= 1 MiB.

**The n log n threshold.** For t = c n ln n the local log-log slope is d ln t / d ln n =
1 + 1/ln n: 1.43 at n = 10, 1.11 at 10^4, 1.07 at 10^6. So an n log n stage fitted over
10 - 10^4 systems shows b ≈ 1.2, and over 10^5 - 3.2 * 10^6 lines b ≈ 1.08: one fixed
threshold would either flag n log n at small n or pass n^1.1 at large n. The threshold is
therefore computed per stage from its own fitted sizes: b_ref = the least-squares slope
of ln(n ln n) on ln n over those sizes (exactly what an n log n stage would show), plus
--margin (0.1) for timing noise: with per-point errors of ~20% (a shared 2-core machine)
and 4-5 points over 1.5-2 decades the slope's standard error is 0.05-0.08 (the "± se"
column reports each fit's own), so the margin is one to two standard errors: a flag is a
prompt to look at the stage, not a proof. A stage is flagged "> n log n" when b > b_ref +
margin: b_ref = 1.08 and threshold 1.18 over 10^5 - 3.2 * 10^6, 1.09 / 1.19 over 10^4 -
10^6, 1.15 / 1.25 over 100 - 10^4 (the issue's "~1.15" is the large-n value without the
margin). Memory gets the same test.

**Output** (--output, default ``docs/figures/scaling``): ``points.json`` (every point, the
fits and the settings, host and versions), ``points.csv`` (one row per point),
``table.md`` (the summary table as Markdown), ``STAGE.png`` per stage (time and memory
against n, log-log, with the fit and an n log n reference line) and ``time.png`` /
``memory.png`` (every stage on one chart). ``--replot points.json`` rebuilds the tables and
plots from stored points without measuring.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # the sibling benchmark modules (synthetic_corpus, ...)
from process_memory import release_free_memory, reset_peak, status_kib  # noqa: E402

MIB = 2**20
DEPTH = 1000  # documents per query in the generated runs
POOL = 2000  # candidate documents per query the runs draw from
MEMORY_FLOOR_MIB = 1.0  # Δpeak below this is not used in the memory fit


@dataclass(frozen=True)
class Stage:
    """One measured stage: what n counts, its default sizes and fit minimum."""

    name: str
    unit: str  # the x axis
    low: int
    high: int
    fit_min: int
    timed: str  # what is timed, one line
    round_to: int = 1  # sizes are multiples of this
    repeatable: bool = True


STAGES = {
    s.name: s
    for s in (
        Stage(
            "read-run",
            "TREC run lines",
            10_000,
            3_200_000,
            100_000,
            "read_trec_run(file)",
            DEPTH,
        ),
        Stage(
            "evaluate",
            "run lines",
            10_000,
            3_200_000,
            100_000,
            "evaluate(run, qrels, metrics)",
            DEPTH,
        ),
        Stage("bm25-index", "documents", 1_000, 320_000, 10_000, "bm25 .index(corpus)"),
        Stage("bm25-search", "documents", 1_000, 100_000, 10_000, "bm25 .search(queries, k)"),
        Stage(
            "exact-search",
            "documents",
            1_000,
            1_000_000,
            10_000,
            "exact_search(queries, docs, k)",
        ),
        Stage(
            "fusion",
            "lines per input run",
            10_000,
            3_200_000,
            100_000,
            "fuse(runs, method)",
            DEPTH,
        ),
        Stage("aggregate", "systems", 10, 10_000, 100, "aggregator.aggregate(table)"),
        Stage(
            "store-append",
            "rows in the store",
            10_000,
            3_200_000,
            10_000,
            "appends of a batch",
            repeatable=False,
        ),
    )
}


# ---------------------------------------------------------------------------- sizes


def geometric(low: int, high: float, per_decade: int, round_to: int = 1) -> list[int]:
    """low, ... <= high: 10^(log10(low) + i / per_decade), two significant digits,
    rounded to multiples of ``round_to``."""
    out: list[int] = []
    start = math.log10(low)
    i = 0
    while True:
        value = 10 ** (start + i / per_decade)
        if value > high * (1 + 1e-9):
            break
        digits = max(0, math.floor(math.log10(value)) - 1)
        n = int(round(value / 10**digits) * 10**digits)
        n = max(round_to, round(n / round_to) * round_to)
        if not out or n > out[-1]:
            out.append(n)
        i += 1
    return out


def stage_sizes(stage: Stage, args) -> list[int]:
    given = getattr(args, "sizes_" + stage.name.replace("-", "_"))
    if given:
        return sorted(
            {max(stage.round_to, round(n / stage.round_to) * stage.round_to) for n in given}
        )
    return geometric(stage.low, stage.high * args.max_scale, args.per_decade, stage.round_to)


def short(n: float) -> str:
    """10000 -> 10k, 3200000 -> 3.2M."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            value = n / factor
            return f"{value:.3g}{suffix}"
    return f"{n:g}"


# ---------------------------------------------------------------------------- peak memory


def measure(fn: Callable[[], Any], repeats: int, min_total: float, min_runs: int = 2) -> dict:
    """Time ``fn`` (the best run after the first, at least ``min_runs`` runs: see the
    module docstring) and the peak memory of its first run."""
    release_free_memory()
    exact = reset_peak() and status_kib("VmHWM") is not None
    baseline_kib = status_kib("VmRSS") or 0
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, start = time.process_time(), time.perf_counter()
    out = fn()
    times, cpu_times = [time.perf_counter() - start], [time.process_time() - cpu]
    if exact:
        peak_kib = status_kib("VmHWM") or 0
        delta_kib = peak_kib - baseline_kib
        method = "VmHWM after clear_refs"
    else:  # ru_maxrss only grows: a lower bound when data generation peaked higher
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        delta_kib = peak_kib - max(max_before, baseline_kib)
        method = "ru_maxrss growth (lower bound)"
    del out
    while len(times) < min_runs or (len(times) < repeats and sum(times) < min_total):
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
    best = 0 if len(times) == 1 else 1 + int(np.argmin(times[1:]))
    return {
        "seconds": times[best],
        "cpu_seconds": cpu_times[best],
        "cold_seconds": times[0],
        "times": times,
        "cpu_times": cpu_times,
        "baseline_mib": baseline_kib / 1024,
        "delta_mib": max(delta_kib, 0) / 1024,
        "peak_mib": peak_kib / 1024,
        "peak_method": method,
    }


# ---------------------------------------------------------------------------- data


def _ids(prefix: str, codes: np.ndarray):
    """Arrow strings ``prefix + str(code)``, vectorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(prefix, pa.array(codes).cast(pa.string()), "")


def run_arrays(lines: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query codes, doc codes, scores) of a run of ``lines`` rows, queries of DEPTH rows in
    rank order; doc codes are ``q * POOL + j`` (see the module docstring)."""
    queries = max(1, lines // DEPTH)
    rng = np.random.default_rng(seed)
    pick = np.argsort(rng.random((queries, POOL)), axis=1)[:, :DEPTH]
    docs = (np.arange(queries)[:, None] * POOL + pick).ravel()
    scores = -np.sort(-rng.normal(size=(queries, DEPTH)), axis=1).ravel()
    return np.repeat(np.arange(queries), DEPTH), docs, scores


def make_run(lines: int, seed: int):
    from rankarena import Run

    q, d, s = run_arrays(lines, seed)
    return Run.from_arrays(_ids("q", q), _ids("d", d), s)


def make_qrels(lines: int, seed: int):
    """5 judgements a query for ``run_arrays(lines, seed)``: 3 retrieved (top-biased), 2 not."""
    import pyarrow as pa

    from rankarena import Qrels

    queries = max(1, lines // DEPTH)
    rng = np.random.default_rng(seed)
    pick = np.argsort(rng.random((queries, POOL)), axis=1)  # the same draw as run_arrays
    rng = np.random.default_rng([seed, 1])
    keys = rng.exponential(size=(queries, DEPTH)) * np.arange(1, DEPTH + 1)
    ranks = np.argpartition(keys, 3, axis=1)[:, :3]
    chosen = np.concatenate([np.take_along_axis(pick, ranks, 1), pick[:, DEPTH : DEPTH + 2]], 1)
    docs = (np.arange(queries)[:, None] * POOL + chosen).ravel()
    grades = rng.integers(1, 4, size=docs.size).astype(np.int32)
    return Qrels(
        pa.table(
            {
                "query_id": _ids("q", np.repeat(np.arange(queries), chosen.shape[1])),
                "doc_id": _ids("d", docs),
                "relevance": pa.array(grades, pa.int32()),
            }
        )
    )


def write_trec(path: Path, lines: int, seed: int) -> None:
    """The run of ``run_arrays`` as a TREC run file (single spaces)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    q, d, s = run_arrays(lines, seed)
    n = len(s)
    table = pa.table(
        {
            "qid": _ids("q", q),
            "q0": pa.array(["Q0"]).take(pa.array(np.zeros(n, np.int64))),
            "doc": _ids("d", d),
            "rank": pa.array(np.tile(np.arange(1, DEPTH + 1), n // DEPTH)),
            "score": pa.array(s),
            "tag": pa.array(["synthetic"]).take(pa.array(np.zeros(n, np.int64))),
        }
    )
    options = pcsv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
    pcsv.write_csv(table, path, options)


def results_rows(start: int, count: int):
    """``count`` unique result rows, numbered from ``start`` (per-query rows of runs of
    1,000 queries; 50 systems, 3 metrics, 20 datasets)."""
    import pyarrow as pa

    from rankarena import Results

    row = np.arange(start, start + count)
    run = row // 1000
    n = len(row)
    pick = lambda values, codes: pa.array(values).take(pa.array(codes))  # noqa: E731
    table = pa.table(
        {
            "system": _ids("s", run % 50),
            "dataset": _ids("d", (run // 50) % 20),
            "split": pick(["test"], np.zeros(n, np.int64)),
            "variant": pick([""], np.zeros(n, np.int64)),
            "metric": pick(["ndcg@10", "recall@100", "map@100"], run % 3),
            "value": pa.array((row % 997) / 997.0),
            "query_id": _ids("q", row % 1000),
            "run_id": _ids("run-", run),
            "created_at": pa.array(np.full(n, 1_700_000_000_000_000), pa.timestamp("us", "UTC")),
            "eval_key": pa.nulls(n, pa.string()),
        }
    )
    return Results(table)


def corpus_model(args):
    """The CorpusModel, fitted once by the parent (cached in the work folder)."""
    import pickle

    from synthetic_corpus import DEFAULT_SOURCES, CorpusModel

    cache = Path(args.workdir) / "corpus_model.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    model = CorpusModel.fit([Path(args.corpus_data) / name for name in DEFAULT_SOURCES])
    cache.write_bytes(pickle.dumps(model))
    return model


def make_corpus(model, docs: int, seed: int):
    import pyarrow as pa

    from rankarena import Corpus

    return Corpus(pa.Table.from_pylist(list(model.documents(docs, seed))))


def make_queries(model, count: int, seed: int):
    from rankarena import Queries

    return Queries.from_dict({q: text for q, text, _ in model.queries(count, count, seed)})


def unit_vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    for start in range(0, rows, 10_000):
        block = x[start : start + 10_000]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return x


# ---------------------------------------------------------------------------- one point


def prepare(stage: str, n: int, args, variant: str | None) -> tuple[Callable, Callable, dict]:
    """(stage function, warm-up function, details) for one point; the data is built here."""
    from rankarena.core.host import plugin_manager

    host = plugin_manager()
    seed = args.seed
    if stage == "read-run":
        from rankarena.data import read_trec_run

        folder = Path(tempfile.mkdtemp(dir=args.workdir))
        path, small = folder / "run.trec", folder / "small.trec"
        write_trec(path, n, seed)
        write_trec(small, DEPTH, seed + 1)
        size = path.stat().st_size
        return (
            lambda: read_trec_run(path),
            lambda: read_trec_run(small),
            {"file_mib": size / MIB},
        )
    if stage == "evaluate":
        import rankarena

        run, qrels = make_run(n, seed), make_qrels(n, seed)
        small_run, small_qrels = make_run(DEPTH, seed + 1), make_qrels(DEPTH, seed + 1)
        metrics = args.metrics
        return (
            lambda: rankarena.evaluate(run, qrels, metrics),
            lambda: rankarena.evaluate(small_run, small_qrels, metrics),
            {"metrics": metrics, "qrels": len(qrels)},
        )
    if stage in ("bm25-index", "bm25-search"):
        model = corpus_model(args)
        corpus = make_corpus(model, n, seed)
        retriever = host.retrievers.create("bm25")
        if stage == "bm25-index":
            small = make_corpus(model, 100, seed + 1)
            spare = host.retrievers.create("bm25")
            return (
                lambda: retriever.index(corpus),
                lambda: spare.index(small),
                {"docs": n},
            )
        if n < args.bm25_queries:
            raise ValueError(f"bm25-search needs >= --bm25-queries ({args.bm25_queries}) docs")
        queries = make_queries(model, args.bm25_queries, seed)
        retriever.index(corpus)
        first = queries.select(queries.ids[:2])
        k = args.bm25_k
        return (
            lambda: retriever.search(queries, k=k),
            lambda: retriever.search(first, k=10),
            {"queries": len(queries), "k": k},
        )
    if stage == "exact-search":
        from rankarena.retrieval.vector_search import exact_search

        docs = unit_vectors(n, args.dim, seed)
        queries = unit_vectors(args.exact_queries, args.dim, seed + 1)
        k = args.exact_k
        return (
            lambda: exact_search(queries, docs, k, device="cpu"),
            lambda: exact_search(queries[:8], docs[:2000], k, device="cpu"),
            {"queries": len(queries), "dim": args.dim, "k": k, "docs_mib": docs.nbytes / MIB},
        )
    if stage == "fusion":
        from rankarena.retrieval.fusion import fuse

        runs = [make_run(n, seed + i) for i in range(args.fusion_runs)]
        small = [make_run(DEPTH, seed + 100 + i) for i in range(args.fusion_runs)]
        method = args.fusion_method
        return (
            lambda: fuse(runs, method),
            lambda: fuse(small, method),
            {"runs": len(runs), "method": method},
        )
    if stage == "aggregate":
        from bench_aggregate import ERROR_ON_HOLES, table

        aggregator = host.aggregators.create(variant)
        refuses = getattr(aggregator, "missing_cells", "skip") == ERROR_ON_HOLES
        holes = 0.0 if refuses else args.missing
        scores = table(n, args.tasks, holes, seed)
        small = table(10, args.tasks, holes, seed + 1)
        return (
            lambda: aggregator.aggregate(scores),
            lambda: aggregator.aggregate(small),
            {"tasks": args.tasks, "missing": holes},
        )
    if stage == "store-append":
        folder = Path(tempfile.mkdtemp(dir=args.workdir))
        store, spare = folder / "results.parquet", folder / "warm.parquet"
        results_rows(0, n).append_to(store)
        batch, appends = args.store_batch, args.store_appends
        batches = [results_rows(n + i * batch, batch) for i in range(appends)]
        warm = results_rows(0, batch)

        def append_all() -> None:
            for one in batches:
                one.append_to(store)

        return append_all, lambda: warm.append_to(spare), {"batch": batch, "appends": appends}
    raise ValueError(f"unknown stage {stage!r}")


def run_point(spec: dict) -> dict:
    """In this (fresh) process: build, warm up, measure; the point as a dict."""
    args = argparse.Namespace(**spec["options"])
    stage, n, variant = spec["stage"], spec["n"], spec.get("variant")
    started = time.perf_counter()
    fn, warm_up, details = prepare(stage, n, args, variant)
    warm_up()
    setup = time.perf_counter() - started
    if STAGES[stage].repeatable:
        found = measure(fn, max(args.repeats, 2), args.min_total, 2)
    else:
        found = measure(fn, 1, 0.0, 1)
    found.update(
        setup_seconds=setup,
        process_peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        details=details,
    )
    return found


# ---------------------------------------------------------------------------- the parent


def label_of(stage: str, variant: str | None) -> str:
    return f"{stage}:{variant}" if variant else stage


def measure_point(stage: str, n: int, variant: str | None, args) -> dict:
    options = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in vars(args).items()
        if not k.startswith("sizes_") and k not in ("replot", "point", "output", "stages")
    }
    spec = {"stage": stage, "n": n, "variant": variant, "options": options}
    command = [sys.executable, str(Path(__file__).resolve()), "--point", json.dumps(spec)]
    point = {"stage": stage, "variant": variant, "label": label_of(stage, variant), "n": n}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        point.update(status="timeout", wall_seconds=time.perf_counter() - started)
        return point
    point["wall_seconds"] = time.perf_counter() - started
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        point["status"] = "error: " + (lines[-1][:160] if lines else f"exit {done.returncode}")
        return point
    point.update(json.loads(done.stdout.strip().splitlines()[-1]))
    point["status"] = "ok"
    return point


@dataclass
class Fit:
    label: str
    points: int
    fit_min: int
    b_time: float
    se_time: float
    b_cpu: float
    b_cold: float
    b_mem: float
    mem_points: int
    b_ref: float
    threshold: float
    flags: str


def slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x and its standard error (nan with < 3 points)."""
    if len(x) < 2:
        return float("nan"), float("nan")
    b, a = np.polyfit(x, y, 1)
    if len(x) < 3:
        return float(b), float("nan")
    residual = y - (a + b * x)
    spread = float(((x - x.mean()) ** 2).sum())
    return float(b), float(math.sqrt((residual**2).sum() / (len(x) - 2) / spread))


def fit(label: str, points: list[dict], fit_min: int, margin: float) -> Fit:
    ok = [p for p in points if p["status"] == "ok" and p["n"] >= fit_min]
    n = np.array([p["n"] for p in ok], dtype=np.float64)
    times = np.array([p["seconds"] for p in ok], dtype=np.float64)
    b_time, se_time = slope(np.log(n), np.log(times))
    cpu = np.array([p.get("cpu_seconds", np.nan) for p in ok], dtype=np.float64)
    b_cpu = slope(np.log(n), np.log(np.maximum(cpu, 1e-6)))[0]
    cold = np.array([p.get("cold_seconds", np.nan) for p in ok], dtype=np.float64)
    b_cold = slope(np.log(n), np.log(cold))[0]
    mem = [p for p in ok if p["delta_mib"] >= MEMORY_FLOOR_MIB]
    b_mem = (
        slope(np.log([p["n"] for p in mem]), np.log([p["delta_mib"] for p in mem]))[0]
        if mem
        else float("nan")
    )
    b_ref = slope(np.log(n), np.log(n * np.log(n)))[0] if len(ok) >= 2 else float("nan")
    threshold = b_ref + margin
    flags = []
    if b_time > threshold:
        flags.append("time > n log n")
    if b_mem > threshold:
        flags.append("memory > n log n")
    return Fit(
        label,
        len(ok),
        fit_min,
        b_time,
        se_time,
        b_cpu,
        b_cold,
        b_mem,
        len(mem),
        b_ref,
        threshold,
        ", ".join(flags),
    )


def fmt(value: float, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def point_line(p: dict) -> str:
    ok = p["status"] == "ok"
    seconds = f"{p['seconds']:.3f}" if ok else "-"
    cold = f"{p['cold_seconds']:.3f}" if ok and "cold_seconds" in p else "-"
    cpu = f"{p['cpu_seconds']:.3f}" if ok and "cpu_seconds" in p else "-"
    reps = str(len(p["times"])) if ok else "-"
    delta = f"{p['delta_mib']:.1f}" if ok else "-"
    peak = f"{p['peak_mib']:.1f}" if ok else "-"
    return (
        f"{p['label']:<20} {p['n']:>10,} {seconds:>10} {cpu:>10} {reps:>4} {cold:>10} "
        f"{delta:>10} "
        f"{peak:>10}  "
        f"{p['status']}"
    )


POINT_HEAD = (
    f"{'stage':<20} {'n':>10} {'seconds':>10} {'cpu s':>10} {'reps':>4} {'cold s':>10} "
    f"{'Δpeak MiB':>10} "
    f"{'peak MiB':>10}  status"
)


def summary_rows(points: list[dict], fits: dict[str, Fit]) -> list[list[str]]:
    rows = []
    for label, f in fits.items():
        mine = [p for p in points if p["label"] == label]
        sizes = [p["n"] for p in mine]
        times = " / ".join(
            f"{p['seconds']:.3g}" if p["status"] == "ok" else p["status"].split(":")[0]
            for p in mine
        )
        peaks = " / ".join(f"{p['delta_mib']:.0f}" if p["status"] == "ok" else "-" for p in mine)
        rows.append(
            [
                label,
                f"{short(min(sizes))}-{short(max(sizes))} ({len(sizes)})",
                times,
                peaks,
                f">= {short(f.fit_min)} ({f.points})",
                f"{fmt(f.b_time)} ± {fmt(f.se_time)}",
                fmt(f.b_cpu),
                fmt(f.b_cold),
                fmt(f.b_mem),
                f"{fmt(f.b_ref)} / {fmt(f.threshold)}",
                f.flags or "-",
            ]
        )
    return rows


SUMMARY_HEAD = [
    "stage",
    "sizes (points)",
    "seconds per size",
    "Δpeak MiB per size",
    "fit over n (points)",
    "time b ± se",
    "cpu b",
    "cold b",
    "memory b",
    "n log n b / threshold",
    "flag",
]


def print_summary(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [SUMMARY_HEAD, *rows]) for i in range(len(SUMMARY_HEAD))]
    for row in [SUMMARY_HEAD, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(SUMMARY_HEAD) + " |", "|" + " --- |" * len(SUMMARY_HEAD)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def file_name(label: str) -> str:
    return label.replace(":", "-").replace("/", "-")


def plot(points: list[dict], fits: dict[str, Fit], output: Path, timeout: float) -> list[Path]:
    """Per-stage time and memory charts and two overview charts (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    units = {p["label"]: STAGES[p["stage"]].unit for p in points}
    for label, f in fits.items():
        mine = [p for p in points if p["label"] == label]
        ok = [p for p in mine if p["status"] == "ok"]
        late = [p for p in mine if p["status"] == "timeout"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        if ok:
            n = np.array([p["n"] for p in ok], dtype=np.float64)
            t = np.array([p["seconds"] for p in ok])
            left.plot(n, t, "-", color="C0", alpha=0.6)
            inside = n >= f.fit_min
            left.plot(n[inside], t[inside], "o", color="C0", label="measured (best warm run)")
            if (~inside).any():
                left.plot(
                    n[~inside],
                    t[~inside],
                    "o",
                    mfc="none",
                    color="C0",
                    label="below the fit minimum",
                )
            fitted = n[n >= f.fit_min]
            if math.isfinite(f.b_time) and len(fitted) >= 2:
                ts = t[n >= f.fit_min]
                a = np.exp(np.mean(np.log(ts) - f.b_time * np.log(fitted)))
                left.plot(
                    fitted,
                    a * fitted**f.b_time,
                    "-",
                    lw=2,
                    alpha=0.5,
                    label=f"fit n^{f.b_time:.2f} (n >= {short(f.fit_min)})",
                )
                ref = fitted * np.log(fitted)
                left.plot(
                    fitted, ref * ts[-1] / ref[-1], "k--", lw=1, label="n log n (through last)"
                )
            delta = np.array([p["delta_mib"] for p in ok])
            peak = np.array([p["peak_mib"] for p in ok])
            shown = delta >= MEMORY_FLOOR_MIB / 10
            right.plot(n[shown], delta[shown], "o-", label="Δpeak (stage, above baseline)")
            right.plot(n, peak, "s:", label="absolute peak RSS during the stage")
            if math.isfinite(f.b_mem):
                right.plot([], [], " ", label=f"memory fit n^{f.b_mem:.2f}")
        for p in late:
            left.plot([p["n"]], [timeout], "r^", ms=9)
            left.annotate(
                f"> {timeout:g} s",
                (p["n"], timeout),
                textcoords="offset points",
                xytext=(4, -12),
                color="r",
                fontsize=8,
            )
        for axis, what in ((left, "seconds"), (right, "MiB")):
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel(units[label])
            axis.set_ylabel(what)
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=8)
        left.set_title(f"{label}: time ({STAGES[mine[0]['stage']].timed})", fontsize=10)
        right.set_title(f"{label}: peak memory", fontsize=10)
        fig.tight_layout()
        path = output / f"{file_name(label)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    for key, ylabel, name in (
        ("seconds", "seconds", "time.png"),
        ("delta_mib", "Δpeak MiB above baseline", "memory.png"),
    ):
        fig, axis = plt.subplots(figsize=(8, 5.5))
        for label, f in fits.items():
            ok = [p for p in points if p["label"] == label and p["status"] == "ok"]
            ok = [p for p in ok if key != "delta_mib" or p[key] >= MEMORY_FLOOR_MIB / 10]
            if ok:
                b = f.b_time if key == "seconds" else f.b_mem
                axis.plot(
                    [p["n"] for p in ok],
                    [p[key] for p in ok],
                    "o-",
                    ms=4,
                    label=f"{label} (b = {fmt(b)})",
                )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("n (each stage's own unit: lines, documents, systems, store rows)")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(output / name, dpi=110)
        plt.close(fig)
        written.append(output / name)
    return written


def report(
    points: list[dict],
    fit_mins: dict[str, int],
    margin: float,
    output: Path,
    timeout: float,
    meta: dict,
    replotting: bool = False,
) -> None:
    labels = list(dict.fromkeys(p["label"] for p in points))
    fits = {
        label: fit(
            label,
            [p for p in points if p["label"] == label],
            fit_mins[next(p["stage"] for p in points if p["label"] == label)],
            margin,
        )
        for label in labels
    }
    if replotting:  # a measuring run has printed them as they came
        print(
            "points (seconds, cpu s: the best run after the first; cold s: the first; Δpeak: "
            "peak RSS above the baseline in the first; peak: absolute)"
        )
        print(POINT_HEAD)
        for p in points:
            print(point_line(p))
    print(
        f"\nfits: t ~ n^b by least squares on log-log over n >= the fit minimum; memory b on "
        f"Δpeak >= {MEMORY_FLOOR_MIB:g} MiB; flag when b > (slope n log n shows over the same "
        f"sizes) + {margin:g}"
    )
    rows = summary_rows(points, fits)
    print_summary(rows)
    output.mkdir(parents=True, exist_ok=True)
    (output / "points.json").write_text(
        json.dumps(
            {"meta": meta, "points": points, "fits": [asdict(f) for f in fits.values()]}, indent=1
        )
    )
    columns = [
        "label",
        "stage",
        "variant",
        "n",
        "status",
        "seconds",
        "cold_seconds",
        "times",
        "cpu_seconds",
        "cpu_times",
        "delta_mib",
        "peak_mib",
        "baseline_mib",
        "process_peak_mib",
        "setup_seconds",
        "wall_seconds",
        "peak_method",
    ]
    with open(output / "points.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for p in points:
            writer.writerow(
                [
                    " ".join(f"{t:.6f}" for t in p[c])
                    if c in ("times", "cpu_times") and c in p
                    else p.get(c, "")
                    for c in columns
                ]
            )
    (output / "table.md").write_text(markdown(rows))
    written = plot(points, fits, output, timeout)
    print(
        f"\nwrote {output / 'points.json'}, points.csv, table.md and "
        + ", ".join(p.name for p in written)
    )


def parse_sizes(text: str) -> list[int]:
    try:
        values = [int(float(v.replace("_", ""))) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1000,1e4, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return values


def parse_fit_min(items: list[str], base: dict[str, int] | None = None) -> dict[str, int]:
    """Each stage's fit minimum: ``base`` (or the ``STAGES`` defaults), then ``items``."""
    found = {name: s.fit_min for name, s in STAGES.items()}
    found.update(base or {})
    for item in items:
        name, _, value = item.partition("=")
        if name not in STAGES or not value:
            raise SystemExit(f"--fit-min: expected STAGE=N with STAGE in {', '.join(STAGES)}")
        found[name] = int(float(value))
    return found


def git_state() -> dict:
    """The commit measured and the files changed since (the framework is the working tree)."""

    def git(*words: str) -> str:
        try:
            done = subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True)
        except OSError:
            return ""
        return done.stdout.rstrip()

    return {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--short").splitlines()}


def default_corpus_data() -> Path:
    env = os.environ.get("RANKARENA_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "figures" / "scaling")
    parser.add_argument(
        "--max-scale",
        type=float,
        default=1.0,
        help="multiply every stage's largest default size (10: a decade more)",
    )
    parser.add_argument("--per-decade", type=int, default=2, help="sizes per decade")
    for name, stage in STAGES.items():
        parser.add_argument(
            f"--sizes-{name}",
            type=parse_sizes,
            metavar="N,N,...",
            help=f"{name} sizes ({stage.unit}; default {short(stage.low)}-{short(stage.high)})",
        )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per point")
    parser.add_argument("--repeats", type=int, default=5, help="runs at most per point")
    parser.add_argument(
        "--min-total",
        type=float,
        default=3.0,
        help="more than two runs of a point only while they total less than this (s)",
    )
    parser.add_argument("--fit-min", nargs="*", default=[], metavar="STAGE=N")
    parser.add_argument(
        "--margin",
        type=float,
        default=0.1,
        help="tolerance above the n log n slope before a stage is flagged",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--metrics", nargs="+", default=["ndcg@10", "mrr@10", "recall@100", "map@100", "p@10"]
    )
    parser.add_argument("--bm25-queries", type=int, default=1000)
    parser.add_argument("--bm25-k", type=int, default=1000)
    parser.add_argument(
        "--corpus-data",
        type=Path,
        default=default_corpus_data(),
        help="folder with the BEIR collections CorpusModel is fitted on",
    )
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--exact-queries", type=int, default=1000)
    parser.add_argument("--exact-k", type=int, default=100)
    parser.add_argument("--fusion-runs", type=int, default=3)
    parser.add_argument("--fusion-method", default="rrf")
    parser.add_argument("--aggregators", nargs="+", default=["borda", "copeland"])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--missing", type=float, default=0.02)
    parser.add_argument("--store-batch", type=int, default=1000)
    parser.add_argument("--store-appends", type=int, default=50)
    parser.add_argument("--replot", type=Path, help="tables and plots from a points.json")
    parser.add_argument("--point", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.point:  # a child: one point, one JSON line
        print(json.dumps(run_point(json.loads(args.point))))
        return
    fit_mins = parse_fit_min(args.fit_min)
    if args.replot:
        stored = json.loads(args.replot.read_text())
        meta = stored["meta"]
        fit_mins = parse_fit_min(args.fit_min, meta.get("fit_min"))  # stored, unless given
        meta["fit_min"] = fit_mins
        timeout = meta["settings"]["timeout"]
        report(stored["points"], fit_mins, args.margin, args.output, timeout, meta, True)
        return

    import bm25s
    import pyarrow as pa
    import torch

    import rankarena

    plan = []
    for name in args.stages:
        variants = args.aggregators if name == "aggregate" else [None]
        for variant in variants:
            plan.append((name, variant, stage_sizes(STAGES[name], args)))
    settings = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in ("point", "workdir", "replot")
    }
    meta = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "versions": {
            "rankarena": rankarena.__version__,
            "numpy": np.__version__,
            "pyarrow": pa.__version__,
            "torch": torch.__version__,
            "bm25s": bm25s.__version__,
        },
        "settings": settings,
        "fit_min": fit_mins,
        "git": git_state(),
    }
    print(
        f"python {meta['python']}, {meta['cpus']} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in meta['load_average_start'])}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    )
    for name, variant, sizes in plan:
        print(f"  {label_of(name, variant):<20} n = {', '.join(short(n) for n in sizes)}")
    points: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as workdir:
        args.workdir = workdir
        if any(name.startswith("bm25") for name, _, _ in plan):
            corpus_model(args)  # fit once; the children load it
        print("\n" + POINT_HEAD, flush=True)
        for name, variant, sizes in plan:
            stop = None
            for n in sizes:
                if stop:
                    point = {
                        "stage": name,
                        "variant": variant,
                        "label": label_of(name, variant),
                        "n": n,
                        "status": f"skipped ({stop} at a smaller size)",
                    }
                else:
                    point = measure_point(name, n, variant, args)
                    if point["status"] == "timeout" or "MemoryError" in point["status"]:
                        stop = point["status"].split(":")[0]
                points.append(point)
                print(point_line(point), flush=True)
    meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    meta["load_average_end"] = os.getloadavg()
    report(points, fit_mins, args.margin, args.output, args.timeout, meta)


if __name__ == "__main__":
    main()
