"""BM25 wrapper overhead: rankarena's ``bm25`` retriever vs calling bm25s directly.

    python benchmarks/bench_bm25.py
    python benchmarks/bench_bm25.py --repeats 10 --stemmer porter
    python benchmarks/bench_bm25.py --data /tmp/synth-100k --repeats 3 --fresh-process
    python benchmarks/bench_bm25.py --data /tmp/synth-1m --repeats 1 --fresh-process \\
        --no-inprocess

On a BEIR folder (``--data``, default ``$RANKARENA_DATA_DIR/scifact``, else
``../shared/data/scifact`` next to the repository; the full corpus and the ``--split``
queries), both start from the same in-memory ``Corpus`` and ``Queries`` and are timed, in
this process, from construction to ranked output, alternating which goes first:

* rankarena: ``plugin_manager().retrievers.create("bm25", k1, b, stemmer, stopwords)``,
  ``.index(corpus)``, ``.search(queries, k)``: a ``Run`` (an Arrow table in trec_eval order,
  documents with score 0 dropped);
* bm25s, mirroring what the wrapper does (``plugins/retrieval/bm25.py``): title + " " + text,
  ``bm25s.tokenize(..., stopwords, Stemmer.Stemmer(name), return_ids=True)``,
  ``bm25s.BM25(k1, b, method="lucene").index(...)``, queries tokenised to strings,
  ``retrieve(..., k, n_threads=1)``, and the returned indices mapped to doc ids (arrays).

The stemmer is passed to both explicitly (default: the wrapper's own default, read from its
signature at run time). Before timing is reported, every query's top-10 doc ids must agree
(identical, or different only through ties in score); the exit status is 1 otherwise. The
overhead is ours / bm25s - 1; the time ``Run.from_arrays`` takes on the same arrays is shown
separately.

With ``--fresh-process`` each side is also run, ``--repeats`` times (ours first in even
repeats, bm25s first in odd ones), in a fresh process (``multiprocessing`` spawn context,
one child at a time) that imports rankarena, bm25s and PyStemmer, loads the BEIR folder
(``BeirFolder(...).corpus`` and ``.queries(split)``: time "load s"), collects garbage and
returns free heap memory to the OS (glibc ``malloc_trim``), then reads its resident size
("RSS loaded": ``VmRSS`` of /proc/self/status, the corpus-loaded baseline) and resets the
kernel's peak mark (``/proc/self/clear_refs``), and then times the same two phases as
above, separately:

* index: rankarena ``create`` + ``index(corpus)``; bm25s: corpus texts, doc-id array,
  ``tokenize`` + ``BM25.index`` (the tokens are dropped afterwards, as in the wrapper);
* search: rankarena ``search(queries, k)`` -> ``Run``; bm25s: query ``tokenize`` +
  ``retrieve`` + doc-id mapping. Queries/s = queries / search s.

Memory, in MiB: "RSS indexed" (``VmRSS`` after the index phase: the corpus plus the index
kept), "index +" (RSS indexed - RSS loaded: the index's own memory), "peak" (``VmHWM``
during index + search, after the reset; if the reset is refused, the loading is included and
a warning printed), "peak +" (peak - RSS loaded) and "load peak" (``VmHWM`` before the
reset: the loading's peak). ``getrusage``'s ru_maxrss is not used: a spawned child inherits
its parent's through fork + exec. The children's top-10 go through the same agreement check.
``--no-inprocess`` skips the in-process timing (for large corpora, where indexing every side
``repeats + 1`` times in one process is too slow); the agreement is then checked on the
children's results only.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from process_memory import release_free_memory, reset_peak, status_kib

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    env = os.environ.get("RANKARENA_DATA_DIR")
    if env:
        return Path(env) / "scifact"
    return REPO.parent / "shared" / "data" / "scifact"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def top10_ours(run, query_ids: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per query: (doc ids, scores) of ranks 1..10 of a ``Run``."""
    table = run.table
    rank = table.column("rank").to_numpy()
    keep = rank <= 10
    q = np.array(table.column("query_id").to_pylist(), dtype=object)[keep]
    d = np.array(table.column("doc_id").to_pylist(), dtype=object)[keep]
    s = table.column("score").to_numpy()[keep]
    return {qid: (d[q == qid].tolist(), s[q == qid]) for qid in query_ids}


