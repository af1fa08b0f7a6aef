"""The ``plan`` verb: how many queries an experiment needs (Sakai's topic set size design),
from a variance estimated on a results store's per-query values or given outright.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from ..errors import ParameterError
from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``plan``."""
    p = subparsers.add_parser(
        "plan",
        help="how many queries are needed to detect a difference (topic set size design)",
        description=(
            "The number of queries (topics) a paired t-test needs to detect each --difference "
            "with --power at level --alpha (Sakai, 'Topic set size design', 2016); with "
            "--systems M also one-way ANOVA over M systems (--difference as the range between "
            "the best and worst), with --half-width W the expected half-width of the "
            "100(1 - alpha)%% interval of the mean difference. The variance of per-query "
            "differences is 2 V_E, V_E the residual variance of two-way ANOVA (systems x "
            "queries) on a results STORE's per-query values, or --variance."
        ),
    )
    p.add_argument(
        "store",
        nargs="?",
        metavar="STORE",
        help="a rankarena results store (Parquet) with per-query values of two or more systems",
    )
    p.add_argument("--metric", default="ndcg@10", help="the store's metric (default: ndcg@10)")
    p.add_argument("--dataset", help="the store's dataset (required with STORE)")
    p.add_argument("--split", help="the store's split (default: its only one)")
    p.add_argument(
        "--variance",
        type=float,
        metavar="V",
        help="the variance of per-query differences between two systems, instead of a STORE",
    )
    p.add_argument(
        "--difference",
        type=float,
        nargs="+",
        default=[],
        metavar="D",
        help="the smallest mean difference to detect, e.g. 0.02 0.05 (one row each)",
    )
    p.add_argument(
        "--power", type=float, default=0.8, help="the power wanted, in (0, 1) (default: 0.8)"
    )
    p.add_argument(
        "--alpha", type=float, default=0.05, help="the significance level (default: 0.05)"
    )
    p.add_argument(
        "--systems",
        type=int,
        metavar="M",
        help="also one-way ANOVA over M >= 2 systems: --difference is the best-worst range",
    )
    p.add_argument(
        "--half-width",
        type=float,
        nargs="+",
        default=[],
        metavar="W",
        help="also the queries for an expected interval half-width of at most W",
    )
    p.set_defaults(handler=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the variance used and the number of queries per difference and design."""
    from ..significance.planning import (
        difference_variance,
        residual_variance,
        topic_matrix,
        topic_set_size,
        topic_set_size_anova,
        topic_set_size_ci,
    )

    if not args.difference and not args.half_width:
        raise ParameterError("plan needs --difference D [D ...] and/or --half-width W [W ...]")
    console = stdout_console()
    if args.store is not None:
        if args.variance is not None:
            raise ParameterError("give a results STORE or --variance, not both")
        if args.dataset is None:
            raise ParameterError("plan STORE needs --dataset (and --metric, default ndcg@10)")
        matrix = topic_matrix(args.store, args.metric, args.dataset, args.split)
        systems, queries = matrix.values.shape
        if systems < 2 or queries < 2:
            raise ParameterError(
                f"estimating the variance needs per-query {args.metric} of at least 2 systems "
                f"on at least 2 shared queries of {args.dataset!r}; found {systems} systems x "
                f"{queries} queries"
            )
        within = residual_variance(matrix.values)
        variance = difference_variance(matrix.values)
        dropped = f" ({matrix.dropped} dropped: some system lacked them)" if matrix.dropped else ""
        where = args.dataset + (f"/{args.split}" if args.split else "")
        console.print(
            f"{args.metric} on {where}: {systems} systems x {queries} queries{dropped}",
            highlight=False,
        )
        console.print(f"V_E (residual variance, two-way ANOVA) = {within:.6f}", highlight=False)
        console.print(f"variance of per-query differences 2 V_E = {variance:.6f}", highlight=False)
    else:
        if args.variance is None:
            raise ParameterError("plan needs a results STORE or --variance V")
        if args.dataset is not None or args.split is not None:
            raise ParameterError("--dataset and --split apply to a STORE, not to --variance")
        variance = args.variance
        within = variance / 2
        console.print(
            f"variance of per-query differences = {variance:.6f} (given)", highlight=False
        )
        if args.systems is not None:
            console.print(f"ANOVA uses half of it, sigma^2 = {within:.6f}", highlight=False)
    if args.difference:
        console.print(
            f"queries needed: paired t-test{' and one-way ANOVA' if args.systems else ''}, "
            f"two-sided, alpha = {args.alpha}, power = {args.power}",
            highlight=False,
        )
        table = Table()
        table.add_column("difference", justify="right")
        table.add_column("t-test n", justify="right")
        table.add_column("power", justify="right")
        if args.systems is not None:
            table.add_column(f"ANOVA n (m = {args.systems})", justify="right")
            table.add_column("power", justify="right")
        for difference in args.difference:
            t = topic_set_size(difference, variance, args.alpha, args.power)
            cells = [f"{difference:g}", str(t.n), f"{t.achieved:.4f}"]
            if args.systems is not None:
                f = topic_set_size_anova(difference, within, args.systems, args.alpha, args.power)
                cells += [str(f.n), f"{f.achieved:.4f}"]
            table.add_row(*cells)
        console.print(table)
    if args.half_width:
        console.print(
            f"queries needed: expected half-width of the {100 * (1 - args.alpha):g}% "
            "interval of the mean difference",
            highlight=False,
        )
        table = Table()
        table.add_column("half-width at most", justify="right")
        table.add_column("n", justify="right")
        table.add_column("expected half-width", justify="right")
        for width in args.half_width:
            c = topic_set_size_ci(width, variance, args.alpha)
            table.add_row(f"{width:g}", str(c.n), f"{c.achieved:.5f}")
        console.print(table)
    return 0
