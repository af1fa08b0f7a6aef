"""Corpus encoding in this process vs sharded over Ray actors (``encode_sharded``).

    HF_HUB_OFFLINE=1 python benchmarks/bench_sharded_encoding.py --docs 1000 --shards 2

Encodes the first ``--docs`` SciFact abstracts (title + text, MiniLM, max length 256,
batch 32, fp32 on the CPU) three ways, timing each: one ``BiEncoder`` in this process
(torch with all cores), and ``encode_sharded`` over ``--shards`` Ray actors on a local Ray
instance of ``--num-cpus`` cores (each actor one CPU, so torch in it uses one thread),
twice. The actor timings include building the actors and loading the model in each. The
embeddings must agree to 1e-5 (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data
if "RANKARENA_DATA_DIR" not in os.environ and SHARED.is_dir():
    os.environ["RANKARENA_DATA_DIR"] = str(SHARED)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    import ray

    import rankarena
    from rankarena.data.catalog import resolve_dataset
    from rankarena.retrieval.executors import EncoderSpec, encode_sharded
    from rankarena.retrieval.ray_executor import RayExecutor

    folder = resolve_dataset("scifact", download=False)
    corpus = rankarena.plugin_manager().datasets.create("beir", path=str(folder)).corpus
    texts = corpus.texts(with_title=True)[: args.docs]
    spec = EncoderSpec("minilm", "cpu", max_length=256, batch_size=32)
    encoder = spec.build()
    started = time.perf_counter()
    expected = encoder.encode(texts)
    local_s = time.perf_counter() - started
    print(f"{len(texts)} docs; in-process {local_s:7.2f} s ({len(texts) / local_s:.1f} docs/s)")
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    ok = True
    try:
        executor = RayExecutor()
        for attempt in (1, 2):
            started = time.perf_counter()
            vectors = encode_sharded(spec, texts, args.shards, executor)
            seconds = time.perf_counter() - started
            error = float(np.abs(vectors - expected).max())
            ok &= error <= 1e-5
            print(
                f"{args.shards} actors, run {attempt}: {seconds:7.2f} s "
                f"({len(texts) / seconds:.1f} docs/s; {local_s / seconds:.2f}x in-process; "
                f"max |diff| {error:.1e})"
            )
    finally:
        ray.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
