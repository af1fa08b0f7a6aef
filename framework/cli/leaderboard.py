"""Leaderboard verbs: ``aggregate`` (rank systems over tasks under several rules) and
``leaderboard`` (the same over an MTEB results folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from ..errors import ParameterError
from .arguments import metric_names, non_negative_int, parse_param, probability, share
from .output import stdout_console, write_table


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``aggregate`` and ``leaderboard``."""
    p = subparsers.add_parser("aggregate", help="rank systems over tasks under several rules")
    p.add_argument(
        "scores",
        help="a long table (system, task, score[, task_type]; .parquet/.csv), a rankarena "
        "results store, the MTEB export (scores.parquet) or an MTEB results folder",
    )
    _aggregate_options(p)
    p.set_defaults(handler=cmd_aggregate)

    p = subparsers.add_parser(
        "leaderboard", help="a leaderboard from an MTEB results folder (results/<model>/...)"
    )
    p.add_argument(
        "--mteb-results",
        required=True,
        metavar="DIR",
        help="an MTEB results folder (the public results repository layout), read offline",
    )
    _aggregate_options(p)
    p.set_defaults(handler=cmd_leaderboard)


def _aggregate_options(p: argparse.ArgumentParser) -> None:
    """The options ``aggregate`` and ``leaderboard`` share."""
    rule_options(p)
    p.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="resample the tasks N times for 95%% rank intervals (default: 0, none)",
    )
    p.add_argument(
        "--uncertainty",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="two-level bootstrap, N resamples of the tasks and of each drawn task's queries "
        "(per-query rows of a results store): rank intervals, tied groups, win "
        "probabilities (default: 0, none)",
    )
    p.add_argument(
        "--level",
        type=probability,
        default=0.95,
        help="coverage of the intervals and tied groups of --uncertainty (default: 0.95)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument(
        "--top", type=non_negative_int, default=30, help="rows to print (default: 30; 0 = all)"
    )
    p.add_argument("--output", help="write the whole leaderboard: .parquet or .csv")
    p.add_argument(
        "--win-probabilities",
        metavar="FILE",
        help="with --uncertainty: write P(system ranks above other) per rule, long "
        "(method, system, other, p_beats): .parquet or .csv",
    )


