"""The ``rankarena`` command.

Verbs so far: ``plugins`` (what is installed and registered), ``devices`` (what the hooks
report and which device a run would use) and ``eval`` (score a run file on a dataset).
Bad input ends with one line ``rankarena: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rankarena.errors import RankarenaError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rankarena`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except RankarenaError as exc:
        print(f"rankarena: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rankarena: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankarena", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", help="run torch work on this device (default: the hooks' top priority)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list plugins and every registered component")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(handler=cmd_plugins)

    p = sub.add_parser("devices", help="list reported devices and the one a run would use")
    p.set_defaults(handler=cmd_devices)

    p = sub.add_parser("eval", help="evaluate a run file against a dataset's qrels")
    p.add_argument("--dataset", required=True, help="a BEIR folder")
    p.add_argument("--split", default="test", help="qrels split (default: test)")
    p.add_argument("--run", required=True, help="a TREC run file, or a .parquet Run")
    p.add_argument(
        "--metrics",
        default="ndcg@10,recall@100",
        help="comma-separated metric names, e.g. ndcg@10,mrr@10,map@100 (default: %(default)s)",
    )
    p.add_argument("--per-query", action="store_true", help="also print and store per-query values")
    p.add_argument("--output", help="append the results to this Parquet results store")
    p.add_argument("--system", help="system name in the results (default: the run file's stem)")
    p.add_argument("--relevance-level", type=int, default=1, help="minimum relevant grade (1)")
    p.add_argument(
        "--complete", action="store_true", help="score qrels queries missing from the run as 0"
    )
    p.add_argument(
        "--ignore-identical-ids",
        action="store_true",
        help="drop retrieved documents whose id equals the query id (BEIR option)",
    )
    p.set_defaults(handler=cmd_eval)
    return parser


def _console() -> Console:
    return Console(width=max(Console().width, 100), soft_wrap=False)


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins (with versions and hooks) and components by kind."""
    from rankarena.host import KINDS, plugin_manager

    host = plugin_manager()
    infos = host.plugin_infos()
    components = {
        kind: [
            {
                "name": spec.name,
                "plugin": spec.plugin,
                "aliases": list(spec.aliases),
                "parameters": [str(p) for p in spec.parameters],
                "description": spec.description,
            }
            for spec in host.registry(kind).specs()
        ]
        for kind in KINDS
    }
    if args.json:
        payload = {
            "plugins": [
                {
                    "name": i.name,
                    "distribution": i.distribution,
                    "version": i.version,
                    "builtin": i.builtin,
                    "hooks": list(i.hooks),
                }
                for i in infos
            ],
            "components": components,
            "failures": [f.__dict__ for f in host.failures],
        }
        print(json.dumps(payload, indent=2))
        return 0
    console = _console()
    table = Table(title="plugins")
    for col in ("plugin", "version", "hooks"):
        table.add_column(col)
    for info in infos:
        version = "built-in" if info.builtin else f"{info.distribution or '?'} {info.version or ''}"
        table.add_row(info.name, version, ", ".join(info.hooks))
    console.print(table)
    for kind, rows in components.items():
        if not rows:
            continue
        table = Table(title=kind)
        for col in ("name", "plugin", "parameters", "description"):
            table.add_column(col, overflow="fold")
        for row in rows:
            name = row["name"] + (f" ({', '.join(row['aliases'])})" if row["aliases"] else "")
            table.add_row(name, row["plugin"], ", ".join(row["parameters"]), row["description"])
        console.print(table)
    for failure in host.failures:
        console.print(f"[red]failed:[/red] {failure.plugin} ({failure.stage}): {failure.error}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    """List device reports and the chosen device."""
    from rankarena.host import plugin_manager

    host = plugin_manager()
    chosen = host.select_device(args.device)
    table = Table(title="devices")
    for col in ("device", "priority", "dtypes", "plugin", "description"):
        table.add_column(col)
    for report in host.device_reports():
        table.add_row(
            report.name,
            str(report.priority),
            ",".join(report.dtypes),
            report.plugin,
            report.description,
        )
    console = _console()
    console.print(table)
    console.print(f"selected: {chosen.name}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a run file; print means (and per-query values); optionally store results."""
    from rankarena.data import Run, read_trec_run
    from rankarena.evaluate import evaluate
    from rankarena.host import plugin_manager
    from rankarena.observe import RunInfo

    host = plugin_manager()
    dataset = host.datasets.create("beir", path=args.dataset)
    qrels = dataset.qrels(args.split)
    run_path = Path(args.run)
    run = Run.from_parquet(run_path) if run_path.suffix == ".parquet" else read_trec_run(run_path)
    metrics = [m for m in (part.strip() for part in args.metrics.split(",")) if m]
    system = args.system or run_path.stem
    info = RunInfo(
        "eval",
        {
            "dataset": str(args.dataset),
            "split": args.split,
            "run": str(run_path),
            "metrics": metrics,
            "system": system,
        },
    )
    host.notify_run_start(info)
    evaluation = evaluate(
        run,
        qrels,
        metrics,
        relevance_level=args.relevance_level,
        complete=args.complete,
        ignore_identical_ids=args.ignore_identical_ids,
        host=host,
    )
    results = evaluation.to_results(
        system, dataset.name, args.split, per_query=args.per_query, run_id=info.run_id
    )
    for row in results.table.to_pylist():
        host.notify_result(row)
    if args.output:
        results.append_to(args.output)
    host.notify_run_end(info, results)

    console = _console()
    if args.per_query:
        console.print(f"{system} on {dataset.name}/{args.split}: per query", highlight=False)
        table = Table()
        table.add_column("query_id")
        for name in evaluation.metrics:
            table.add_column(name, justify="right")
        for i, qid in enumerate(evaluation.query_ids):
            table.add_row(qid, *(f"{evaluation.per_query[m][i]:.4f}" for m in evaluation.metrics))
        console.print(table)
    console.print(
        f"{system} on {dataset.name}/{args.split} ({len(evaluation.query_ids)} queries)",
        highlight=False,
    )
    table = Table()
    table.add_column("metric")
    table.add_column("mean", justify="right")
    for name, value in evaluation.mean.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    if args.output:
        console.print(f"appended {results.table.num_rows} rows to {args.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
