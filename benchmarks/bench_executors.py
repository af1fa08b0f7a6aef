"""Local vs Ray executor: wall time of one run (or robustness) config, in the same process.

    HF_HUB_OFFLINE=1 python benchmarks/bench_executors.py
    python benchmarks/bench_executors.py --num-cpus 2 --datasets scifact,climate-fever-sentences
    RANKARENA_CACHE_DIR=~/.cache/rankarena python benchmarks/bench_executors.py \
        --grid robustness --datasets scifact

The grid: 3 systems (``bm25``, ``bm25`` Robertson with k1 = 1.2, b = 0.75, and their RRF
fusion) × 2 full local collections (found with ``rankarena.data.catalog.resolve_dataset``: by
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

``--grid robustness`` times ``RobustnessRunner`` instead, on ``bm25``, MiniLM (``dense``)
and their RRF fusion under typos (0.1, 0.3), word drop (0.3) and term stuffing (0.2, the
top non-relevant BM25 document of each query): 3 systems × 5 views per dataset. Ray tasks
do not share indexes, so a dense cell reads the corpus embeddings from the embedding cache:
set ``RANKARENA_CACHE_DIR`` (the first, local, execution fills it if it is empty; that
execution then includes the corpus encoding). Compared: every perturbed metric value
exactly, and the Kendall τ of each row to 1e-4 (Ray tasks run torch with one thread, so the
query-by-corpus product can round differently and swap near-tied documents deep in the
top 100; the largest τ difference is printed).
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

ROBUSTNESS = """
[run]
name = "bench-executors-robustness"
datasets = [{datasets}]
metrics = ["ndcg@10", "recall@100"]
k = 1000
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.minilm]
retriever = "dense"
params = {{ model = "minilm" }}

[systems.hybrid]
inputs = ["bm25", "minilm"]
fusion = "rrf"

[robustness]
bootstrap = 200

[[robustness.perturbations]]
name = "typos"
intensities = [0.1, 0.3]

[[robustness.perturbations]]
name = "word-drop"
intensities = [0.3]

[[robustness.perturbations]]
name = "term-stuffing"
intensities = [0.2]
reference = "bm25"
depth = 1
"""


def execute(folders: list[Path], root: Path, label: str, executor: str, grid: str = "run"):
    import rankarena
    from rankarena.robustness.runner import RobustnessRunner, load_robustness_config
    from rankarena.runs.pipeline import Runner, load_config

    path = root / f"{label}.toml"
    datasets = ", ".join(f'"{folder}"' for folder in folders)
    template = CONFIG if grid == "run" else ROBUSTNESS
    path.write_text(template.format(datasets=datasets, output=root / label))
    host = rankarena.plugin_manager()
    if grid == "run":
        runner = Runner(load_config(path), host, log=lambda *a: None, executor=executor)
    else:
        config = load_robustness_config(path)
        runner = RobustnessRunner(config, host, log=lambda *a: None, executor=executor)
    started = time.perf_counter()
    results = runner.execute()
    seconds = time.perf_counter() - started
    if grid == "run":
        rows = results.table.to_pylist()
        values = {(r["system"], r["dataset"], r["metric"]): r["value"] for r in rows}
    else:
        values = {
            (r["system"], r["dataset"], r["perturbation"], r["intensity"], r["metric"]): (
                r["perturbed"],
                r["kendall_tau"],
            )
            for r in results.drops
        }
    return seconds, values, runner.computed


def compare(values: dict, expected: dict) -> tuple[bool, str]:
    """Run grids: equal values. Robustness grids: equal metrics, τ within 1e-4."""
    if values.keys() != expected.keys():
        return False, ""
    pairs = [(values[k], expected[k]) for k in expected]
    if not pairs or not isinstance(pairs[0][0], tuple):
        return values == expected, ""
    metrics_equal = all(a[0] == b[0] for a, b in pairs)
    tau = max(abs(a[1] - b[1]) for a, b in pairs)
    return metrics_equal and tau <= 1e-4, f", max |Δτ| {tau:.1e}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="scifact,climate-fever-sentences")
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--grid", choices=["run", "robustness"], default="run")
    args = parser.parse_args()

    import ray

    from rankarena.data.catalog import resolve_dataset

    folders = [resolve_dataset(name, download=False) for name in args.datasets.split(",")]
    print(
        f"datasets: {', '.join(str(f) for f in folders)}; ray {ray.__version__}, "
        f"{args.num_cpus} CPUs, machine has {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local_s, expected, computed = execute(folders, root, "local", "local", args.grid)
        print(f"local     {local_s:8.2f} s  ({computed} runs computed)")
        started = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        print(f"ray start {time.perf_counter() - started:8.2f} s")
        try:
            ok = True
            for label in ("ray cold", "ray warm"):
                name = label.replace(" ", "-")
                seconds, values, computed = execute(folders, root, name, "ray", args.grid)
                same, note = compare(values, expected)
                ok &= same
                print(
                    f"{label:9} {seconds:8.2f} s  ({computed} runs computed; "
                    f"{seconds / local_s:.2f}x local; results {'equal' if same else 'DIFFER'}"
                    f"{note})"
                )
        finally:
            ray.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