def compare_top10(ours, peer_ids: np.ndarray, peer_scores: np.ndarray, query_ids: list[str]):
    """Counts of queries whose top-10 are identical / same set / differ only at ties / differ."""
    counts = {"identical": 0, "same set, tied docs reordered": 0, "ties at the cut": 0}
    bad: list[str] = []
    max_score_diff = 0.0
    for i, qid in enumerate(query_ids):
        positive = peer_scores[i] > 0
        p_ids = peer_ids[i][positive][:10].tolist()
        p_scores = peer_scores[i][positive][:10].astype(np.float64)
        o_ids, o_scores = ours[qid]
        if len(o_ids) != len(p_ids):
            bad.append(qid)
            continue
        if len(o_ids):
            max_score_diff = max(max_score_diff, float(np.abs(o_scores - p_scores).max()))
        if o_ids == p_ids:
            counts["identical"] += 1
        elif set(o_ids) == set(p_ids):
            counts["same set, tied docs reordered"] += 1
        else:
            cut = o_scores[-1]
            ours_only = [s for d, s in zip(o_ids, o_scores, strict=True) if d not in p_ids]
            peer_only = [s for d, s in zip(p_ids, p_scores, strict=True) if d not in o_ids]
            if all(s == cut for s in ours_only + peer_only):
                counts["ties at the cut"] += 1
            else:
                bad.append(qid)
    return counts, bad, max_score_diff


