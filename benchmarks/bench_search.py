"""Exact top-k inner-product search: rankarena's ``exact_search`` vs FAISS ``IndexFlatIP``,
over in-memory or memory-mapped (fp32, fp16) embeddings; FAISS HNSW and IVF for reference.

    python benchmarks/bench_search.py
    python benchmarks/bench_search.py --k 10,100,1000 --chunk-sizes 10000,50000
    python benchmarks/bench_search.py --docs 20000 --repeats 3 --no-hnsw --no-ivf
    python benchmarks/bench_search.py --docs 1000000 --k 10,100,1000 \\
        --storage fp32-mmap,fp16-mmap --faiss-mmap --repeats 3 --no-hnsw

Data: ``--docs`` x ``--dim`` random float32 vectors (``np.random.default_rng(--seed)``,
standard normal, rows L2-normalised), then ``--queries`` query vectors from the same
generator. With ``--clusters C`` every vector is instead drawn around one of C random unit
centres (``c + --spread * g / sqrt(dim)``, then normalised): unstructured normal vectors
are the worst case for HNSW and IVF (no neighbourhood to find), while text embeddings
cluster by topic; exact search costs the same on both. They are written once to a
temporary folder (``--tmpdir``): ``docs.f32.npy``, ``docs.f16.npy`` (the same vectors
rounded to float16, written only when needed) and ``queries.npy``.

Storage (``--storage``, one or more of ``memory``, ``fp32-mmap``, ``fp16-mmap``; default
``memory``): what ``exact_search`` is given as ``docs``:

* ``memory``: the in-memory float32 array;
* ``fp32-mmap``: ``np.load(docs.f32.npy, mmap_mode="r")`` as is. ``exact_search`` takes
  ``np.ascontiguousarray(docs[start:start + chunk_size], dtype=np.float32)`` per chunk,
  which for a float32 memmap is a view of the mapped pages (no copy);
* ``fp16-mmap``: ``np.load(docs.f16.npy, mmap_mode="r")`` as is; each chunk is converted
  to a new float32 array (chunk_size x dim x 4 bytes) by that same line.

The FAISS peer is an ``IndexFlatIP`` in RAM (``add`` copies a NumPy array, memmap or not,
into the index): for ``memory`` and ``fp32-mmap`` the original vectors, for ``fp16-mmap``
the float16 vectors widened to float32 (the exact values ``exact_search`` multiplies), so
that both search the same numbers. FAISS can also memory-map its own index files:
with ``--faiss-mmap`` a second peer is timed for the mmap storages, the index written
with ``faiss.write_index`` and read back with ``faiss.read_index(path,
faiss.IO_FLAG_MMAP_IFC)`` (the codes stay in the file): an ``IndexFlatIP`` for fp32, an
``IndexScalarQuantizer`` QT_fp16 (inner product; not BLAS) for fp16; it takes part in the
agreement check, the timing (order rotated with the others) and the memory study. The
page cache holds the files (they were just written): the memory-mapped timings are
warm-cache timings; the time of the first search after opening the data (for a memmap:
page tables still empty) is printed too.

Timing: in this process, per storage and per k, ``exact_search(queries, docs, k,
chunk_size=--chunk-size, device="cpu")`` against ``IndexFlatIP.search(queries, k)``,
alternating which goes first, ``--repeats`` times; only the search is timed (not
``index.add``). Before any timing is printed the results must agree with FAISS: >= 99.9% of
the top-k indices (per query, as sets: ties may be broken differently) and the sorted scores
within 1e-4; the exit status is 1 otherwise. Ratios are ours / a peer of the same (storage,
k) group of this run. Targets, against the IndexFlatIP in RAM: <= 1.5x in memory, <= 1.2x
memory-mapped (issue 19). For fp16 the overlap of its top-k with the float32 exact top-k is
shown (the loss from rounding the vectors, not a property of the search). Threads: each
library's default (torch and FAISS's OpenMP, NumPy's OpenBLAS: one per core; the thread
pools are printed). ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1`` compares them
single-threaded, which suffers less when other work shares the cores (OpenMP threads
spin-wait for each other, and lose most when the cores are oversubscribed).

Memory (unless ``--no-memory``; k = max of ``--k``): each configuration in a fresh spawned
process that loads the data from the files (``memory``: ``np.load`` into RAM; the mmap
storages: ``np.load(..., mmap_mode="r")``; FAISS: ``np.load`` into RAM, ``IndexFlatIP.add``,
then the loaded array is deleted so only the index's copy remains; FAISS mmap index file:
``read_index(path, IO_FLAG_MMAP_IFC)``), warms the search up on a small slice (FAISS: a
small index of the same type), returns free heap memory to the OS (glibc ``malloc_trim``),
resets the kernel's peak mark (``/proc/self/clear_refs``) and runs one search. Printed, in
MiB: the resident size before the search (``VmRSS``: the libraries, about 330 MiB with torch
and FAISS loaded, plus what the configuration keeps in RAM), the peak during it (``VmHWM``)
and their difference ("growth"), and how far the anonymous and the file-backed resident
memory grew above their values before the search ("anon +", "file +": ``RssAnon``,
``RssFile`` of /proc/self/status, sampled every millisecond by a thread, so lower bounds).
Pages of a memory-mapped file count in RSS while mapped but are page cache the kernel can
drop and read again; the anonymous memory is what the search itself allocates. Beside: the
theoretical score block (min(1024, Q) x chunk_size x 4 bytes) and, for ``memory``, a naive
``queries @ docs.T`` + ``torch.topk`` (the full Q x N score matrix).

Reference (for information, no ratio, against the float32 exact top-k):

* FAISS ``IndexHNSWFlat`` (inner product, M=``--hnsw-m``, efConstruction=
  ``--ef-construction``), built once (time shown), searched at efSearch = max(e, k) for each
  e of ``--ef-search``: recall@k and queries/s (median of ``--repeats``). The product's
  ``faiss-hnsw`` backend (``FaissIndex``) uses efConstruction 200;
* FAISS ``IndexIVFFlat`` (inner product, an ``IndexFlatIP`` quantiser, nlist = ``--ivf-nlist``,
  default round(4 sqrt(N))), trained on ``--ivf-train`` sampled vectors (default
  min(N, 40 nlist)), searched at each nprobe of ``--ivf-nprobe``: recall@k and queries/s.
  IVF is measured here only; it is not a backend of the product.
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from process_memory import release_free_memory, reset_peak

MIB = 2**20
QUERY_BATCH = 1024  # exact_search's default query_batch
STORAGES = ("memory", "fp32-mmap", "fp16-mmap")
TARGETS = {"memory": 1.5, "fp32-mmap": 1.2, "fp16-mmap": 1.2}


def make_data(
    n_docs: int, n_queries: int, dim: int, seed: int, clusters: int = 0, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(docs, queries), float32, rows L2-normalised in blocks (no full-size temporaries).

    ``clusters`` = 0: standard normal rows (no structure: the worst case for HNSW and IVF).
    Otherwise every doc and query is ``c + spread · g / sqrt(dim)`` for one of ``clusters``
    random unit centres c (uniform choice) and standard normal g, then normalised: a topic
    structure such as text embeddings have, where a query's neighbours share its centre."""
    rng = np.random.default_rng(seed)
    docs = rng.standard_normal((n_docs, dim), dtype=np.float32)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    if clusters:
        centres = rng.standard_normal((clusters, dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        scale = np.float32(spread / np.sqrt(dim))
        for x in (docs, queries):
            for start in range(0, len(x), 10_000):
                block = x[start : start + 10_000]
                block *= scale
                block += centres[rng.integers(0, clusters, size=len(block))]
    for x in (docs, queries):
        for start in range(0, len(x), 10_000):
            block = x[start : start + 10_000]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
    return docs, queries


def write_data(folder: Path, docs: np.ndarray, queries: np.ndarray, fp16: bool) -> dict[str, str]:
    """The .npy files the memory-mapped storages and the child processes read."""
    paths = {"fp32": str(folder / "docs.f32.npy"), "queries": str(folder / "queries.npy")}
    np.save(paths["fp32"], docs)
    np.save(paths["queries"], queries)
    if fp16:
        paths["fp16"] = str(folder / "docs.f16.npy")
        out = np.lib.format.open_memmap(paths["fp16"], "w+", np.float16, docs.shape)
        for start in range(0, len(docs), 100_000):
            out[start : start + 100_000] = docs[start : start + 100_000]
        out.flush()
        del out
    return paths


def open_docs(storage: str, paths: dict[str, str]) -> np.ndarray:
    if storage == "memory":
        return np.load(paths["fp32"])
    return np.load(paths["fp32" if storage == "fp32-mmap" else "fp16"], mmap_mode="r")


def widened(path: str) -> np.ndarray:
    """A float16 .npy file as an in-memory float32 array, converted in blocks."""
    half = np.load(path, mmap_mode="r")
    out = np.empty(half.shape, np.float32)
    for start in range(0, len(half), 100_000):
        out[start : start + 100_000] = half[start : start + 100_000]
    return out


# ---------------------------------------------------------------------------- peak memory


def _proc_status(*fields: str) -> dict[str, int]:
    """KiB values of /proc/self/status fields (missing ones left out)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in fields:
                    out[name] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


class RssSampler:
    """Samples ``RssAnon`` and ``RssFile`` of this process every ``interval`` seconds in a
    background thread, keeping the largest of each: the search's own allocations apart
    from the mapped file's pages (reclaimable page cache)."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.largest = {"RssAnon": 0, "RssFile": 0}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for name, value in _proc_status("RssAnon", "RssFile").items():
            self.largest[name] = max(self.largest[name], value)

    def _run(self) -> None:
        while not self._done.is_set():
            self._sample()
            self._done.wait(self.interval)

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def stop(self) -> dict[str, int]:
        """Stop sampling; the largest values seen (KiB)."""
        self._done.set()
        self._thread.join()
        self._sample()
        return dict(self.largest)


def child_peak(
    kind: str, storage: str, paths: dict[str, str], k: int, chunk_size: int
) -> dict[str, Any]:
    """In a fresh process: resident memory (KiB) before and during one search."""
    import torch

    from rankarena.retrieval.vector_search import exact_search

    queries = np.load(paths["queries"])
    if kind == "ours":
        docs = open_docs(storage, paths)

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            return exact_search(q, d, k, chunk_size=chunk_size, device="cpu")

        def search_all() -> Any:
            return search(queries, docs)

    elif kind == "naive":
        docs = np.load(paths["fp32"])

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            scores = torch.from_numpy(q @ d.T)  # the full Q x N matrix
            top = torch.topk(scores, min(k, d.shape[0]), dim=1)
            return top.values.numpy(), top.indices.numpy()

        def search_all() -> Any:
            return search(queries, docs)

    elif kind == "faiss-mmap":
        import faiss

        def search(q: np.ndarray, d: np.ndarray) -> Any:  # a small index of the same type
            if storage == "fp32-mmap":
                index = faiss.IndexFlatIP(d.shape[1])
            else:
                index = faiss.IndexScalarQuantizer(
                    d.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
                )
            index.add(d)
            return index.search(q, min(k, d.shape[0]))

        docs = np.array(np.load(paths["fp32"], mmap_mode="r")[:2000])  # for the warm-up only
        mapped = faiss.read_index(paths[f"faiss-{storage}"], faiss.IO_FLAG_MMAP_IFC)

        def search_all() -> Any:
            return mapped.search(queries, k)

    else:
        import faiss

        def search(q: np.ndarray, d: np.ndarray) -> Any:
            index = faiss.IndexFlatIP(d.shape[1])
            index.add(d)
            return index.search(q, min(k, d.shape[0]))

        loaded = np.load(paths["fp32"])
        docs = loaded[:2000].copy()  # for the warm-up only
        index = faiss.IndexFlatIP(loaded.shape[1])
        index.add(loaded)
        del loaded  # FAISS keeps its own copy

        def search_all() -> Any:
            return index.search(queries, k)

    # warm-up on a small slice: thread pools, lazy initialisation, allocator arenas
    search(queries[:8], docs[:2000])
    gc.collect()
    release_free_memory()
    exact = reset_peak() and "VmHWM" in _proc_status("VmHWM")
    before = _proc_status("VmRSS", "RssAnon", "RssFile")
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampler = RssSampler()
    sampler.start()
    out = search_all()
    sampled = sampler.stop()
    if exact:
        peak = _proc_status("VmHWM")["VmHWM"]
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base = before.get("VmRSS", 0) if exact else max_before
    return {
        "before_mib": base / 1024,
        "peak_mib": peak / 1024,
        "delta_mib": max(peak - base, 0) / 1024,
        "anon_mib": max(sampled["RssAnon"] - before.get("RssAnon", 0), 0) / 1024,
        "file_mib": max(sampled["RssFile"] - before.get("RssFile", 0), 0) / 1024,
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
    """Share of the entries of ``a``'s rows that are in the same row of ``b`` (as sets;
    ``b``'s padding index -1 matches nothing)."""
    hits = sum(len(np.intersect1d(x, y[y >= 0])) for x, y in zip(a, b, strict=True))
    return hits / a.size


def parse_ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 10,100, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_storages(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in STORAGES]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"expected a list of {', '.join(STORAGES)}, got {text!r}")
    return list(dict.fromkeys(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clusters",
        type=int,
        default=0,
        help="draw the vectors around this many random centres (0: unstructured normal rows)",
    )
    parser.add_argument(
        "--spread", type=float, default=1.0, help="noise around a centre (with --clusters)"
    )
    parser.add_argument("--k", type=parse_ints, default=[100], help="e.g. 10,100,1000")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--storage",
        type=parse_storages,
        default=["memory"],
        help=f"what exact_search searches, one or more of {','.join(STORAGES)}",
    )
    parser.add_argument(
        "--tmpdir", type=Path, default=None, help="where the .npy files are written"
    )
    parser.add_argument(
        "--chunk-size", type=int, default=50_000, help="exact_search chunk_size when timing"
    )
    parser.add_argument(
        "--chunk-sizes",
        type=parse_ints,
        default=[10_000, 50_000],
        help="chunk sizes for the peak-memory study",
    )
    parser.add_argument(
        "--faiss-mmap",
        action="store_true",
        help="also time FAISS's own memory-mapped index files against the mmap storages",
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
    parser.add_argument(
        "--ef-search", type=parse_ints, default=[64, 256], help="HNSW efSearch values"
    )
    parser.add_argument("--no-ivf", action="store_true", help="skip the IVF reference")
    parser.add_argument("--ivf-nlist", type=int, default=None, help="default round(4 sqrt(N))")
    parser.add_argument(
        "--ivf-train", type=int, default=None, help="training sample (default min(N, 40 nlist))"
    )
    parser.add_argument("--ivf-nprobe", type=parse_ints, default=[1, 8, 32, 128])
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
    try:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        print(
            "thread pools: "
            + ", ".join(f"{Path(p['filepath']).name} {p['num_threads']}" for p in pools)
        )
    except ImportError:
        pass
    t, (docs, queries) = timed(
        lambda: make_data(args.docs, args.queries, args.dim, args.seed, args.clusters, args.spread)
    )
    shape = (
        f"around {args.clusters:,} centres (spread {args.spread})"
        if args.clusters
        else "standard normal"
    )
    print(
        f"data: {args.docs:,} docs x {args.dim} and {args.queries:,} queries, {shape}, float32, "
        f"L2-normalised, seed {args.seed} ({docs.nbytes / MIB:.0f} MiB of docs, "
        f"made in {t:.1f} s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench_search-", dir=args.tmpdir) as tmp:
        need_fp16 = "fp16-mmap" in args.storage
        t, paths = timed(lambda: write_data(Path(tmp), docs, queries, need_fp16))
        sizes = ", ".join(
            f"{Path(p).name} {os.path.getsize(p) / MIB:.0f} MiB" for p in paths.values()
        )
        print(f"files in {tmp}: {sizes} (written in {t:.1f} s)")
        ok = run_all(args, faiss, exact_search, docs, queries, paths)
    if not ok:
        sys.exit(1)


def mmap_peer(args, faiss, docs: np.ndarray, storage: str, paths: dict[str, str]) -> Any:
    """FAISS's own memory-mapped index for a storage, written to the temporary folder and
    read back with ``IO_FLAG_MMAP_IFC`` (the codes stay in the file): an ``IndexFlatIP`` for
    fp32, an ``IndexScalarQuantizer`` QT_fp16 (inner product) for fp16."""
    if storage == "fp32-mmap":
        index = faiss.IndexFlatIP(args.dim)
    else:
        index = faiss.IndexScalarQuantizer(
            args.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
    index.add(docs)
    path = str(Path(paths["fp32"]).parent / f"{storage}.faiss")
    faiss.write_index(index, path)
    del index
    paths[f"faiss-{storage}"] = path
    return faiss.read_index(path, faiss.IO_FLAG_MMAP_IFC)


PEER_LABELS = {
    "ours": "rankarena exact_search",
    "faiss": "FAISS IndexFlatIP (RAM)",
    "faiss-mmap": "FAISS mmap index file",
}


def run_all(args, faiss, exact_search, docs, queries, paths) -> bool:
    """Timing, memory and the approximate references; False when exact_search disagrees."""
    t, flat = timed(lambda: faiss.IndexFlatIP(args.dim))
    t, _ = timed(lambda: flat.add(docs))
    print(f"FAISS IndexFlatIP.add: {t:.2f} s (not timed below)")
    print(
        "FAISS IndexFlatIP searches an in-memory float32 copy of the vectors (add() copies a "
        "NumPy array into the index; it does not keep a memmap): the float16 vectors widened "
        "to float32 for fp16-mmap"
    )
    if args.faiss_mmap:
        print(
            "FAISS mmap index file: FAISS's own memory-mapped index (write_index, then "
            "read_index with IO_FLAG_MMAP_IFC): IndexFlatIP for fp32-mmap, "
            "IndexScalarQuantizer QT_fp16 for fp16-mmap"
        )

    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    checks: list[str] = []
    first: list[str] = []
    ok = True
    exact_ids: dict[int, np.ndarray] = {}
    for storage in args.storage:
        stored = open_docs(storage, paths) if storage != "memory" else docs
        if storage == "fp16-mmap":
            t, wide = timed(lambda: widened(paths["fp16"]))
            index = faiss.IndexFlatIP(args.dim)
            index.add(wide)
            del wide
            gc.collect()
        else:
            index = flat
        systems: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {
            "ours": lambda k, d=stored: exact_search(
                queries, d, k, chunk_size=args.chunk_size, device="cpu"
            ),
            "faiss": lambda k, index=index: index.search(queries, k),
        }
        if args.faiss_mmap and storage != "memory":
            t, mapped = timed(lambda s=storage: mmap_peer(args, faiss, docs, s, paths))
            systems["faiss-mmap"] = lambda k, index=mapped: index.search(queries, k)

        firsts = []
        for name, fn in systems.items():  # warm-up; for mmap the first touch of the map
            t, _ = timed(lambda fn=fn: fn(10))
            firsts.append(f"{PEER_LABELS[name]} {t:.3f} s")
        first.append(f"  {storage:<10} k=10: " + ", ".join(firsts))
        for k in args.k:
            secs: dict[str, list[float]] = {name: [] for name in systems}
            outs: dict[str, Any] = {}
            for r in range(args.repeats):
                for name in list(systems) if r % 2 == 0 else list(systems)[::-1]:
                    t, out = timed(lambda f=systems[name], k=k: f(k))
                    secs[name].append(t)
                    outs.setdefault(name, out)
            results[storage, k] = secs
            s_ours, i_ours = outs["ours"]
            sorted_ok = bool((np.diff(s_ours, axis=1) <= 0).all())
            for peer in [name for name in systems if name != "ours"]:
                s_f, i_f = outs[peer]
                kk = min(k, args.docs)
                assert s_ours.shape == s_f.shape == (args.queries, kk), (s_ours.shape, s_f.shape)
                share = overlap(i_ours, i_f)
                score_diff = float(np.abs(s_ours - s_f).max())
                good = share >= 0.999 and score_diff < 1e-4 and sorted_ok
                ok &= good
                line = (
                    f"  {storage:<10} k={k:<5} vs {PEER_LABELS[peer]}: top-k index overlap "
                    f"{100 * share:.4f}%, max |score diff| {score_diff:.2e}, ours sorted "
                    f"desc: {sorted_ok} -> {'AGREE' if good else 'DISAGREE'}"
                )
                if peer == "faiss" and storage == "fp16-mmap":
                    if k not in exact_ids:
                        exact_ids[k] = flat.search(queries, k)[1]
                    loss = 100 * overlap(exact_ids[k], i_ours)
                    line += f"; overlap with the float32 top-k {loss:.2f}%"
                elif peer == "faiss":
                    exact_ids[k] = i_f
                checks.append(line)
        del index, stored, systems
        gc.collect()

    print("\nagreement with FAISS (need >= 99.9% overlap, scores within 1e-4):")
    print("\n".join(checks))
    if not ok:
        print("FAIL: exact_search disagrees with FAISS", file=sys.stderr)
        return False
    print("first search after opening the data (not in the timings below):")
    print("\n".join(first))

    print(
        f"\nsearch time: {args.queries:,} queries x {args.docs:,} docs x {args.dim}, "
        f"{args.repeats} repeats (order alternated); exact_search chunk_size="
        f"{args.chunk_size:,}; FAISS IndexFlatIP on in-memory float32"
    )
    print(
        f"  {'storage':<10} {'k':>5} {'system':<26} {'min s':>7} {'median s':>9} {'queries/s':>10}"
    )
    for (storage, k), secs in results.items():
        for name in secs:
            best, med = min(secs[name]), statistics.median(secs[name])
            print(
                f"  {storage:<10} {k:5d} {PEER_LABELS[name]:<26} {best:7.3f} {med:9.3f} "
                f"{args.queries / med:10.0f}"
            )
        for peer in [name for name in secs if name != "ours"]:
            r_min = min(secs["ours"]) / min(secs[peer])
            r_med = statistics.median(secs["ours"]) / statistics.median(secs[peer])
            verdict = ""
            if peer == "faiss":
                target = TARGETS[storage]
                verdict = (
                    f"; target <= {target}x: {'met' if r_min <= target else 'NOT met'} (min), "
                    f"{'met' if r_med <= target else 'NOT met'} (median)"
                )
            print(
                f"  {storage:<10} {k:5d} ratio ours / {PEER_LABELS[peer]}: {r_min:.2f}x (min), "
                f"{r_med:.2f}x (median){verdict}"
            )

    if not args.no_memory:
        memory_study(args, paths)
    if not args.no_hnsw:
        hnsw_reference(args, faiss, docs, queries, exact_ids)
    if not args.no_ivf:
        ivf_reference(args, faiss, docs, queries, exact_ids)
    return True


def memory_study(args, paths: dict[str, str]) -> None:
    k_mem = max(args.k)
    full = args.queries * args.docs * 4 / MIB
    print(
        f"\npeak memory of one search (k={k_mem}), each in a fresh spawned process "
        f"(MiB; data {args.docs * args.dim * 4 / MIB:.0f} MiB as float32):"
    )
    print(
        f"  {'configuration':<44} {'RSS before':>10} {'peak RSS':>9} {'growth':>8} "
        f"{'anon +':>8} {'file +':>8} {'score block':>12}"
    )
    rows = [("ours", s, c) for s in args.storage for c in args.chunk_sizes]
    if "memory" in args.storage:
        rows.append(("naive", "memory", 0))
    rows.append(("faiss", "memory", 0))
    rows += [("faiss-mmap", s, 0) for s in args.storage if f"faiss-{s}" in paths]
    methods = set()
    for kind, storage, chunk in rows:
        info = measure_in_child(kind, storage, paths, k_mem, max(chunk, 1))
        methods.add(info["method"])
        if kind == "ours":
            label = f"exact_search {storage} chunk_size={chunk:,}"
            from rankarena.retrieval.vector_search import BLOCK_COLUMNS

            columns = min(BLOCK_COLUMNS, args.docs)
            block = min(QUERY_BATCH, args.queries) * columns * 4 / MIB
            block_text = f"{block:12.1f}"
        elif kind == "naive":
            label, block_text = "naive Q @ D.T + torch.topk (memory)", f"{full:12.1f}"
        elif kind == "faiss":
            label, block_text = "FAISS IndexFlatIP.search (index in RAM)", f"{'-':>12}"
        else:
            label, block_text = f"FAISS mmap index file ({storage})", f"{'-':>12}"
        print(
            f"  {label:<44} {info['before_mib']:10.1f} {info['peak_mib']:9.1f} "
            f"{info['delta_mib']:8.1f} {info['anon_mib']:8.1f} {info['file_mib']:8.1f} "
            f"{block_text}"
        )
    print(
        f"  RSS before = VmRSS before the search (data loaded, warm-up done); peak RSS, growth: "
        f"{' / '.join(sorted(methods))}; anon +, file +: peak growth of RssAnon / RssFile, "
        "sampled every 1 ms (a memory map's file-backed pages are reclaimable page cache)"
    )
    print(
        f"  the full Q x N score matrix: {args.queries:,} x {args.docs:,} x 4 bytes = "
        f"{full:.0f} MiB; score block = min({QUERY_BATCH}, Q) x min(BLOCK_COLUMNS, N) x 4 "
        "bytes (chunk_size bounds the float32 buffers a float16 map is widened into)"
    )


def hnsw_reference(args, faiss, docs, queries, exact_ids) -> None:
    hnsw = faiss.IndexHNSWFlat(args.dim, args.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = args.ef_construction
    t, _ = timed(lambda: hnsw.add(docs))
    print(
        f"\nFAISS IndexHNSWFlat (M={args.hnsw_m}, efConstruction={args.ef_construction}) "
        f"for information: built in {t:.1f} s; recall@k against the exact float32 top-k"
    )
    print(
        f"  {'k':>5} {'efSearch':>8} {'min s':>7} {'median s':>9} {'queries/s':>10} {'recall@k':>9}"
    )
    for k in args.k:
        for ef in sorted({max(e, k) for e in args.ef_search}):
            hnsw.hnsw.efSearch = ef
            secs_h, out_h = [], None
            for _ in range(args.repeats):
                t, out = timed(lambda k=k: hnsw.search(queries, k))
                secs_h.append(t)
                out_h = out_h or out
            med = statistics.median(secs_h)
            recall = overlap(exact_ids[k], out_h[1])
            print(
                f"  {k:5d} {ef:8d} {min(secs_h):7.3f} {med:9.3f} {args.queries / med:10.0f} "
                f"{recall:9.4f}"
            )
    if not args.clusters:
        print(
            "  (unstructured random vectors are the hard case for graph indexes; "
            "--clusters gives them the topic structure of text embeddings)"
        )


def ivf_reference(args, faiss, docs, queries, exact_ids) -> None:
    n = len(docs)
    nlist = args.ivf_nlist or max(1, round(4 * math.sqrt(n)))
    n_train = min(n, args.ivf_train or 40 * nlist)
    rng = np.random.default_rng(args.seed + 1)
    sample = docs[np.sort(rng.choice(n, n_train, replace=False))]
    quantizer = faiss.IndexFlatIP(args.dim)
    ivf = faiss.IndexIVFFlat(quantizer, args.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    ivf.train(sample)
    t_train = time.perf_counter() - start
    del sample
    t_add, _ = timed(lambda: ivf.add(docs))
    print(
        f"\nFAISS IndexIVFFlat (inner product, nlist={nlist:,}) for information, benchmark "
        f"only: trained on {n_train:,} sampled vectors in {t_train:.1f} s, add {t_add:.1f} s; "
        "recall@k against the exact float32 top-k"
    )
    print(
        f"  {'k':>5} {'nprobe':>8} {'min s':>7} {'median s':>9} {'queries/s':>10} {'recall@k':>9}"
    )
    for k in args.k:
        for nprobe in sorted({min(p, nlist) for p in args.ivf_nprobe}):
            ivf.nprobe = nprobe
            secs_i, out_i = [], None
            for _ in range(args.repeats):
                t, out = timed(lambda k=k: ivf.search(queries, k))
                secs_i.append(t)
                out_i = out_i or out
            med = statistics.median(secs_i)
            recall = overlap(exact_ids[k], out_i[1])
            print(
                f"  {k:5d} {nprobe:8d} {min(secs_i):7.3f} {med:9.3f} "
                f"{args.queries / med:10.0f} {recall:9.4f}"
            )
    print(
        "  (with few probed lists a query can have fewer than k candidates: missing results "
        "count as misses)"
    )


if __name__ == "__main__":
    main()
