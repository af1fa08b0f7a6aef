"""The ``audit`` verb: how stable is a leaderboard under each rule?

Per rule, the fewest tasks whose removal changes the winner or the top-k set
(``rankarena.leaderboard.stability.fewest_tasks_changing``), and how far the rule's ranking
moves when a share of the cells is masked at random (``missing_data_study``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .arguments import non_negative_int, positive_int
from .leaderboard import progress_bar, read_score_table, rule_options, rules_and_params
from .output import rows_table, stdout_console, write_table


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``audit``."""
    p = subparsers.add_parser(
        "audit", help="stability of a leaderboard: fewest tasks that change it, missing data"
    )
    p.add_argument(
        "scores",
        help="a long table (system, task, score[, task_type]; .parquet/.csv), a rankarena "
        "results store, the MTEB export (scores.parquet) or an MTEB results folder",
    )
    rule_options(p)
    p.add_argument(
        "--top-k",
        default="1",
        metavar="K[,K...]",
        help="audit the winner (1) or the top-k set, compared as a set; a comma list such as "
        "1,3,10 audits each (default: 1)",
    )
    p.add_argument(
        "--mask",
        default="0.1,0.2,0.3",
        metavar="P[,P...]",
        help="shares of the cells to mask at random, each in [0, 1) (default: 0.1,0.2,0.3)",
    )
    p.add_argument("--repeats", type=positive_int, default=20, help="masks per share (default: 20)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="mask seed (default: 0)")
    p.add_argument(
        "--exact-budget",
        type=positive_int,
        default=None,
        metavar="N",
        help="aggregator calls the exact task search may make before it turns greedy "
        "(default: 20000)",
    )
    p.add_argument("--output", help="write the missing-data table: .parquet or .csv")
    p.set_defaults(handler=cmd_audit)


def top_ks(text: str) -> list[int]:
    """``--top-k``: positive integers, comma-separated, each once, in the order given."""
    values: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part.isdigit() or int(part) < 1:
            raise ParameterError(
                f"--top-k takes positive integers, comma-separated (e.g. 1,3,10); got {text!r}"
            )
        if int(part) not in values:
            values.append(int(part))
    return values


def mask_shares(text: str) -> list[float]:
    """``--mask``: shares in [0, 1), comma-separated."""
    values: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value < 1.0:
            raise ParameterError(
                f"--mask takes shares in [0, 1), comma-separated (e.g. 0.1,0.2,0.3); got {text!r}"
            )
        values.append(value)
    return values


def cmd_audit(args: argparse.Namespace) -> int:
    """Print, per rule, the fewest tasks changing the winner/top-k and the τ under masking."""
    from ..core.host import plugin_manager
    from ..leaderboard.stability import (
        DEFAULT_EXACT_BUDGET,
        fewest_tasks_changing,
        missing_data_study,
    )

    host = plugin_manager()
    methods, params = rules_and_params(args, host)
    ks = top_ks(args.top_k)
    shares = mask_shares(args.mask)
    budget = args.exact_budget or DEFAULT_EXACT_BUDGET
    output = Path(args.output) if args.output else None
    if output is not None and output.suffix not in (".parquet", ".csv"):
        raise ParameterError(f"--output must end in .parquet or .csv, got {output}")
    table = read_score_table(args)
    n_systems = len(table.systems)
    if n_systems < 2 or not table.tasks:
        raise ParameterError(
            f"audit needs at least 2 systems and 1 task, got {n_systems} × {len(table.tasks)}"
        )
    if max(ks) >= n_systems:
        raise ParameterError(
            f"--top-k must be below the number of systems ({n_systems}); got {max(ks)}"
        )
    rules = {m: host.aggregators.create(m, **params.get(m, {})).aggregate for m in methods}
    console = stdout_console()
    results = {}
    with progress_bar() as bar:
        stages = len(methods) * len(ks) + 1
        task = bar.add_task("auditing", total=stages)
        for method, aggregate in rules.items():
            for k in ks:
                label = f"fewest tasks: {method}, top-{k}"
                bar.update(task, description=label)

                def tick(calls: int, label: str = label) -> None:
                    if calls % 100 == 0:
                        bar.update(task, description=f"{label} ({calls} calls)")

                results[method, k] = fewest_tasks_changing(table, aggregate, k, budget, tick)
                bar.advance(task)
        study = missing_data_study(
            table,
            rules,
            shares,
            args.repeats,
            args.seed,
            progress=lambda m: bar.update(task, description=f"masking: {m}"),
        )
        bar.advance(task)
    console.print(
        f"{n_systems} systems × {len(table.tasks)} tasks "
        f"({int(np.isnan(table.scores).sum())} missing cells)",
        highlight=False,
    )
    for line in _removal_lines(results):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    rows = [
        {
            "rule": r["rule"],
            "masked share": r["share"],
            "τ mean": r["tau_mean"],
            "τ sd": r["tau_sd"],
            "τ min": r["tau_min"],
            "unranked (mean)": r["unranked_mean"],
            "unranked (max)": r["unranked_max"],
        }
        for r in study.rows
    ]
    first = study.rows[0]
    console.print(
        rows_table(
            f"Missing data: Kendall τ-b against each rule's complete-data ranking "
            f"({first['systems']} complete systems × {first['tasks']} tasks, "
            f"{args.repeats} masks per share, seed {args.seed})",
            rows,
        )
    )
    if output is not None:
        write_table(study.to_table(), output)
        console.print(f"missing-data table written to {output}", highlight=False)
    return 0


def _removal_lines(results: dict) -> list[str]:
    """Per rule and k: the fewest tasks, which, and the new winner or the change of the set."""
    lines = ["Fewest tasks whose removal changes the winner / top-k set (compared as a set):"]
    for (method, k), r in results.items():
        what = "winner" if k == 1 else f"top-{k} set"
        head = f"  {method}, {what}: {r.describe()}"
        if r.size is None:
            lines.append(f"{head}; {r.calls} aggregator calls")
            continue
        if k == 1:
            change = f"new winner {', '.join(sorted(r.new_top))} (was {', '.join(sorted(r.top))})"
        else:
            entered = ", ".join(sorted(r.new_top - r.top)) or "none"
            left = ", ".join(sorted(r.top - r.new_top)) or "none"
            change = f"enter: {entered}; leave: {left}"
        lines.append(f"{head} — remove {', '.join(r.tasks)} → {change}; {r.calls} calls")
    return lines
