"""Pooled ROC curves of the models ``finetune_scifact.py`` trained, and of the untrained one.

For every finished run under OUTPUT (``CONFIG-sSEED/``) and for its starting model, each
evaluation dataset is searched again exactly as the trainer's evaluation searches it (dense
retrieval, the same batch size and depth: 500 documents past each query's positives) and
the pooled ROC of the MW paper (Sheikholeslami et al., arXiv:2510.00137: per query its
positives and its top 500 non-positives, all queries pooled) is drawn, one column per
dataset: on a linear and on a logarithmic false-positive axis, and as each model's gain in
true-positive rate over the untrained model. With two configurations it also prints, per
seed and dataset, the second's pooled AUC less the first's with a 95% interval from a
paired bootstrap over queries.

Each run is kept as ``OUTPUT/roc/MODEL-DATASET.parquet`` under a key of the model's files,
the dataset's content and the depth; it is searched again when the key changed. The
script prints each curve's area next to the ``auc@500`` the trainer recorded for the same
model: they must agree (the same model, data and search), or the figure would show other
models than the table.

    HF_HUB_OFFLINE=1 RANKARENA_DATA_DIR=../shared/data python benchmarks/finetune_roc.py \
        --output runs/finetune --configs infonce-positive-aware,mw-positive-aware \
        --figure docs/img/roc-mw-infonce.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from rankarena import JudgedRun, Run
from rankarena.core.datasets import dataset_content, open_dataset
from rankarena.core.host import plugin_manager
from rankarena.data import atomic_write
from rankarena.data.fingerprint import digest_json
from rankarena.report.figures import roc_points
from rankarena.training.trainer import search_depth

BASE = "untrained"
COLOURS = {BASE: "0.45", "infonce-positive-aware": "tab:blue", "mw-positive-aware": "tab:orange"}
LABELS = {
    BASE: "all-MiniLM-L6-v2, untrained",
    "infonce-positive-aware": "InfoNCE",
    "mw-positive-aware": "published MW (eq. 3)",
}


def cached_run(host, model: str, dataset, config: dict, path: Path, log) -> Run:
    """``model``'s run on ``dataset``'s eval split, from ``path`` when its key matches."""
    split = config["eval_split"]
    qrels = dataset.qrels(split)
    depth = search_depth(config["metrics"], qrels)
    factory = host.retrievers.get("dense").factory
    key = digest_json(
        {
            "model": factory.run_key_content({"model": model}),
            "dataset": dataset_content(dataset, split),
            "depth": depth,
            "batch_size": config["eval_batch_size"],
        }
    )
    key_file = path.with_suffix(".key")
    if path.is_file() and key_file.is_file() and key_file.read_text() == key:
        return Run.from_parquet(path)
    log(f"searching {dataset.name} with {model} (k = {depth})")
    retriever = host.retrievers.create(
        "dense", model=model, batch_size=config["eval_batch_size"], show_progress=False
    ).index(dataset.corpus)
    run = retriever.search(dataset.queries(split), k=depth)
    run.to_parquet(path)
    with atomic_write(key_file) as handle:
        handle.write(key)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="runs/finetune", help="finetune_scifact.py's output")
    parser.add_argument("--configs", default="infonce-positive-aware,mw-positive-aware")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--figure", default=None, help="PNG (default OUTPUT/roc.png)")
    parser.add_argument("--resamples", type=int, default=2000, help="query bootstrap")
    args = parser.parse_args()
    if args.resamples < 1:
        parser.error(f"--resamples must be at least 1, got {args.resamples}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = Path(args.output)
    figure_path = Path(args.figure) if args.figure else root / "roc.png"

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    runs = []  # (config name, seed, model, training record)
    for name in args.configs.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            done = root / f"{name}-s{seed}" / "training.json"
            if done.is_file():
                runs.append((name, seed, str(done.parent), json.loads(done.read_text())))
            else:
                log(f"{done.parent}: not finished, left out")
    if not runs:
        log(f"{root}: no finished runs of {args.configs}")
        return 1
    config = runs[0][3]["config"]
    before = runs[0][3]["report"]["before"]
    models = [(BASE, None, config["model"], before)]
    models += [(name, seed, path, record["report"]["after"]) for name, seed, path, record in runs]

    host = plugin_manager()
    auc = host.metrics.create("auc")
    datasets = [open_dataset(host, d) for d in [config["dataset"], *config["eval_datasets"]]]
    curves: dict[str, list] = {}
    pools: dict[tuple[str, str], tuple] = {}
    print("| model | seed | dataset | area under the drawn curve | trainer's auc@500 |")
    print("|---|---:|---|---:|---:|")
    for name, seed, model, recorded in models:
        for dataset in datasets:
            tag = BASE if seed is None else f"{name}-s{seed}"
            run = cached_run(
                host, model, dataset, config, root / "roc" / f"{tag}-{dataset.name}.parquet", log
            )
            judged = JudgedRun(run, dataset.qrels(config["eval_split"]))
            pool = judged.score_pool(auc.k)  # the pool of auc@500
            pools[tag, dataset.name] = (pool, judged.n_queries)
            scores = np.r_[pool.positives, pool.negatives]
            labels = np.r_[np.ones(len(pool.positives)), np.zeros(len(pool.negatives))]
            fpr, tpr = roc_points(scores, labels)
            area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
            want = recorded[dataset.name][auc.name]
            print(
                f"| {name} | {'' if seed is None else seed} | {dataset.name} "
                f"| {area:.6f} | {want:.6f} |"
            )
            if abs(area - want) > 1e-9:
                log(f"{tag} on {dataset.name}: the curve's area {area} is not the recorded {want}")
                return 1
            curves.setdefault(dataset.name, []).append((name, seed, fpr, tpr, area))
    print_differences(pools, runs, [d.name for d in datasets], args.resamples)
    print_gains(curves)
    draw(curves, figure_path)
    print(f"figure: {figure_path}")
    return 0


def weighted_auc(pool, weights: np.ndarray) -> float:
    """The pooled AUC with each query's scores counted ``weights[query]`` times (a
    bootstrap resample of the queries): Σ w_p·(w of negatives below + ½ w of tied) over
    Σ w_p · Σ w_n. A positive the run lacks (``-inf``) is below every negative."""
    negative_weights = weights[pool.negative_query]
    cumulative = np.r_[0.0, np.cumsum(negative_weights)]
    below = np.searchsorted(pool.negatives, pool.positives, side="left")
    above = np.searchsorted(pool.negatives, pool.positives, side="right")
    credit = cumulative[below] + 0.5 * (cumulative[above] - cumulative[below])
    positive_weights = weights[pool.positive_query]
    return float(positive_weights @ credit / (positive_weights.sum() * negative_weights.sum()))


def print_differences(pools: dict, runs: list, datasets: list[str], resamples: int) -> None:
    """Per seed and dataset, the second configuration's pooled AUC less the first's, with
    a 95% percentile interval from a paired bootstrap over queries (the same resampled
    queries for both models; Efron & Tibshirani 1993)."""
    names = list(dict.fromkeys(name for name, *_ in runs))
    if len(names) != 2:
        return
    first, second = names
    print(f"\n| seed | dataset | pooled AUC: {second} − {first} | 95% interval | resamples ≤ 0 |")
    print("|---:|---|---:|---|---:|")
    seeds = sorted({seed for _, seed, *_ in runs})
    for seed in seeds:
        for dataset in datasets:
            a = pools.get((f"{second}-s{seed}", dataset))
            b = pools.get((f"{first}-s{seed}", dataset))
            if a is None or b is None:
                continue
            n_queries = a[1]
            rng = np.random.default_rng(seed)
            ones = np.ones(n_queries)
            observed = weighted_auc(a[0], ones) - weighted_auc(b[0], ones)
            differences = np.empty(resamples)
            for i in range(resamples):
                weights = np.bincount(rng.integers(0, n_queries, n_queries), minlength=n_queries)
                weights = weights.astype(np.float64)
                differences[i] = weighted_auc(a[0], weights) - weighted_auc(b[0], weights)
            low, high = np.percentile(differences, [2.5, 97.5])
            share = float(np.mean(differences <= 0))
            print(
                f"| {seed} | {dataset} | {observed:+.4f} "
                f"| [{low:+.4f}, {high:+.4f}] | {share:.3f} |"
            )


GAIN_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 1e-1, 3e-1)
"""False-positive rates at which ``print_gains`` reads the curves."""


def print_gains(curves: dict[str, list]) -> None:
    """Per dataset and configuration, the true-positive rate less the untrained model's
    at ``GAIN_RATES`` (mean over seeds): the numbers of the figure's bottom row."""
    print("\n| dataset | configuration | " + " | ".join(f"{r:g}" for r in GAIN_RATES) + " |")
    print("|---|---|" + "---:|" * len(GAIN_RATES))
    for dataset, items in curves.items():
        base = next(np.interp(GAIN_RATES, f, t) for n, _, f, t, _ in items if n == BASE)
        for name in dict.fromkeys(n for n, *_ in items if n != BASE):
            gains = [np.interp(GAIN_RATES, f, t) - base for n, _, f, t, _ in items if n == name]
            cells = " | ".join(f"{g:+.3f}" for g in np.mean(gains, axis=0))
            print(f"| {dataset} | {name} | {cells} |")


