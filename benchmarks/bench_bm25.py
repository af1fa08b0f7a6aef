"""BM25 wrapper overhead: rankarena's ``bm25`` retriever vs calling bm25s directly.

    python benchmarks/bench_bm25.py
    python benchmarks/bench_bm25.py --repeats 10 --stemmer porter

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
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

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
    args = parser.parse_args()
    if args.repeats < 1 or args.k < 1:
        parser.error("--repeats and --k must be positive")

    import bm25s
    import Stemmer

    import rankarena
    from rankarena import Run
    from rankarena.data import BeirFolder

    registry = rankarena.plugin_manager().retrievers
    factory = registry.get("bm25").factory
    default_stemmer = inspect.signature(factory).parameters["stemmer"].default
    stemmer = args.stemmer if args.stemmer is not None else default_stemmer
    with_title = inspect.signature(factory).parameters["with_title"].default
    assert with_title is True, "the peer below indexes title + text, as the wrapper's default"

    folder = BeirFolder(args.data)
    corpus, queries = folder.corpus, folder.queries(args.split)
    k = min(args.k, len(corpus))
    print(
        f"python {sys.version.split()[0]}, bm25s {bm25s.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"data: {args.data}: {len(corpus):,} docs, {len(queries)} {args.split} queries; "
        f"k1={args.k1}, b={args.b}, method=lucene, stemmer={stemmer!r} (wrapper default "
        f"{default_stemmer!r}), stopwords={args.stopwords!r}, k={k}"
    )

    def ours() -> Run:
        retriever = registry.create(
            "bm25", k1=args.k1, b=args.b, stemmer=stemmer, stopwords=args.stopwords
        )
        retriever.index(corpus)
        return retriever.search(queries, k=k)

    def peer() -> tuple[np.ndarray, np.ndarray]:
        stem = Stemmer.Stemmer(stemmer) if stemmer else None
        texts = corpus.texts(with_title=True)
        doc_ids = np.array(corpus.ids, dtype=object)
        tokens = bm25s.tokenize(
            texts, stopwords=args.stopwords, stemmer=stem, return_ids=True, show_progress=False
        )
        model = bm25s.BM25(k1=args.k1, b=args.b, method="lucene")
        model.index(tokens, show_progress=False)
        q_tokens = bm25s.tokenize(
            queries.table.column("text").to_pylist(),
            stopwords=args.stopwords,
            stemmer=stem,
            return_ids=False,
            show_progress=False,
        )
        docs, scores = model.retrieve(q_tokens, k=k, show_progress=False, n_threads=1)
        return doc_ids[docs], scores

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
        sys.exit(1)
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


if __name__ == "__main__":
    main()
