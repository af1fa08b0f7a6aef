"""The ``report`` verb: one static HTML report of a run folder or a results store."""

from __future__ import annotations

import argparse

from .arguments import metric_names, non_negative_int, positive_int, probability
from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    p = subparsers.add_parser(
        "report", help="one static HTML report of a run folder or results store"
    )
    p.add_argument(
        "results",
        help="a `rankarena run` output folder (results.parquet, runs/, robustness/) or a "
        "results store (.parquet)",
    )
    p.add_argument("--output", help="the HTML file (default: report.html beside the store)")
    p.add_argument("--metric", help="the leaderboard's metric (default: ndcg@10 when stored)")
    p.add_argument("--method", help="aggregators, comma-separated (default: every registered one)")
    p.add_argument(
        "--tournaments",
        type=positive_int,
        default=2000,
        help="Swiss tournaments, leaderboard and sensitivity (default: %(default)s)",
    )
    p.add_argument(
        "--depth",
        type=positive_int,
        help="non-positives per query in the pooled ROC and AUC (default: 500, the MW paper's)",
    )
    p.add_argument(
        "--alpha", type=probability, default=0.05, help="significance level, Holm-corrected (0.05)"
    )
    p.add_argument("--data-dir", help="folder of dataset folders (default: $RANKARENA_DATA_DIR)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="Swiss seed (default: 0)")
    p.add_argument(
        "--uncertainty",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="leaderboard: N two-level bootstrap resamples (tasks, and stored per-query "
        "rows): rank intervals and tied groups (default: 0, none)",
    )
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static HTML report of a run folder (leaderboard, significance, plots)."""
    from ..report.builder import DEFAULT_DEPTH, build_report

    console = stdout_console()
    summary = build_report(
        args.results,
        args.output,
        metric=args.metric,
        methods=metric_names(args.method) if args.method else None,
        tournaments=args.tournaments,
        depth=DEFAULT_DEPTH if args.depth is None else args.depth,
        alpha=args.alpha,
        data_dir=args.data_dir,
        seed=args.seed,
        uncertainty=args.uncertainty,
    )
    for note in summary.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"report written to {summary.path} in {summary.seconds:.1f} s", highlight=False)
    return 0