def draw(curves: dict[str, list], path: Path) -> None:
    """One column per dataset: the ROC on a linear false-positive axis, on a logarithmic
    one, and each trained model's true-positive-rate gain over the untrained model (thin:
    each seed; thick: their mean), where the curves part."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankarena.data import atomic_path

    grid = np.logspace(-4, 0, 400)
    figure, axes = plt.subplots(3, len(curves), figsize=(5.2 * len(curves), 13), squeeze=False)
    for column, (dataset, items) in enumerate(curves.items()):
        title = f"{dataset}: pooled ROC, 500 non-positives per query"
        for row, scale in enumerate(["linear", "log"]):
            ax = axes[row][column]
            labelled = set()
            for name, _seed, fpr, tpr, _ in items:
                label = None
                if name not in labelled:
                    label = legend_label(name, items)
                    labelled.add(name)
                ax.plot(fpr, tpr, color=COLOURS.get(name), lw=1.0, alpha=0.85, label=label)
            if scale == "linear":
                ax.plot([0, 1], [0, 1], color="0.8", lw=0.8, ls="--")
            else:
                ax.set_xscale("log")
                ax.set_xlim(grid[0], 1)
            ax.set_xlabel("false positive rate" + (" (log)" if scale == "log" else ""))
            ax.set_ylabel("true positive rate")
            ax.set_title(title, fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
        ax = axes[2][column]
        base = next(np.interp(grid, f, t) for n, _, f, t, _ in items if n == BASE)
        for name in dict.fromkeys(n for n, *_ in items if n != BASE):
            gains = [np.interp(grid, f, t) - base for n, _, f, t, _ in items if n == name]
            for gain in gains:
                ax.plot(grid, gain, color=COLOURS.get(name), lw=0.6, alpha=0.5)
            label = legend_label(name, items)
            ax.plot(grid, np.mean(gains, axis=0), color=COLOURS.get(name), lw=1.8, label=label)
        ax.axhline(0, color="0.45", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(grid[0], 1)
        ax.set_xlabel("false positive rate (log)")
        ax.set_ylabel("true positive rate − the untrained model's")
        ax.set_title(f"{dataset}: gain over the untrained model", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


def legend_label(name: str, items: list) -> str:
    """The configuration's name and its AUC (the mean over its seeds)."""
    areas = [a for n, _, _, _, a in items if n == name]
    label = f"{LABELS.get(name, name)}: AUC {np.mean(areas):.4f}"
    return label + (f" (mean of {len(areas)} seeds)" if len(areas) > 1 else "")


if __name__ == "__main__":
    sys.exit(main())
