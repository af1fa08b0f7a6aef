"""Benchmark ``rankarena.evaluate`` against pytrec_eval and ranx on a large synthetic run.

Not a pytest test: run it as a script, e.g.

    python benchmarks/bench_metrics.py                      # 10,000 x 1,000
    python benchmarks/bench_metrics.py --queries 500 --docs 200 --repeats 2

It measures, in one process, nDCG@10, MRR@10, Recall@100, MAP@100 and P@10 with

* rankarena, from Arrow/NumPy columns: ``Run.from_arrays`` + ``Qrels`` + ``evaluate``
  (the total, and ``evaluate`` alone on prebuilt objects);
* pytrec_eval, from dict-of-dicts (building the dicts is not timed): one evaluator for
  ndcg_cut.10, recall.100, map_cut.100, P.10 (and recip_rank), plus a second, timed one for
  recip_rank on the run cut at 10 (trec_eval has no MRR cutoff; the cut itself is not timed);
* ranx, on ``ranx.Qrels``/``ranx.Run`` built outside the timer (numba warmed up first), on
  never-evaluated objects and again on the same objects ("cached").

It checks that the means agree (rankarena vs pytrec_eval to 1e-9, per query too; ranx to
1e-6), prints one table and the speedups, then a breakdown of where rankarena's time goes.

Then (unless ``--no-extra``) it times trec_eval's whole measure set (``WHOLE_SET``: the
official set of ``trec_eval -m official``, and ndcg, ndcg_cut, map_cut, recall and P at
trec_eval's nine default cutoffs, success@1/5/10, set_P, set_recall, set_F, infAP,
11pt_avg, Rndcg, Rprec_mult) the same way: rankarena ``evaluate`` on prebuilt objects
against one pytrec_eval evaluator of the same measures, checked per query to 1e-9 and on
trec_eval's summary values (``pytrec_eval.compute_aggregated_measure``: sums for num_*,
GMAP for gm_map).

The exit status is 1 when rankarena disagrees with pytrec_eval.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import operator
import os
import pstats
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

import rankarena
from rankarena import Qrels
from rankarena.evaluate.engine import resolve_metrics
from rankarena.evaluate.judged import JudgedRun

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from process_memory import reset_peak, status_kib

COLLECTION_SIZE = 1_000_000
TIE_RATE = 0.03
RANKARENA_METRICS = ["ndcg@10", "mrr@10", "recall@100", "map@100", "p@10"]
RANX_METRICS = ["ndcg@10", "mrr@10", "recall@100", "map@100", "precision@10"]
PYTREC_MEASURES = {"ndcg_cut.10", "recall.100", "map_cut.100", "P.10", "recip_rank"}
# our metric name -> (pytrec_eval result key, ranx metric name)
NAMES = {
    "ndcg@10": ("ndcg_cut_10", "ndcg@10"),
    "mrr@10": ("recip_rank", "mrr@10"),  # recip_rank of the run cut at 10
    "recall@100": ("recall_100", "recall@100"),
    "map@100": ("map_cut_100", "map@100"),
    "p@10": ("P_10", "precision@10"),
}
PYTREC_TOL = 1e-9
# trec_eval's whole measure set (what ``trec_eval -m all_trec`` prints and pytrec_eval
# computes, less its relational/time/utility measures): our metric name -> pytrec_eval key
TREC_CUTS = (5, 10, 15, 20, 30, 100, 200, 500, 1000)  # trec_eval's default cutoffs
SUCCESS_CUTS = (1, 5, 10)
WHOLE_SET = {
    "num_ret": "num_ret",
    "num_rel": "num_rel",
    "num_rel_ret": "num_rel_ret",
    "map": "map",
    "gm_map": "gm_map",
    "r-precision": "Rprec",
    "bpref": "bpref",
    "mrr": "recip_rank",
    **{f"iprec_at_recall_{i / 10:.2f}": f"iprec_at_recall_{i / 10:.2f}" for i in range(11)},
    **{f"p@{k}": f"P_{k}" for k in TREC_CUTS},
    **{f"recall@{k}": f"recall_{k}" for k in TREC_CUTS},
    **{f"ndcg@{k}": f"ndcg_cut_{k}" for k in TREC_CUTS},
    **{f"map@{k}": f"map_cut_{k}" for k in TREC_CUTS},
    **{f"success@{k}": f"success_{k}" for k in SUCCESS_CUTS},
    "ndcg": "ndcg",
    "set_p": "set_P",
    "set_recall": "set_recall",
    "set_f": "set_F",
    "infap": "infAP",
    "11pt_avg": "11pt_avg",
    "rndcg": "Rndcg",
    **{f"rprec_mult_{m / 10:.2f}": f"Rprec_mult_{m / 10:.2f}" for m in range(2, 21, 2)},
}
CUT_TEXT = ",".join(map(str, TREC_CUTS))
WHOLE_SET_PYTREC = {
    "num_ret",
    "num_rel",
    "num_rel_ret",
    "map",
    "gm_map",
    "Rprec",
    "bpref",
    "recip_rank",
    "iprec_at_recall",
    f"P.{CUT_TEXT}",
    f"recall.{CUT_TEXT}",
    f"ndcg_cut.{CUT_TEXT}",
    f"map_cut.{CUT_TEXT}",
    f"success.{','.join(map(str, SUCCESS_CUTS))}",
    "ndcg",
    "set_P",
    "set_recall",
    "set_F",
    "infAP",
    "11pt_avg",
    "Rndcg",
    "Rprec_mult",
}
RANX_TOL = 1e-6


# ---------------------------------------------------------------------------- synthetic data


@dataclass
class Data:
    """The run and qrels as columns (rankarena's input) plus what the dict forms need."""

    n_queries: int
    n_docs: int
    query_names: list[str]  # "q0", "q1", ...
    doc_names: list[str]  # the collection: "d0" ... "d999999"
    row_query: np.ndarray  # per run row: query number (rows grouped by query, q0 first)
    row_doc: np.ndarray  # per run row: doc number in the collection
    scores: np.ndarray  # float64, random order within each query, with some ties
    query_ids: pa.Array  # string column of the run
    doc_ids: pa.Array  # string column of the run
    qrels_query: np.ndarray
    qrels_doc: np.ndarray
    qrels_grade: np.ndarray  # int32
    qrels_query_ids: pa.Array
    qrels_doc_ids: pa.Array

    def qrels_table(self) -> pa.Table:
        return pa.table(
            {
                "query_id": self.qrels_query_ids,
                "doc_id": self.qrels_doc_ids,
                "relevance": pa.array(self.qrels_grade, pa.int32()),
            }
        )


def make_data(n_queries: int, n_docs: int, seed: int = 0, tie_rate: float = TIE_RATE) -> Data:
    """``n_queries`` x ``n_docs`` run rows and ~5 relevant (grades 1-3) judgements per query.

    Most relevant documents are retrieved (with a score boost, so they tend to rank high),
    some are not; each query also gets 0-3 grade-0 judgements of retrieved documents.
    About ``tie_rate`` of the rows copy the score of another row of their query.
    """
    rng = np.random.default_rng(seed)
    docs = np.empty((n_queries, n_docs), dtype=np.int64)
    for q in range(n_queries):
        docs[q] = rng.choice(COLLECTION_SIZE, n_docs, replace=False)
    scores = rng.normal(0.0, 1.0, size=(n_queries, n_docs))

    qq: list[np.ndarray] = []
    qd: list[np.ndarray] = []
    qg: list[np.ndarray] = []
    for q in range(n_queries):
        n_rel = int(rng.integers(2, 9))  # mean 5
        n_found = min(int(rng.binomial(n_rel, 0.7)), n_docs)
        n_zero = min(int(rng.integers(0, 4)), n_docs - n_found)
        grades = rng.integers(1, 4, size=n_rel).astype(np.int32)
        # retrieved relevant: columns 0..n_found-1 (columns are in random doc order)
        scores[q, :n_found] += rng.normal(1.5 + 0.5 * grades[:n_found], 1.0)
        # judged non-relevant retrieved documents: the next n_zero columns, also boosted
        scores[q, n_found : n_found + n_zero] += rng.normal(1.5, 1.0, size=n_zero)
        # relevant documents the run missed: outside this query's retrieved set
        missed: list[int] = []
        taken = set(docs[q].tolist())
        while len(missed) < n_rel - n_found:
            d = int(rng.integers(COLLECTION_SIZE))
            if d not in taken:
                taken.add(d)
                missed.append(d)
        judged_docs = np.concatenate([docs[q, : n_found + n_zero], np.array(missed, np.int64)])
        judged_grades = np.concatenate(
            [grades[:n_found], np.zeros(n_zero, np.int32), grades[n_found:]]
        )
        order = rng.permutation(len(judged_docs))
        qq.append(np.full(len(judged_docs), q, dtype=np.int64))
        qd.append(judged_docs[order])
        qg.append(judged_grades[order])

    # ties: some rows take the score of another row of the same query
    tie = rng.random((n_queries, n_docs)) < tie_rate
    partner = rng.integers(0, n_docs, size=(n_queries, n_docs))
    rows = np.nonzero(tie)[0]
    scores[tie] = scores[rows, partner[tie]]
    # random row order within each query
    shuffle = np.argsort(rng.random((n_queries, n_docs)), axis=1)
    docs = np.take_along_axis(docs, shuffle, axis=1)
    scores = np.take_along_axis(scores, shuffle, axis=1)

    query_names = [f"q{i}" for i in range(n_queries)]
    doc_names = [f"d{i}" for i in range(COLLECTION_SIZE)]
    query_arr = pa.array(query_names, pa.string())
    doc_arr = pa.array(doc_names, pa.string())
    row_query = np.repeat(np.arange(n_queries, dtype=np.int64), n_docs)
    row_doc = docs.ravel()
    qrels_query = np.concatenate(qq)
    qrels_doc = np.concatenate(qd)
    return Data(
        n_queries=n_queries,
        n_docs=n_docs,
        query_names=query_names,
        doc_names=doc_names,
        row_query=row_query,
        row_doc=row_doc,
        scores=np.ascontiguousarray(scores.ravel()),
        query_ids=query_arr.take(pa.array(row_query)),
        doc_ids=doc_arr.take(pa.array(row_doc)),
        qrels_query=qrels_query,
        qrels_doc=qrels_doc,
        qrels_grade=np.concatenate(qg).astype(np.int32),
        qrels_query_ids=query_arr.take(pa.array(qrels_query)),
        qrels_doc_ids=doc_arr.take(pa.array(qrels_doc)),
    )


def run_dict(data: Data) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` in the run's row order."""
    out: dict[str, dict[str, float]] = {}
    n = data.n_docs
    scores = data.scores.tolist()
    for q, name in enumerate(data.query_names):
        lo = q * n
        codes = data.row_doc[lo : lo + n].tolist()
        names = operator.itemgetter(*codes)(data.doc_names) if n > 1 else [data.doc_names[codes[0]]]
        out[name] = dict(zip(names, scores[lo : lo + n], strict=True))
    return out


def qrels_dict(data: Data) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}``."""
    out: dict[str, dict[str, int]] = {}
    grades = data.qrels_grade.tolist()
    for q, d, g in zip(data.qrels_query.tolist(), data.qrels_doc.tolist(), grades, strict=True):
        out.setdefault(data.query_names[q], {})[data.doc_names[d]] = g
    return out


def top_k_dict(data: Data, k: int) -> dict[str, dict[str, float]]:
    """The run cut at ``k`` per query in trec_eval order (score desc, then doc id desc bytes).

    Computed here with NumPy, independently of rankarena's own ordering code.
    """
    by_bytes = np.argsort(np.array(data.doc_names))  # byte order == code point order (ASCII)
    doc_rank = np.empty(COLLECTION_SIZE, dtype=np.int64)
    doc_rank[by_bytes] = np.arange(COLLECTION_SIZE)
    order = np.lexsort((-doc_rank[data.row_doc], -data.scores, data.row_query))
    n = data.n_docs
    out: dict[str, dict[str, float]] = {}
    for q, name in enumerate(data.query_names):
        rows = order[q * n : q * n + min(k, n)]
        out[name] = {
            data.doc_names[d]: s
            for d, s in zip(data.row_doc[rows].tolist(), data.scores[rows].tolist(), strict=True)
        }
    return out


# ---------------------------------------------------------------------------- measuring


class PeakMemory:
    """Peak resident memory above the RSS at entry, in MiB.

    Uses /proc/self/clear_refs to reset the peak mark where allowed; otherwise falls back to
    the growth of ``getrusage``'s ru_maxrss (a lower bound: 0 when an earlier peak was higher).
    """

    def __enter__(self) -> PeakMemory:
        gc.collect()
        self.exact = reset_peak() and status_kib("VmHWM") is not None
        self.start = status_kib("VmRSS") if self.exact else None
        self.start_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.mib = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.exact and self.start is not None:
            self.mib = max(status_kib("VmHWM") - self.start, 0) / 1024  # type: ignore[operator]
        else:
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.start_max
            self.mib = max(grown, 0) / 1024


@dataclass
class Timing:
    name: str
    seconds: list[float]
    peak_mib: float = float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# ---------------------------------------------------------------------------- the tools


def rankarena_total(data: Data) -> rankarena.Evaluation:
    run = rankarena.Run.from_arrays(data.query_ids, data.doc_ids, data.scores)
    qrels = rankarena.Qrels(data.qrels_table())
    return rankarena.evaluate(run, qrels, RANKARENA_METRICS)


def pytrec_eval_all(qrels: dict, run: dict, run_top10: dict) -> tuple[dict, dict]:
    import pytrec_eval

    main = pytrec_eval.RelevanceEvaluator(qrels, PYTREC_MEASURES).evaluate(run)
    rr10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run_top10)
    return main, rr10


def pytrec_per_query(main: dict, rr10: dict, query_ids: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for ours, (key, _) in NAMES.items():
        source = rr10 if ours == "mrr@10" else main
        out[ours] = np.array([source[q][key] for q in query_ids], dtype=np.float64)
    return out


def warm_up_ranx() -> None:
    """Compile (or load from numba's cache) everything ranx runs, on a small separate run."""
    import ranx

    small = make_data(50, 120, seed=1)  # >= 10 queries: ranx sets 1 thread below that
    qrels = ranx.Qrels(qrels_dict(small))
    run = ranx.Run(run_dict(small))
    ranx.evaluate(qrels, run, RANX_METRICS)


# ---------------------------------------------------------------------------- profile


def profile_rankarena(data: Data, repeats: int) -> None:
    """Where rankarena's time goes: stage timings (median) and a cProfile call breakdown."""
    metrics = resolve_metrics(RANKARENA_METRICS)
    stages: dict[str, list[float]] = {}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t, out = timed(fn)
        stages.setdefault(name, []).append(t)
        return out

    for _ in range(repeats):
        run = stage(
            "Run.from_arrays",
            lambda: rankarena.Run.from_arrays(data.query_ids, data.doc_ids, data.scores),
        )
        qrels = stage("Qrels(table) (conform, unique-key check)", lambda: Qrels(data.qrels_table()))
        judged = stage("JudgedRun(run, qrels)", lambda r=run, q=qrels: JudgedRun(r, q))
        for m in metrics:
            stage(f"metric {m.name}", lambda m=m, j=judged: m.per_query(j))
        stage("Evaluation (query_ids.to_pylist)", lambda j=judged: j.query_ids.to_pylist())
        del qrels, judged, run
    total = sum(statistics.median(v) for v in stages.values())
    print(f"\nrankarena stage breakdown ({data.n_queries} x {data.n_docs}, median of {repeats}):")
    print(f"  {'stage':<52} {'seconds':>8} {'share':>6}")
    for name in stages:
        med = statistics.median(stages[name])
        print(f"  {name:<52} {med:8.3f} {100 * med / total:5.1f}%")
    print(f"  {'sum of stages':<52} {total:8.3f}")

    profiler = cProfile.Profile()
    gc.collect()
    start = time.perf_counter()
    profiler.enable()
    rankarena_total(data)
    profiler.disable()
    wall = time.perf_counter() - start
    raw: dict = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(f"\ncProfile of one rankarena total ({wall:.3f} s under the profiler;")
    print("  'compute.py(wrapper)' is any pyarrow.compute function, e.g. dictionary_encode):")
    for parent in ("_order", "trec_order", "_check_unique_docs", "__init__:judged"):
        _print_callees(raw, parent)
    print("\n  top functions by own time (tottime):")
    rows = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    print(f"    {'own s':>7} {'cum s':>7} {'calls':>6}  function")
    for (file, line, func), (_, nc, tt, ct, _) in rows:
        print(f"    {tt:7.3f} {ct:7.3f} {nc:6d}  {_label(file, line, func)}")


def _label(file: str, line: int, func: str) -> str:
    if file == "~":
        return func
    parts = file.replace("\\", "/").split("/")
    short = "/".join(parts[-2:])
    return f"{short}:{line}({func})"


def _print_callees(raw: dict, parent: str) -> None:
    """The functions called by ``parent`` (``func`` or ``func:file-part``), by time."""
    func, _, file_part = parent.partition(":")
    keys = [
        k
        for k in raw
        if k[2] == func
        and ("rankarena" in k[0] or "framework" in k[0] or "plugins" in k[0])
        and (not file_part or file_part in k[0])
    ]
    for key in keys:
        ct = raw[key][3]
        children = []
        for child, (_, _, _, _, callers) in raw.items():
            if key in callers:
                edge = callers[key]
                children.append((edge[3], edge[1], child))
        children.sort(reverse=True)
        print(f"  {_label(*key)}: {ct:.3f} s cumulative; calls inside:")
        for ect, calls, child in children[:8]:
            if ect >= 0.0005:
                print(f"      {ect:7.3f} s  x{calls:<4} {_label(*child)}")


# ---------------------------------------------------------------------------- main


class Recorder:
    """Timings by name, in insertion order; the peak memory of the first repeat."""

    def __init__(self) -> None:
        self.timings: dict[str, Timing] = {}

    def measure(self, name: str, fn: Callable[[], Any], first: bool) -> Any:
        with PeakMemory() as mem:
            seconds, out = timed(fn)
        timing = self.timings.setdefault(name, Timing(name, []))
        timing.seconds.append(seconds)
        if first:
            timing.peak_mib = mem.mib
        return out

    def median(self, name: str) -> float:
        return self.timings[name].median


RA_TOTAL = "rankarena total (from_arrays+Qrels+evaluate)"
RA_EVAL = "rankarena evaluate only"
PYTREC = "pytrec_eval (2 evaluators + evaluate)"
RANX_BUILD = "ranx Qrels(dict) + Run(dict) (ranx sorts here)"
RANX_FRESH = "ranx evaluate (fresh objects)"
RANX_CACHED = "ranx evaluate (2nd call, same objects)"


def bench_rankarena(data: Data, repeats: int, rec: Recorder) -> rankarena.Evaluation:
    evaluation = None
    for i in range(repeats):
        evaluation = rec.measure(RA_TOTAL, lambda: rankarena_total(data), i == 0)
    run = rankarena.Run.from_arrays(data.query_ids, data.doc_ids, data.scores)
    qrels = rankarena.Qrels(data.qrels_table())
    for i in range(repeats):
        rec.measure(RA_EVAL, lambda: rankarena.evaluate(run, qrels, RANKARENA_METRICS), i == 0)
    assert evaluation is not None
    return evaluation


def bench_pytrec_eval(
    data: Data, q_dict: dict, r_dict: dict, query_ids: list[str], repeats: int, rec: Recorder
) -> dict[str, np.ndarray]:
    t, r_top10 = timed(lambda: top_k_dict(data, 10))
    print(f"setup (not timed): top-10 cut of the run for pytrec_eval's MRR@10 built in {t:.1f} s")
    main_res: dict = {}
    rr10_res: dict = {}
    for i in range(repeats):
        main_res, rr10_res = rec.measure(
            PYTREC, lambda: pytrec_eval_all(q_dict, r_dict, r_top10), i == 0
        )
    return pytrec_per_query(main_res, rr10_res, query_ids)


def bench_ranx(
    q_dict: dict, r_dict: dict, query_ids: list[str], repeats: int, rec: Recorder
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    import ranx

    mean: dict[str, float] = {}
    per_query: dict[str, np.ndarray] = {}
    for i in range(repeats):
        rx_qrels, rx_run = rec.measure(
            RANX_BUILD, lambda: (ranx.Qrels(q_dict), ranx.Run(r_dict)), i == 0
        )
        mean = rec.measure(
            RANX_FRESH, lambda q=rx_qrels, r=rx_run: ranx.evaluate(q, r, RANX_METRICS), i == 0
        )
        rec.measure(
            RANX_CACHED, lambda q=rx_qrels, r=rx_run: ranx.evaluate(q, r, RANX_METRICS), i == 0
        )
        per_query = {
            ours: np.array([rx_run.scores[rx][q] for q in query_ids], dtype=np.float64)
            for ours, (_, rx) in NAMES.items()
        }
    return {k: float(v) for k, v in mean.items()}, per_query


RA_EXTRA = "rankarena evaluate only, whole trec_eval set"
PYTREC_EXTRA = "pytrec_eval (1 evaluator + evaluate), same set"


def bench_extra(q_dict: dict, r_dict: dict, data: Data, repeats: int) -> bool:
    """Time trec_eval's whole set (``WHOLE_SET``) in rankarena and pytrec_eval, check it per
    query and as summary values to 1e-9 and print its table; True when they agree."""
    import pytrec_eval

    rec = Recorder()
    run = rankarena.Run.from_arrays(data.query_ids, data.doc_ids, data.scores)
    qrels = rankarena.Qrels(data.qrels_table())
    metrics = list(WHOLE_SET)
    evaluation = None
    for i in range(repeats):
        evaluation = rec.measure(RA_EXTRA, lambda: rankarena.evaluate(run, qrels, metrics), i == 0)
    trec: dict = {}
    for i in range(repeats):
        trec = rec.measure(
            PYTREC_EXTRA,
            lambda: pytrec_eval.RelevanceEvaluator(q_dict, WHOLE_SET_PYTREC).evaluate(r_dict),
            i == 0,
        )
    assert evaluation is not None
    ok = True
    worst = ("", 0.0)
    for ours, key in WHOLE_SET.items():
        theirs = np.array([trec[q][key] for q in evaluation.query_ids], dtype=np.float64)
        q_diff = float(np.abs(evaluation.per_query[ours] - theirs).max())
        summary = pytrec_eval.compute_aggregated_measure(key, theirs.tolist())
        s_diff = abs(evaluation.mean[ours] - summary) / max(1.0, abs(summary))
        if q_diff > PYTREC_TOL or s_diff > PYTREC_TOL:
            ok = False
            print(
                f"  {ours}: differences {q_diff:.1e} per query, {s_diff:.1e} summary  <- DISAGREES"
            )
        if q_diff >= worst[1]:
            worst = (ours, q_diff)
    print(
        f"\ntrec_eval's whole set ({len(WHOLE_SET)} values: {', '.join(WHOLE_SET)}), "
        f"median of {repeats} repeats:"
    )
    print(f"  {'tool':<52} {'seconds':>8} {'peak MiB':>9}")
    for timing in rec.timings.values():
        print(f"  {timing.name:<52} {timing.median:8.3f} {timing.peak_mib:9.0f}")
    ours_s, theirs_s = rec.median(RA_EXTRA), rec.median(PYTREC_EXTRA)
    print(
        f"  rankarena is {theirs_s / ours_s:.1f}x faster; vs pytrec_eval: "
        f"{'AGREE' if ok else 'DISAGREE'} to {PYTREC_TOL:g} on every query "
        f"(largest difference {worst[1]:.1e}, {worst[0]})"
    )
    return ok


def check_agreement(
    evaluation: rankarena.Evaluation,
    trec: dict[str, np.ndarray],
    ranx_mean: dict[str, float],
    ranx_pq: dict[str, np.ndarray],
) -> bool:
    ok = True
    print("\nagreement (diff = rankarena - other; per-query columns: over the same queries):")
    print(
        f"  {'metric':<11} {'rankarena':>11} {'pytrec_eval':>11} {'diff':>8} {'max|q|':>8}"
        f" {'ranx':>11} {'diff':>8} {'q>1e-6':>6}"
    )
    for ours, (_, rx) in NAMES.items():
        mine = evaluation.mean[ours]
        theirs = float(trec[ours].mean())
        q_diff = float(np.abs(evaluation.per_query[ours] - trec[ours]).max())
        rx_off = int(
            np.count_nonzero(np.abs(evaluation.per_query[ours] - ranx_pq[ours]) > RANX_TOL)
        )
        trec_ok = abs(mine - theirs) <= PYTREC_TOL and q_diff <= PYTREC_TOL
        ranx_ok = abs(mine - ranx_mean[rx]) <= RANX_TOL
        ok &= trec_ok
        print(
            f"  {ours:<11} {mine:11.8f} {theirs:11.8f} {mine - theirs:8.1e} {q_diff:8.1e}"
            f" {ranx_mean[rx]:11.8f} {mine - ranx_mean[rx]:8.1e} {rx_off:6d}"
            + ("" if trec_ok else "  <- DISAGREES with pytrec_eval")
            + ("" if ranx_ok else "  <- ranx off > 1e-6")
        )
    print(
        f"  rankarena vs pytrec_eval: {'AGREE' if ok else 'DISAGREE'} to {PYTREC_TOL:g} "
        f"(means and every query); ranx checked to {RANX_TOL:g} on the means"
    )
    return ok


def print_table(rec: Recorder, args: argparse.Namespace) -> None:
    base = rec.median(RA_TOTAL)
    print(f"\nresults: {args.queries} x {args.docs}, median of {args.repeats} repeats")
    print(f"  {'tool':<46} {'seconds':>8} {'min':>7} {'max':>7} {'ratio':>6} {'peak MiB':>9}")
    for timing in rec.timings.values():
        print(
            f"  {timing.name:<46} {timing.median:8.3f} {min(timing.seconds):7.3f}"
            f" {max(timing.seconds):7.3f} {timing.median / base:6.2f} {timing.peak_mib:9.0f}"
        )
    print(
        "  ratio: seconds / rankarena total; peak MiB: resident-memory peak above the RSS"
        " before the call (first repeat)"
    )
    total, ev_only, pytrec = base, rec.median(RA_EVAL), rec.median(PYTREC)
    ranx_eval = rec.median(RANX_FRESH)
    ranx_total = rec.median(RANX_BUILD) + ranx_eval
    print("\nfrom unsorted input columns to metrics (each tool's own input form):")
    print(f"  rankarena   {total:7.3f} s  Run.from_arrays (validate, sort) + Qrels + evaluate")
    print(f"  pytrec_eval {pytrec:7.3f} s  -> rankarena is {pytrec / total:.1f}x faster")
    print(
        f"  ranx        {ranx_total:7.3f} s  Qrels+Run from dicts + evaluate (sum of medians)"
        f" -> rankarena is {ranx_total / total:.1f}x faster"
    )
    print("evaluating prebuilt objects (pytrec_eval has none: its whole time above):")
    print(f"  rankarena   {ev_only:7.3f} s  evaluate(Run, Qrels)")
    print(f"  pytrec_eval {pytrec:7.3f} s  -> rankarena is {pytrec / ev_only:.1f}x faster")
    print(f"  ranx        {ranx_eval:7.3f} s  -> rankarena is {ranx_eval / ev_only:.1f}x faster")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--docs", type=int, default=1_000, help="retrieved documents per query")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--tie-rate",
        type=float,
        default=TIE_RATE,
        help="share of rows that copy another row's score (default: %(default)s)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the rankarena profile")
    parser.add_argument(
        "--no-extra", action="store_true", help="skip trec_eval's whole set (WHOLE_SET)"
    )
    args = parser.parse_args(argv)
    if args.queries < 1 or args.docs < 1 or args.repeats < 1:
        parser.error("--queries, --docs and --repeats must be positive")

    import numba
    import pytrec_eval  # noqa: F401

    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, pyarrow {pa.__version__}, "
        f"pytrec_eval-terrier {_version('pytrec-eval-terrier')}, ranx {_version('ranx')}, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), {os.cpu_count()} CPUs"
    )
    t, data = timed(lambda: make_data(args.queries, args.docs, seed=0, tie_rate=args.tie_rate))
    n_rows = len(data.scores)
    sorted_scores = np.sort(data.scores.reshape(args.queries, args.docs), axis=1)
    n_ties = int(np.count_nonzero(sorted_scores[:, 1:] == sorted_scores[:, :-1]))
    del sorted_scores
    print(
        f"data: {args.queries} queries x {args.docs} docs = {n_rows:,} run rows "
        f"({100 * n_ties / n_rows:.1f}% tie another row of their query), "
        f"{len(data.qrels_grade):,} qrels rows "
        f"({np.count_nonzero(data.qrels_grade > 0) / args.queries:.2f} relevant/query, "
        f"{np.count_nonzero(data.qrels_grade == 0):,} grade-0); generated in {t:.1f} s"
    )

    # warm-ups: plugin host + metric registry, numba compilation
    rankarena_total(make_data(20, 50, seed=2))
    t, _ = timed(warm_up_ranx)
    print(f"warm-up: rankarena plugin host loaded; ranx/numba warmed up in {t:.1f} s")

    rec = Recorder()
    evaluation = bench_rankarena(data, args.repeats, rec)
    t, (q_dict, r_dict) = timed(lambda: (qrels_dict(data), run_dict(data)))
    print(f"setup (not timed): dict-of-dicts run and qrels built in {t:.1f} s")
    trec = bench_pytrec_eval(data, q_dict, r_dict, evaluation.query_ids, args.repeats, rec)
    ranx_mean, ranx_pq = bench_ranx(q_dict, r_dict, evaluation.query_ids, args.repeats, rec)

    ok = check_agreement(evaluation, trec, ranx_mean, ranx_pq)
    print_table(rec, args)
    if not args.no_extra:
        ok &= bench_extra(q_dict, r_dict, data, args.repeats)
    del q_dict, r_dict
    gc.collect()
    if not args.no_profile:
        profile_rankarena(data, args.repeats)
    if not ok:
        print("\nFAIL: rankarena disagrees with pytrec_eval", file=sys.stderr)
        return 1
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