def rule_options(p: argparse.ArgumentParser) -> None:
    """The options of the verbs that rank a score table under several rules (``aggregate``,
    ``leaderboard``, ``audit``): ``--method``, ``--benchmark``, ``--metric``, ``--strict``,
    ``--param``, ``--min-coverage``."""
    p.add_argument(
        "--method",
        default="mean,borda",
        help="registered aggregators, comma-separated (default: mean,borda)",
    )
    p.add_argument("--benchmark", help="MTEB benchmark, e.g. 'MTEB(eng, v2)' (MTEB inputs)")
    p.add_argument("--metric", help="the metric of a results store (default: ndcg@10)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="an MTEB results folder: a file mteb cannot read is an error (default: skipped, "
        "with one warning line that counts them)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="an aggregator parameter, e.g. --param swiss.tournaments=10000 (repeatable)",
    )
    p.add_argument(
        "--min-coverage",
        type=share,
        default=0.0,
        metavar="F",
        help="keep only systems with a score on at least this share of the tasks (1 = all)",
    )


def rules_and_params(args: argparse.Namespace, host) -> tuple[list[str], dict[str, dict]]:
    """``--method`` (every name checked against ``host``'s aggregators before any work) and
    ``--param`` (``METHOD.NAME=VALUE``, METHOD one of them), per method its parameters."""
    methods = metric_names(args.method)
    for method in methods:
        host.aggregators.get(method)  # unknown names fail before any work
    params: dict[str, dict[str, object]] = {}
    for text in args.param:
        name, value = parse_param(text)
        method, dot, key = name.partition(".")
        if not dot or method not in methods:
            raise ParameterError(
                f"--param takes METHOD.NAME=VALUE with METHOD one of {', '.join(methods)}; "
                f"got {text!r}"
            )
        params.setdefault(method, {})[key] = value
    return methods, params


def read_score_table(args: argparse.Namespace):
    """The ``ScoreTable`` of ``args.scores`` (``--benchmark``, ``--metric``, ``--strict``),
    with ``--min-coverage`` applied."""
    from ..leaderboard.score_sources import read_scores

    table = read_scores(
        args.scores, benchmark=args.benchmark, metric=args.metric, strict=args.strict
    )
    return table.with_coverage(args.min_coverage)


def progress_bar():
    """A transient progress bar on stderr, shown only where stderr is a terminal."""
    from rich.progress import Progress

    stderr = Console(stderr=True)  # no bar (and no blank line) where stderr is not a terminal
    return Progress(console=stderr, transient=True, disable=not stderr.is_terminal)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """``aggregate`` over an MTEB results folder (``--mteb-results``)."""
    folder = Path(args.mteb_results)
    if not folder.is_dir():
        raise ParameterError(f"--mteb-results {folder}: not a folder")
    args.scores = str(folder)
    return cmd_aggregate(args)


def cmd_aggregate(args: argparse.Namespace) -> int:
    """Print the leaderboard under each rule, and Kendall's tau between the rules."""
    from ..core.host import plugin_manager
    from ..leaderboard.board import build_leaderboard

    host = plugin_manager()
    methods, params = rules_and_params(args, host)
    table = read_score_table(args)
    if args.win_probabilities and not args.uncertainty:
        raise ParameterError("--win-probabilities needs --uncertainty N")
    if args.bootstrap and args.uncertainty:
        raise ParameterError("use either --bootstrap or --uncertainty, not both")
    query_values = _query_values(args)
    console = stdout_console()
    with progress_bar() as bar:
        task = bar.add_task("aggregating", total=len(methods))

        def advance(method: str) -> None:
            bar.update(task, description=f"aggregating: {method}")

        board = build_leaderboard(
            table,
            methods,
            host,
            params,
            args.bootstrap,
            args.seed,
            args.level,
            progress=advance,
            uncertainty=args.uncertainty,
            query_values=query_values,
        )
    console.print(
        f"{len(table.systems)} systems × {len(table.tasks)} tasks "
        f"({int(np.isnan(table.scores).sum())} missing cells)",
        highlight=False,
    )
    console.print(_leaderboard_table(board, args.top))
    for method, found in board.uncertainty.items():
        where = "tasks and queries" if 2 in found.levels else "tasks"
        console.print(
            f"{method}: {found.summary()} ({found.samples} resamples of the {where}, "
            f"level {found.level:g})",
            highlight=False,
        )
    tau = board.kendall()
    agreement = Table(title="Kendall τ-b between the rules' rankings")
    agreement.add_column("")
    for method in board.methods:
        agreement.add_column(method, justify="right")
    for i, method in enumerate(board.methods):
        agreement.add_row(method, *(f"{tau[i, j]:.3f}" for j in range(len(board.methods))))
    console.print(agreement)
    if args.output:
        write_table(board.to_table(), Path(args.output))
        console.print(f"leaderboard written to {args.output}", highlight=False)
    if args.win_probabilities:
        write_table(board.win_probabilities(), Path(args.win_probabilities))
        console.print(f"win probabilities written to {args.win_probabilities}", highlight=False)
    return 0


def _query_values(args: argparse.Namespace):
    """The per-query values behind ``args.scores`` when ``--uncertainty`` asks for them and
    it is a results store with per-query rows; else None (the bootstrap is task-level)."""
    from ..leaderboard.score_sources import query_values_of

    if args.uncertainty <= 0:
        return None
    return query_values_of(args.scores, args.metric)


def _leaderboard_table(board, top: int) -> Table:
    rows = board.to_table().to_pylist()
    title = f"ranked by {board.methods[0]}; rank per rule"
    if board.uncertainty:
        found = next(iter(board.uncertainty.values()))
        where = "tasks and queries" if 2 in found.levels else "tasks"
        title += f" [{found.level:.0%} interval, bootstrap over {where}] (tied group)"
    elif board.intervals:
        title += " [95% bootstrap interval over tasks]"
    table = Table(title=title)
    table.add_column("system")
    for method in board.methods:
        table.add_column(method, justify="right")
    for row in rows[: top or None]:
        cells = []
        for method in board.methods:
            cell = str(row[f"{method}:rank"])
            if f"{method}:rank_low" in row:
                cell += f" [{row[f'{method}:rank_low']}–{row[f'{method}:rank_high']}]"
            if f"{method}:group" in row:
                cell += f" ({row[f'{method}:group']})"
            cells.append(cell)
        table.add_row(row["system"], *cells)
    return table
