"""The ``negatives`` verbs: diagnostics of mined negative sets (``negatives stats``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .mine import mining_context, stats_table
from .output import stdout_console, write_table


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``negatives`` and its sub-verb ``stats``."""
    p = subparsers.add_parser("negatives", help="diagnostics of mined negative sets")
    neg = p.add_subparsers(dest="negatives_command", metavar="COMMAND")
    p.set_defaults(handler=lambda _args, usage=p: usage.print_help() or 2)
    q = neg.add_parser("stats", help="hardness, safety, ECI, held-out false-negative rate")
    q.add_argument("sets", nargs="+", help="TrainingExamples Parquet files")
    q.add_argument("--dataset", required=True, help="the BEIR folder they were mined from")
    q.add_argument("--split", default="train", help="qrels split (default: train)")
    q.add_argument("--scorer", default="dense", help="retriever that rescores (default: dense)")
    q.add_argument("--model", help="the scorer's dense model (default: minilm)")
    q.add_argument("--margin", type=float, default=0.1, help="safety margin (default: 0.1)")
    q.add_argument("--histogram", help="write score histograms to this PNG")
    q.add_argument("--output", help="write the table: .parquet or .csv")
    q.set_defaults(handler=cmd_negative_stats)


def cmd_negative_stats(args: argparse.Namespace) -> int:
    """Rescore negative sets with one scorer and print their diagnostics."""
    from ..data.training_examples import read_training_examples
    from ..training.negative_stats import plot_histograms, score_set, set_stats

    context = mining_context(args, 0.0, 0)
    scorer_params = {"model": args.model} if args.model else {}
    scored, rows = {}, []
    for path in args.sets:
        examples = read_training_examples(path)
        name = Path(path).stem
        scored[name] = score_set(examples, context, args.scorer, scorer_params)
        rows.append(set_stats(name, examples, context, scored[name], args.margin).to_dict())
    table = stats_table(rows, args.scorer)
    console = stdout_console()
    console.print(table)
    if args.histogram:
        plot_histograms(scored, args.histogram)
        console.print(f"histograms written to {args.histogram}", highlight=False)
    if args.output:
        import pyarrow as pa

        write_table(pa.Table.from_pylist(rows), Path(args.output))
    return 0
