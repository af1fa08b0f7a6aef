"""Pooled ROC curves of the models ``finetune_scifact.py`` trained, and of the untrained one.

For every finished run under OUTPUT (``CONFIG-sSEED/``) and for its starting model, each
evaluation dataset is searched again exactly as the trainer's evaluation searches it (dense
retrieval, the same batch size and depth: 500 documents past each query's positives) and
the pooled ROC of the MW paper (Sheikholeslami et al., arXiv:2510.00137: per query its
positives and its top 500 non-positives, all queries pooled) is drawn, one panel per
dataset, on a linear and on a logarithmic false-positive axis.

Each run is kept as ``OUTPUT/roc/MODEL-DATASET.parquet`` under a key of the model's files,
the dataset's content and the depth; it is searched again when the key changed. The
script prints each curve's area next to the ``auc@500`` the trainer recorded for the same
model: they must agree (the same model, data and search), or the figure would show other
models than the table.

    HF_HUB_OFFLINE=1 RANKARENA_DATA_DIR=../shared/data python benchmarks/finetune_roc.py \
        --output runs/finetune --configs infonce-positive-aware,mw-positive-aware \
        --figure docs/figures/roc-mw-infonce.png
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
    args = parser.parse_args()
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
    print("| model | seed | dataset | area under the drawn curve | trainer's auc@500 |")
    print("|---|---:|---|---:|---:|")
    for name, seed, model, recorded in models:
        for dataset in datasets:
            tag = BASE if seed is None else f"{name}-s{seed}"
            run = cached_run(
                host, model, dataset, config, root / "roc" / f"{tag}-{dataset.name}.parquet", log
            )
            judged = JudgedRun(run, dataset.qrels(config["eval_split"]))
            positives, negatives = auc.pool(judged)
            labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
            fpr, tpr = roc_points(np.r_[positives, negatives], labels)
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
    draw(curves, figure_path)
    print(f"figure: {figure_path}")
    return 0


def draw(curves: dict[str, list], path: Path) -> None:
    """One column per dataset: the ROC on a linear false-positive axis (top) and on a
    logarithmic one (bottom, where the curves part)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rankarena.data import atomic_path

    figure, axes = plt.subplots(2, len(curves), figsize=(5.2 * len(curves), 9), squeeze=False)
    for column, (dataset, items) in enumerate(curves.items()):
        for row, scale in enumerate(["linear", "log"]):
            ax = axes[row][column]
            labelled = set()
            for name, _seed, fpr, tpr, _ in items:
                areas = [a for n, _, _, _, a in items if n == name]
                label = None
                if name not in labelled:
                    label = f"{LABELS.get(name, name)}: AUC {np.mean(areas):.4f}"
                    if len(areas) > 1:
                        label += f" (mean of {len(areas)} seeds)"
                    labelled.add(name)
                ax.plot(fpr, tpr, color=COLOURS.get(name), lw=1.0, alpha=0.85, label=label)
            ax.plot([0, 1], [0, 1], color="0.8", lw=0.8, ls="--")
            ax.set_xscale(scale)
            if scale == "log":
                ax.set_xlim(1e-4, 1)
            ax.set_xlabel("false positive rate" + (" (log)" if scale == "log" else ""))
            ax.set_ylabel("true positive rate")
            ax.set_title(f"{dataset}: pooled ROC (top 500 non-positives per query)", fontsize=9)
            ax.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
