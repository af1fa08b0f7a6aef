"""Exact top-k inner-product search: rankarena's ``exact_search`` vs FAISS ``IndexFlatIP``.

    python benchmarks/bench_search.py
    python benchmarks/bench_search.py --k 10,100,1000 --chunk-sizes 10000,50000
    python benchmarks/bench_search.py --docs 20000 --repeats 3 --no-hnsw

Data: ``--docs`` x ``--dim`` random float32 vectors (``np.random.default_rng(--seed)``,
standard normal, rows L2-normalised), then ``--queries`` query vectors from the same
generator. In this process, both systems get the same in-memory arrays; only the search is
timed (FAISS's ``index.add`` is not): ``exact_search(queries, docs, k, chunk_size=...,
device="cpu")`` against ``IndexFlatIP.search(queries, k)``, alternating which goes first,
``--repeats`` times per k. Before any timing is printed the results must agree with FAISS:
>= 99.9% of the top-k indices (per query, as sets: ties may be broken differently) and the
sorted scores within 1e-4; the exit status is 1 otherwise.

Memory: for each ``--chunk-sizes`` value a fresh spawned process builds the same data, warms
the search up on a small slice, returns free heap memory to the OS (glibc ``malloc_trim``),
then measures the peak resident memory of one search above the RSS before it (the kernel's
peak mark is reset through /proc/self/clear_refs where allowed; otherwise the growth of
``getrusage`` ru_maxrss, a lower bound). It is printed beside the
theoretical score block (min(1024, Q) x chunk_size x 4 bytes), the full Q x N score matrix a
naive implementation allocates, and the same measurement for a naive ``queries @ docs.T`` +
``torch.topk`` and for FAISS.

For information, FAISS ``IndexHNSWFlat`` (inner product, M=``--hnsw-m``, efSearch=
max(``--ef-search``, k)) is built once (build time shown, not part of any ratio) and
timed on the same queries, with its recall@k against the exact top-k.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

MIB = 2**20
QUERY_BATCH = 1024  # exact_search's default query_batch


def make_data(n_docs: int, n_queries: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(docs, queries), float32, rows L2-normalised in blocks (no full-size temporaries)."""
    rng = np.random.default_rng(seed)
    docs = rng.standard_normal((n_docs, dim), dtype=np.float32)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    for x in (docs, queries):
        for start in range(0, len(x), 10_000):
            block = x[start : start + 10_000]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
    return docs, queries


# ---------------------------------------------------------------------------- peak memory


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _malloc_trim() -> None:
    """Give free heap memory back to the OS (glibc), so that reused free pages do not hide
    new allocations from the peak measurement."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_peak(
    kind: str, n_docs: int, n_queries: int, dim: int, seed: int, k: int, chunk_size: int
) -> dict[str, Any]:
    """In a fresh process: the peak RSS (MiB) of one search above the RSS before it."""
    import torch

    from rankarena.retrieval.vector_search import exact_search

    docs, queries = make_data(n_docs, n_queries, dim, seed)
    if kind == "ours":

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            return exact_search(q, d, k, chunk_size=chunk_size, device="cpu")

    elif kind == "naive":

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            scores = torch.from_numpy(q @ d.T)  # the full Q x N matrix
            top = torch.topk(scores, min(k, d.shape[0]), dim=1)
            return top.values.numpy(), top.indices.numpy()

    else:
        import faiss

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            index = faiss.IndexFlatIP(d.shape[1])
            index.add(d)
            return index.search(q, min(k, d.shape[0]))

        index = faiss.IndexFlatIP(dim)
        index.add(docs)
        search_all = index.search

    # warm-up on a small slice: thread pools, lazy initialisation, allocator arenas
    search(queries[:8], docs[:2000])
    gc.collect()
    _malloc_trim()
    exact = _reset_peak() and _proc_status_kib("VmHWM") is not None
    rss_before = _proc_status_kib("VmRSS") or 0
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = search_all(queries, k) if kind == "faiss" else search(queries, docs)
    if exact:
        delta_kib = (_proc_status_kib("VmHWM") or 0) - rss_before
    else:
        delta_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max_before
    return {
        "delta_mib": max(delta_kib, 0) / 1024,
        "baseline_mib": rss_before / 1024 if exact else max_before / 1024,
        "method": "VmHWM after clear_refs" if exact else "ru_maxrss growth (lower bound)",
        "shape": tuple(out[1].shape),
    }


def measure_in_child(*args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(child_peak, *args).result()


# ---------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the entries of ``a``'s rows that are in the same row of ``b`` (as sets)."""
    hits = sum(len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(a, b, strict=True))
    return hits / a.size


