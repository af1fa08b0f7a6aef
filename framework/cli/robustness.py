"""The ``robustness`` verb: perturb queries, attack documents, measure the drops; out-of-domain
and multiplicity tables."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .output import rows_table, stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``robustness``."""
    p = subparsers.add_parser("robustness", help="perturb queries, attack documents, measure drops")
    p.add_argument("config", help="a run config with a [robustness] table (docs/robustness.md)")
    p.add_argument(
        "--plot", help="write the metric-vs-intensity plot here (default: OUTPUT/robustness/)"
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="where cells run (default: the config's [run] executor, else local)",
    )
    p.set_defaults(handler=cmd_robustness)


def cmd_robustness(args: argparse.Namespace) -> int:
    """Run a robustness config; print and write its tables; draw the plot."""
    import csv

    from ..core.host import plugin_manager
    from ..data import atomic_write
    from ..robustness.plot import plot_robustness
    from ..robustness.runner import RobustnessRunner, load_robustness_config

    config = load_robustness_config(args.config)
    console = stdout_console()
    runner = RobustnessRunner(
        config,
        plugin_manager(),
        device=args.device,
        log=lambda t: console.print(t, highlight=False),
        executor=args.executor,
    )
    report = runner.execute()
    out = config.run.output / "robustness"
    tables = {
        "drops": report.drops,
        "iid": report.iid,
        "ood": report.ood,
        "multiplicity": report.multiplicity,
        "attack": report.attack,
    }
    for name, rows in tables.items():
        if not rows:
            continue
        with atomic_write(out / f"{name}.csv") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        console.print(rows_table(name, rows))
    metric = config.run.metrics[0]
    datasets = list(dict.fromkeys(r["dataset"] for r in report.drops))
    for dataset in datasets:
        path = Path(args.plot) if args.plot and len(datasets) == 1 else None
        path = path or out / plot_name(dataset, metric)
        plot_robustness(report.drops, metric, dataset, path)
        console.print(f"plot: {path}", highlight=False)
    console.print(
        f"{runner.computed} runs computed, {runner.reused} reused; tables in {out}; "
        f"results in {runner.store}",
        highlight=False,
    )
    return 0


def plot_name(dataset: str, metric: str) -> str:
    """The default plot file name: ``plot-DATASET-METRIC.png``, one file name even where the
    dataset's name holds ``/`` (``irds:beir/scifact``) or other characters paths treat
    specially."""
    safe = re.sub(r"[^\w.-]+", "-", dataset)
    return f"plot-{safe}-{metric.replace('@', '')}.png"
