"""``rankarena compare``: paired significance tests between systems, with multiple-comparison
corrections and effect sizes (``rankarena.significance.compare``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from ..errors import ParameterError
from .arguments import metric_names, non_negative_int, positive_int, probability
from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``compare``."""
    from ..significance.compare import ALL_CORRECTIONS
    from ..significance.comparison_table import FORMATS
    from ..significance.paired_tests import TESTS

    p = subparsers.add_parser(
        "compare",
        help="which systems really differ: paired tests, corrections, effect sizes",
        description=(
            "Compare systems query by query. Give a results store with per-query rows "
            "(rankarena eval --per-query), or run files with --qrels (each evaluated over "
            "every qrels query; a query missing from a run scores 0, as trec_eval -c). "
            "Every dataset and metric is a family of comparisons: every system against "
            "--baseline, or all pairs; the correction adjusts over the family."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="STORE | RUN",
        help="one results store (.parquet), or with --qrels two or more run files "
        "(TREC text or .parquet; NAME=PATH names a system, else the file's stem)",
    )
    p.add_argument("--qrels", help="the qrels file of the run files (TREC or BEIR TSV)")
    p.add_argument(
        "--metrics", default="ndcg@10", help="comma-separated metrics (default: ndcg@10)"
    )
    p.add_argument("--dataset", action="append", help="a dataset of the store (repeatable)")
    p.add_argument("--systems", help="comma-separated systems of the store (default: all)")
    p.add_argument("--baseline", help="compare every system with this one (default: all pairs)")
    p.add_argument(
        "--test",
        default="t-test",
        choices=list(TESTS),
        help="the paired test (default: t-test)",
    )
    p.add_argument(
        "--correction",
        default="holm",
        choices=list(ALL_CORRECTIONS),
        help="over each family (default: holm); max-t and tukey need --test randomisation",
    )
    p.add_argument(
        "--alpha", type=probability, default=0.05, help="significance level (default: 0.05)"
    )
    p.add_argument(
        "--confidence",
        type=probability,
        default=0.95,
        help="level of the effect-size intervals (default: 0.95)",
    )
    p.add_argument(
        "--permutations",
        type=positive_int,
        default=10_000,
        help="randomisation test, max-t, tukey (default: 10000)",
    )
    p.add_argument(
        "--resamples", type=positive_int, default=10_000, help="bootstrap test (default: 10000)"
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="of permutations and resamples (0)"
    )
    p.add_argument("--output", help=f"write every row: {', '.join(FORMATS)}")
    p.add_argument(
        "--stability",
        action="store_true",
        help="also, per dataset and metric: the fewest queries whose removal changes the "
        "best system (by mean), exact",
    )
    p.set_defaults(handler=cmd_compare)


def _runs(inputs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` or ``PATH`` (named by its stem) → {name: path}; a name given twice is
    an error."""
    runs: dict[str, str] = {}
    for text in inputs:
        name, eq, path = text.partition("=")
        if not eq:
            name, path = Path(text).stem, text
        if not name or not path:
            raise ParameterError(f"a run is PATH or NAME=PATH; got {text!r}")
        if name in runs:
            raise ParameterError(f"two runs are named {name!r}; name them apart with NAME=PATH")
        runs[name] = path
    return runs


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare, print one table per family, optionally write every row."""
    from ..core.host import plugin_manager
    from ..significance.compare import compare

    metrics = metric_names(args.metrics)
    options = {
        "metrics": metrics,
        "baseline": args.baseline,
        "test": args.test,
        "correction": args.correction,
        "alpha": args.alpha,
        "confidence": args.confidence,
        "permutations": args.permutations,
        "resamples": args.resamples,
        "seed": args.seed,
    }
    if args.output and Path(args.output).suffix not in (".csv", ".parquet", ".md", ".tex"):
        raise ParameterError(f"--output must end in .csv, .parquet, .md or .tex; got {args.output}")
    if args.qrels is not None:
        if args.dataset or args.systems:
            raise ParameterError("--dataset and --systems pick from a results store, not runs")
        result = compare(
            runs=_runs(args.inputs), qrels=args.qrels, host=plugin_manager(), **options
        )
    else:
        if len(args.inputs) != 1:
            raise ParameterError(
                f"give one results store, or run files with --qrels; got {len(args.inputs)} "
                "inputs and no --qrels"
            )
        systems = metric_names(args.systems) if args.systems else None
        result = compare(args.inputs[0], datasets=args.dataset, systems=systems, **options)
    console = stdout_console()
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    _print(console, result)
    if args.stability:
        _print_stability(console, result)
    if args.output:
        result.table.write(args.output)
        console.print(f"comparisons written to {args.output}", highlight=False)
    return 0


def _print(console, result) -> None:
    from ..significance.comparison_table import display_cells, shown_columns

    table = result.table
    for key, rows in table.families().items():
        shown = Table(title=table.caption(key, rows))
        for i, title in enumerate(shown_columns(table.confidence)):
            shown.add_column(title, justify="left" if i < 2 else "right")
        for row in rows:
            shown.add_row(*display_cells(row))
        console.print(shown)


def _print_stability(console, result) -> None:
    """Per family, ``rankarena.leaderboard.stability.fewest_queries_changing``."""
    from ..leaderboard.stability import fewest_queries_changing

    for matrix in result.matrices:
        audit = fewest_queries_changing(matrix.values, matrix.systems, matrix.query_ids)
        best = ", ".join(sorted(audit.top))
        if audit.size is None:
            line = f"no removal of queries (all but one) changes the best system, {best}"
        else:
            shown = ", ".join(str(q) for q in audit.queries[:10])
            more = f", … ({audit.size} in all)" if audit.size > 10 else ""
            line = (
                f"removing {audit.size} of {len(matrix.query_ids)} queries ({shown}{more}) "
                f"lets {audit.challenger} catch up with {best}"
            )
        console.print(f"stability, {matrix.label}: {line}", highlight=False, soft_wrap=True)