def make_sides(corpus, queries, k: int, params: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Per side, (index(), search(state)): the two phases of "construction to ranked output".

    ``params``: k1, b, stemmer, stopwords."""
    import bm25s
    import Stemmer

    import rankarena

    registry = rankarena.plugin_manager().retrievers
    k1, b, stemmer, stopwords = (params[n] for n in ("k1", "b", "stemmer", "stopwords"))

    def ours_index() -> Any:
        retriever = registry.create("bm25", k1=k1, b=b, stemmer=stemmer, stopwords=stopwords)
        retriever.index(corpus)
        return retriever

    def ours_search(retriever: Any) -> Any:
        return retriever.search(queries, k=k)

    def peer_index() -> tuple[Any, Any, np.ndarray]:
        stem = Stemmer.Stemmer(stemmer) if stemmer else None
        texts = corpus.texts(with_title=True)
        doc_ids = np.array(corpus.ids, dtype=object)
        tokens = bm25s.tokenize(
            texts, stopwords=stopwords, stemmer=stem, return_ids=True, show_progress=False
        )
        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        model.index(tokens, show_progress=False)
        return model, stem, doc_ids

    def peer_search(state: tuple[Any, Any, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        model, stem, doc_ids = state
        q_tokens = bm25s.tokenize(
            queries.table.column("text").to_pylist(),
            stopwords=stopwords,
            stemmer=stem,
            return_ids=False,
            show_progress=False,
        )
        docs, scores = model.retrieve(q_tokens, k=k, show_progress=False, n_threads=1)
        return doc_ids[docs], scores

    return {"ours": (ours_index, ours_search), "peer": (peer_index, peer_search)}


# ---------------------------------------------------------------------------- fresh processes


def child_side(side: str, data: str, split: str, k: int, params: dict[str, Any]) -> dict:
    """In a fresh process: load, then index and search with one side; times (s), memory
    (KiB) and what the agreement check needs."""
    import bm25s  # noqa: F401  (imported before timing, as for the other side)
    import Stemmer  # noqa: F401

    import rankarena
    from rankarena.data import BeirFolder

    rankarena.plugin_manager().retrievers.get("bm25")  # the plugin host
    start = time.perf_counter()
    folder = BeirFolder(data)
    corpus, queries = folder.corpus, folder.queries(split)
    load_s = time.perf_counter() - start
    k = min(k, len(corpus))
    index, search = make_sides(corpus, queries, k, params)[side]
    gc.collect()
    release_free_memory()
    loaded = status_kib("VmRSS") or 0
    load_peak = status_kib("VmHWM") or 0  # this process's peak so far: the loading
    exact = reset_peak() and status_kib("VmHWM") is not None
    index_s, state = timed(index)
    gc.collect()
    indexed = status_kib("VmRSS") or 0
    search_s, out = timed(lambda: search(state))
    # VmHWM, not ru_maxrss, which a spawned child inherits from its parent (fork + exec)
    peak = status_kib("VmHWM") or 0
    info = {
        "n_docs": len(corpus),
        "n_queries": len(queries),
        "k": k,
        "load_s": load_s,
        "index_s": index_s,
        "search_s": search_s,
        "loaded_kib": loaded,
        "indexed_kib": indexed,
        "peak_kib": peak,
        "load_peak_kib": load_peak,
        "peak_reset": exact,
    }
    if side == "ours":
        info["top10"] = top10_ours(out, queries.ids)
        info["n_results"] = len(out)
    else:
        ids, scores = out
        info["top10"] = (ids[:, :10].copy(), scores[:, :10].copy())
        info["n_results"] = int(np.count_nonzero(scores > 0))
    return info


def run_in_child(*args: Any) -> dict:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(child_side, *args).result()


def fresh_process_study(args: argparse.Namespace, params: dict[str, Any], query_ids) -> bool:
    """Each side in fresh processes; prints the table; False if the top-10 disagree."""
    mib = 1024
    rows: dict[str, list[dict]] = {"ours": [], "peer": []}
    for r in range(args.repeats):
        for side in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
            info = run_in_child(side, str(args.data), args.split, args.k, params)
            rows[side].append(info)
            print(
                f"  [child {r + 1}/{args.repeats} {side}: index {info['index_s']:.1f} s, "
                f"search {info['search_s']:.1f} s]",
                flush=True,
            )
    first = rows["ours"][0]
    n_docs, n_queries, k = first["n_docs"], first["n_queries"], first["k"]
    print(
        f"\nfresh process per side (spawn), {args.repeats} repeat(s) each, order alternated; "
        f"{n_docs:,} docs, {n_queries:,} queries, k={k}"
    )
    peer_ids, peer_scores = rows["peer"][0]["top10"]
    counts, bad, max_diff = compare_top10(first["top10"], peer_ids, peer_scores, query_ids)
    n_ours, n_peer = first["n_results"], rows["peer"][0]["n_results"]
    print(
        f"  agreement (first child of each side): rankarena Run {n_ours:,} rows; bm25s "
        f"{n_peer:,} results with score > 0; top-10 per query: "
        + ", ".join(f"{v} {name}" for name, v in counts.items())
        + f", {len(bad)} DIFFERENT; max |score diff| in the top 10: {max_diff:.1e}"
    )
    ok = not bad and n_ours == n_peer and max_diff < 1e-6
    if not ok:
        print(f"FAIL: top-10 differs for queries {bad[:10]}", file=sys.stderr)
        return False
    print("  -> AGREE")
    labels = {"ours": "rankarena bm25", "peer": "bm25s direct"}
    print(
        f"  {'system':<15} {'run':>3} {'load s':>7} {'index s':>8} {'search s':>9} "
        f"{'queries/s':>10} {'RSS loaded':>11} {'RSS indexed':>12} {'index +':>8} "
        f"{'peak':>8} {'peak +':>8} {'load peak':>10}"
    )
    for side in ("ours", "peer"):
        for i, info in enumerate(rows[side]):
            print(
                f"  {labels[side]:<15} {i + 1:3d} {info['load_s']:7.1f} {info['index_s']:8.2f} "
                f"{info['search_s']:9.2f} {n_queries / info['search_s']:10.1f} "
                f"{info['loaded_kib'] / mib:11.0f} {info['indexed_kib'] / mib:12.0f} "
                f"{(info['indexed_kib'] - info['loaded_kib']) / mib:8.0f} "
                f"{info['peak_kib'] / mib:8.0f} "
                f"{(info['peak_kib'] - info['loaded_kib']) / mib:8.0f} "
                f"{info['load_peak_kib'] / mib:10.0f}"
            )

    def values(side: str, key: str) -> list[float]:
        if key == "index+search":
            return [info["index_s"] + info["search_s"] for info in rows[side]]
        if key == "peak+":
            return [info["peak_kib"] - info["loaded_kib"] for info in rows[side]]
        return [info[key] for info in rows[side]]

    keys = (("index", "index_s"), ("search", "search_s"), ("both", "index+search"))
    for label, stat in (("medians", statistics.median), ("min", min)):
        ratios = ", ".join(
            f"{name} {stat(values('ours', key)) / stat(values('peer', key)):.3f}x"
            for name, key in keys
        )
        peak = stat(values("ours", "peak+")) / stat(values("peer", "peak+"))
        print(f"  ratio ours / bm25s ({label}): time: {ratios}; peak + {peak:.3f}x")
    print(
        "  MiB; RSS loaded: VmRSS with the corpus and queries loaded; RSS indexed: VmRSS after "
        "the index phase; index + = indexed - loaded; peak: VmHWM over index + search (reset "
        "after loading); peak + = peak - loaded; load peak: VmHWM before that reset (loading)"
    )
    if not all(info["peak_reset"] for side in rows for info in rows[side]):
        print("  WARNING: /proc/self/clear_refs refused: the peaks include the loading")
    return True


def inprocess_study(args: argparse.Namespace, params: dict[str, Any], corpus, queries) -> bool:
    """The two sides timed in this process, alternating; False if the top-10 disagree."""
    from rankarena import Run

    k = min(args.k, len(corpus))
    sides = make_sides(corpus, queries, k, params)
    (ours_index, ours_search), (peer_index, peer_search) = sides["ours"], sides["peer"]

    def ours() -> Run:
        return ours_search(ours_index())

    def peer() -> tuple[np.ndarray, np.ndarray]:
        return peer_search(peer_index())

    query_ids = queries.ids

    def run_construction(ids: np.ndarray, scores: np.ndarray) -> Run:
        """What the wrapper does after retrieve(), on the peer's (id-mapped) output."""
        scores = scores.astype(np.float64)
        keep = (scores > 0).ravel()
        q = np.repeat(np.array(query_ids, dtype=object), k)
        return Run.from_arrays(q[keep], ids.ravel()[keep], scores.ravel()[keep])

    ours()  # warm-up (imports, plugin host)
    peer()
    secs: dict[str, list[float]] = {"ours": [], "peer": [], "run": []}
    outs: dict[str, Any] = {}
    for r in range(args.repeats):
        for name in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
            t, out = timed(ours if name == "ours" else peer)
            secs[name].append(t)
            outs.setdefault(name, out)
    peer_ids, peer_scores = outs["peer"]
    for _ in range(args.repeats):
        t, run_copy = timed(lambda: run_construction(peer_ids, peer_scores))
        secs["run"].append(t)

    # agreement
    run = outs["ours"]
    n_positive = int(np.count_nonzero(peer_scores > 0))
    print(
        f"\nagreement: rankarena Run {len(run):,} rows; bm25s {peer_scores.size:,} results, "
        f"{n_positive:,} with score > 0; Run.from_arrays on bm25s's arrays == the wrapper's "
        f"Run: {run_copy == run}"
    )
    counts, bad, max_diff = compare_top10(
        top10_ours(run, query_ids), peer_ids, peer_scores, query_ids
    )
    print(
        "  top-10 per query: "
        + ", ".join(f"{v} {name}" for name, v in counts.items())
        + f", {len(bad)} DIFFERENT; max |score diff| in the top 10: {max_diff:.1e}"
    )
    ok = not bad and len(run) == n_positive and max_diff < 1e-6
    if not ok:
        print(f"FAIL: top-10 differs for queries {bad[:10]}", file=sys.stderr)
        return False
    print("  -> AGREE")

    med = {name: statistics.median(v) for name, v in secs.items()}
    best = {name: min(v) for name, v in secs.items()}
    print(f"\nresults: index + search, {args.repeats} repeats (order alternated)")
    print(f"  {'system':<50} {'min s':>7} {'median s':>9}")
    labels = {
        "ours": "rankarena bm25: create + index + search -> Run",
        "peer": "bm25s direct: tokenize + index + retrieve -> ids",
        "run": "  of ours: Run.from_arrays on the same arrays",
    }
    for name, label in labels.items():
        print(f"  {label:<50} {best[name]:7.3f} {med[name]:9.3f}")
    over_med = 100 * (med["ours"] / med["peer"] - 1)
    over_min = 100 * (best["ours"] / best["peer"] - 1)
    print(
        f"  overhead ours vs bm25s: {over_med:+.1f}% (medians), {over_min:+.1f}% (min); "
        "target <= 10%"
    )
    share = 100 * med["run"] / med["ours"]
    rest = 100 * ((med["ours"] - med["run"]) / med["peer"] - 1)
    print(
        f"  Run construction: {med['run']:.3f} s = {share:.1f}% of ours; ours without it vs "
        f"bm25s: {rest:+.1f}% (medians)"
    )
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="a BEIR folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--k1", type=float, default=0.9)
    parser.add_argument("--b", type=float, default=0.4)
    parser.add_argument(
        "--stemmer", default=None, help="PyStemmer algorithm (default: the wrapper's default)"
    )
    parser.add_argument("--stopwords", default="en")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--fresh-process",
        action="store_true",
        help="also run each side in fresh processes: index time, queries/s, peak memory",
    )
    parser.add_argument(
        "--no-inprocess",
        action="store_true",
        help="skip the in-process timing (needs --fresh-process)",
    )
    args = parser.parse_args()
    if args.repeats < 1 or args.k < 1:
        parser.error("--repeats and --k must be positive")
    if args.no_inprocess and not args.fresh_process:
        parser.error("--no-inprocess needs --fresh-process")

    import bm25s

    import rankarena
    from rankarena.data import BeirFolder

    registry = rankarena.plugin_manager().retrievers
    factory = registry.get("bm25").factory
    default_stemmer = inspect.signature(factory).parameters["stemmer"].default
    stemmer = args.stemmer if args.stemmer is not None else default_stemmer
    with_title = inspect.signature(factory).parameters["with_title"].default
    assert with_title is True, "the peer below indexes title + text, as the wrapper's default"
    params = {"k1": args.k1, "b": args.b, "stemmer": stemmer, "stopwords": args.stopwords}

    folder = BeirFolder(args.data)
    queries = folder.queries(args.split)
    corpus = None if args.no_inprocess else folder.corpus
    print(
        f"python {sys.version.split()[0]}, bm25s {bm25s.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    docs = "docs counted in the children" if corpus is None else f"{len(corpus):,} docs"
    k = args.k if corpus is None else min(args.k, len(corpus))
    print(
        f"data: {args.data}: {docs}, {len(queries)} {args.split} queries; "
        f"k1={args.k1}, b={args.b}, method=lucene, stemmer={stemmer!r} (wrapper default "
        f"{default_stemmer!r}), stopwords={args.stopwords!r}, k={k}"
    )
    ok = True
    if corpus is not None:
        ok = inprocess_study(args, params, corpus, queries)
        corpus = folder = None  # frees the corpus before the children run
        gc.collect()
    if ok and args.fresh_process:
        ok = fresh_process_study(args, params, queries.ids)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
