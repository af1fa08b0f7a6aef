"""Local vs Ray executor: wall time of one run config, in the same process.

    HF_HUB_OFFLINE=1 python benchmarks/bench_executors.py
    python benchmarks/bench_executors.py --num-cpus 2 --datasets scifact,climate-fever-sentences

The grid: 3 systems (``bm25``, ``bm25`` Robertson with k1 = 1.2, b = 0.75, and their RRF
fusion) × 2 full local collections (found with ``rankarena.catalog.resolve_dataset``: by
default ``scifact`` and ``climate-fever-sentences`` from ``$RANKARENA_DATA_DIR`` or
``../shared/data``), test split, k = 1000, ndcg@10 and recall@100. Every execution writes
into a fresh output folder (no cached run is reused). Timed:

* ``local``: ``Runner(..., executor="local")`` — every cell in this process, in order;
* ``ray start``: ``ray.init(num_cpus=N)`` of a local Ray instance;
* ``ray cold``: the first Ray execution (its workers import rankarena and torch);
* ``ray warm``: a second Ray execution on the same instance (workers already up).

The results of every execution must be equal (same (system, dataset, metric) → value);
the exit status is 1 otherwise. The waves make fusions wait for every bm25 cell, so at most
4 cells run at once here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"  # ../shared/data
if "RANKARENA_DATA_DIR" not in os.environ and SHARED.is_dir():
    os.environ["RANKARENA_DATA_DIR"] = str(SHARED)

CONFIG = """
[run]
name = "bench-executors"
datasets = [{datasets}]
metrics = ["ndcg@10", "recall@100"]
k = 1000
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.robertson]
retriever = "bm25"
params = {{ method = "robertson", k1 = 1.2, b = 0.75 }}

[systems.fused]
inputs = ["bm25", "robertson"]
fusion = "rrf"
"""


def execute(folders: list[Path], root: Path, label: str, executor: str):
    import rankarena
    from rankarena.pipeline import Runner, load_config

    path = root / f"{label}.toml"
    datasets = ", ".join(f'"{folder}"' for folder in folders)
    path.write_text(CONFIG.format(datasets=datasets, output=root / label))
    runner = Runner(
        load_config(path), rankarena.plugin_manager(), log=lambda *a: None, executor=executor
    )
    started = time.perf_counter()
    results = runner.execute()
    seconds = time.perf_counter() - started
    values = {
        (r["system"], r["dataset"], r["metric"]): r["value"] for r in results.table.to_pylist()
    }
    return seconds, values, runner.computed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="scifact,climate-fever-sentences")
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    import ray

    from rankarena.catalog import resolve_dataset

    folders = [resolve_dataset(name, download=False) for name in args.datasets.split(",")]
    print(
        f"datasets: {', '.join(str(f) for f in folders)}; ray {ray.__version__}, "
        f"{args.num_cpus} CPUs, machine has {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local_s, expected, computed = execute(folders, root, "local", "local")
        print(f"local     {local_s:8.2f} s  ({computed} runs computed)")
        started = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        print(f"ray start {time.perf_counter() - started:8.2f} s")
        try:
            ok = True
            for label in ("ray cold", "ray warm"):
                seconds, values, computed = execute(folders, root, label.replace(" ", "-"), "ray")
                same = values == expected
                ok &= same
                print(
                    f"{label:9} {seconds:8.2f} s  ({computed} runs computed; "
                    f"{seconds / local_s:.2f}x local; results {'equal' if same else 'DIFFER'})"
                )
        finally:
            ray.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
