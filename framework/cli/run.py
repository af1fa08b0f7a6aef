"""The ``run`` verb: a TOML config of datasets × systems, cached, one leaderboard table per
metric."""

from __future__ import annotations

import argparse

from rich.table import Table

from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run``."""
    p = subparsers.add_parser("run", help="run a TOML config: datasets x systems, cached, ranked")
    p.add_argument("config", help="the run config (TOML; see docs/guide.md)")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="where cells run (default: the config's [run] executor, else local; "
        "ray options come from [run.ray], see docs/scaling.md)",
    )
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Execute a run config and print one leaderboard table per metric."""
    from ..core.host import plugin_manager
    from ..runs.pipeline import Runner, load_config

    config = load_config(args.config)
    console = stdout_console()
    runner = Runner(
        config, plugin_manager(), device=args.device, log=console.print, executor=args.executor
    )
    results = runner.execute()
    console.print(
        f"{config.name}: {runner.computed} runs computed, {runner.reused} reused; "
        f"results in {runner.store}",
        highlight=False,
    )
    rows = results.means().table.to_pylist()
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    for metric in config.metrics:
        values = {(r["system"], r["dataset"]): r["value"] for r in rows if r["metric"] == metric}
        systems = list(dict.fromkeys(s for s, _ in values))
        mean = {
            s: sum(values.get((s, d), 0.0) for d in datasets) / max(len(datasets), 1)
            for s in systems
        }
        table = Table(title=f"{config.name}: {metric}")
        for col in ("rank", "system", *datasets, "mean"):
            table.add_column(col, justify="left" if col == "system" else "right")
        for rank, system in enumerate(sorted(systems, key=lambda s: -mean[s]), start=1):
            cells = [
                f"{values[(system, d)]:.4f}" if (system, d) in values else "-" for d in datasets
            ]
            table.add_row(str(rank), system, *cells, f"{mean[system]:.4f}")
        console.print(table)
    return 0