def parse_ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 10,100, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=parse_ints, default=[100], help="e.g. 10,100,1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--chunk-size", type=int, default=50_000, help="exact_search chunk_size when timing"
    )
    parser.add_argument(
        "--chunk-sizes",
        type=parse_ints,
        default=[10_000, 50_000],
        help="chunk sizes for the peak-memory study",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory study")
    parser.add_argument("--no-hnsw", action="store_true", help="skip the HNSW reference")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=40,
        help="HNSW build beam (FAISS's default 40; rankarena's faiss-hnsw uses 200)",
    )
    parser.add_argument("--ef-search", type=int, default=256)
    args = parser.parse_args()
    if min(args.docs, args.queries, args.dim, args.repeats, args.chunk_size) < 1:
        parser.error("sizes and --repeats must be positive")

    import faiss
    import torch

    from rankarena.retrieval.vector_search import exact_search

    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), faiss {faiss.__version__} "
        f"({faiss.omp_get_max_threads()} OpenMP threads), {os.cpu_count()} CPUs"
    )
    t, (docs, queries) = timed(lambda: make_data(args.docs, args.queries, args.dim, args.seed))
    print(
        f"data: {args.docs:,} docs x {args.dim} and {args.queries:,} queries, float32, "
        f"L2-normalised, seed {args.seed} ({docs.nbytes / MIB:.0f} MiB of docs, "
        f"made in {t:.1f} s)"
    )
    t, flat = timed(lambda: faiss.IndexFlatIP(args.dim))
    t, _ = timed(lambda: flat.add(docs))
    print(f"FAISS IndexFlatIP.add: {t:.2f} s (not timed below)")

    def ours(k: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(queries, docs, k, chunk_size=args.chunk_size, device="cpu")

    def peer(k: int) -> tuple[np.ndarray, np.ndarray]:
        return flat.search(queries, k)

    ours(10)  # warm-up
    peer(10)
    results: dict[int, dict[str, list[float]]] = {}
    checks: list[str] = []
    ok = True
    exact_ids: dict[int, np.ndarray] = {}
    for k in args.k:
        secs: dict[str, list[float]] = {"ours": [], "faiss": []}
        outs: dict[str, Any] = {}
        for r in range(args.repeats):
            for name in ("ours", "faiss") if r % 2 == 0 else ("faiss", "ours"):
                fn = ours if name == "ours" else peer
                t, out = timed(lambda f=fn, k=k: f(k))
                secs[name].append(t)
                outs.setdefault(name, out)
        results[k] = secs
        (s_ours, i_ours), (s_f, i_f) = outs["ours"], outs["faiss"]
        kk = min(k, args.docs)
        assert s_ours.shape == s_f.shape == (args.queries, kk), (s_ours.shape, s_f.shape)
        share = overlap(i_ours, i_f)
        score_diff = float(np.abs(s_ours - s_f).max())
        sorted_ok = bool((np.diff(s_ours, axis=1) <= 0).all())
        good = share >= 0.999 and score_diff < 1e-4 and sorted_ok
        ok &= good
        checks.append(
            f"  k={k:<5} top-k index overlap {100 * share:.4f}%, max |score diff| "
            f"{score_diff:.2e}, ours sorted desc: {sorted_ok} -> {'AGREE' if good else 'DISAGREE'}"
        )
        exact_ids[k] = i_f

    print("\nagreement with FAISS IndexFlatIP (need >= 99.9% overlap, scores within 1e-4):")
    print("\n".join(checks))
    if not ok:
        print("FAIL: exact_search disagrees with FAISS", file=sys.stderr)
        sys.exit(1)

    print(
        f"\nsearch time: {args.queries:,} queries x {args.docs:,} docs, {args.repeats} repeats "
        f"(order alternated); exact_search chunk_size={args.chunk_size:,}"
    )
    print(f"  {'k':>5} {'system':<26} {'min s':>7} {'median s':>9} {'queries/s':>10}")
    for k, secs in results.items():
        for name, label in (("ours", "rankarena exact_search"), ("faiss", "FAISS IndexFlatIP")):
            best, med = min(secs[name]), statistics.median(secs[name])
            print(f"  {k:5d} {label:<26} {best:7.3f} {med:9.3f} {args.queries / med:10.0f}")
        r_min = min(secs["ours"]) / min(secs["faiss"])
        r_med = statistics.median(secs["ours"]) / statistics.median(secs["faiss"])
        print(
            f"  {k:5d} ratio ours / FAISS: {r_min:.2f}x (min), {r_med:.2f}x (median); "
            "target <= 1.5x"
        )

    if not args.no_memory:
        k_mem = max(args.k)
        full = args.queries * args.docs * 4 / MIB
        print(
            f"\npeak memory of one search (k={k_mem}), each in a fresh spawned process, "
            "above the RSS before it:"
        )
        print(f"  {'configuration':<36} {'peak MiB':>9} {'score block MiB':>16} {'method'}")
        rows = [("ours", c) for c in args.chunk_sizes] + [("naive", 0), ("faiss", 0)]
        for kind, chunk in rows:
            info = measure_in_child(
                kind, args.docs, args.queries, args.dim, args.seed, k_mem, max(chunk, 1)
            )
            if kind == "ours":
                label = f"exact_search chunk_size={chunk:,}"
                block = min(QUERY_BATCH, args.queries) * min(chunk, args.docs) * 4 / MIB
                block_text = f"{block:16.1f}"
            elif kind == "naive":
                label, block_text = "naive Q @ D.T + torch.topk", f"{full:16.1f}"
            else:
                label, block_text = "FAISS IndexFlatIP.search", f"{'-':>16}"
            print(f"  {label:<36} {info['delta_mib']:9.1f} {block_text} {info['method']}")
        print(
            f"  the full Q x N score matrix: {args.queries:,} x {args.docs:,} x 4 bytes = "
            f"{full:.0f} MiB; score block = min({QUERY_BATCH}, Q) x chunk_size x 4 bytes"
        )

    if not args.no_hnsw:
        hnsw = faiss.IndexHNSWFlat(args.dim, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = args.ef_construction
        t, _ = timed(lambda: hnsw.add(docs))
        print(
            f"\nFAISS IndexHNSWFlat (M={args.hnsw_m}, efConstruction={args.ef_construction}) "
            f"for information: built in {t:.1f} s"
        )
        print(f"  {'k':>5} {'efSearch':>8} {'min s':>7} {'median s':>9} {'recall@k':>9}")
        for k in args.k:
            hnsw.hnsw.efSearch = max(args.ef_search, k)
            secs_h = []
            out_h = None
            for _ in range(args.repeats):
                t, out = timed(lambda k=k: hnsw.search(queries, k))
                secs_h.append(t)
                out_h = out_h or out
            recall = overlap(exact_ids[k], out_h[1])
            print(
                f"  {k:5d} {hnsw.hnsw.efSearch:8d} {min(secs_h):7.3f} "
                f"{statistics.median(secs_h):9.3f} {recall:9.4f}"
            )
        print(
            "  (uniformly random high-dimensional vectors are a hard case for graph indexes; "
            "recall on real embeddings is usually higher)"
        )


if __name__ == "__main__":
    main()
