"""The ``mine`` verb: hard negatives for a dataset split, by one sampler or by a mining
config of several (with diagnostics); also what ``negatives stats`` shares with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from ..errors import ParameterError
from .arguments import non_negative_int, parse_params, share
from .output import stdout_console

if TYPE_CHECKING:
    from ..training.mining import MiningContext


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``mine``."""
    p = subparsers.add_parser("mine", help="mine hard negatives for a dataset split")
    p.add_argument("--config", help="a mining TOML (several samplers, with diagnostics)")
    p.add_argument("--dataset", help="a BEIR folder or catalog name")
    p.add_argument("--split", default="train", help="qrels split (default: train)")
    p.add_argument("--sampler", default="positive-aware", help="a registered sampler")
    p.add_argument("--retriever", help="the sampler's retriever (e.g. dense, bm25, hybrid)")
    p.add_argument("--model", help="the dense model (sets the retriever's model parameter)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sampler parameter, e.g. --param range_max=50 (repeatable)",
    )
    p.add_argument("--num-negatives", type=int, default=8, help="per query (default: 8)")
    p.add_argument(
        "--holdout",
        type=share,
        default=0.0,
        help="hide this share of the extra positives of multi-positive queries, to measure "
        "false negatives with `rankarena negatives stats` (default: 0)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed (default: 0)")
    p.add_argument("--output", help="TrainingExamples Parquet file")
    p.add_argument("--ntuples", help="also write sentence-transformers n-tuples (.jsonl)")
    p.set_defaults(handler=cmd_mine)


def mining_context(args: argparse.Namespace, holdout: float, seed: int) -> MiningContext:
    """The mining context of ``args.dataset``'s ``args.split`` (corpus, queries, positives,
    shared cached retrieval), on ``--device``; a progress bar where stderr is a terminal."""
    from ..core.datasets import open_dataset
    from ..core.host import plugin_manager
    from ..training.mining import MiningContext

    host = plugin_manager()
    dataset = open_dataset(host, str(args.dataset))
    return MiningContext(
        dataset.corpus,
        dataset.queries(args.split),
        dataset.qrels(args.split),
        host=host,
        seed=seed,
        holdout=holdout,
        device=getattr(args, "device", None),
        show_progress=sys.stderr.isatty(),
    )


def cmd_mine(args: argparse.Namespace) -> int:
    """Mine negatives with one sampler and write them as TrainingExamples."""
    import time

    from ..core.host import plugin_manager

    host = plugin_manager()
    if args.config:
        return _mine_config(args, host)
    if not args.dataset or not args.output:
        raise ParameterError("rankarena mine needs --dataset and --output (or --config)")
    params = parse_params(args.param)
    spec = host.samplers.get(args.sampler)
    accepted = {p.name for p in spec.parameters}
    if args.retriever:
        params["retriever"] = args.retriever
    if args.model:
        retriever_params = dict(params.get("params") or {})
        retriever_params["model"] = args.model
        params["params"] = retriever_params
    unknown = {"retriever", "params"} & set(params) - accepted
    if unknown:
        raise ParameterError(
            f"sampler {args.sampler!r} takes no {', '.join(sorted(unknown))} "
            "(--retriever/--model need a retriever-based sampler)"
        )
    if args.num_negatives < 1:
        raise ParameterError(f"--num-negatives must be >= 1, got {args.num_negatives}")
    sampler = host.samplers.create(args.sampler, **params)
    context = mining_context(args, args.holdout, args.seed)
    started = time.perf_counter()
    examples = sampler.sample(context, args.num_negatives)
    examples.check_against(context.positives)
    examples.to_parquet(args.output)
    console = stdout_console()
    console.print(
        f"{args.sampler}: {len(examples)} (query, positive) rows, "
        f"{len(context.queries.ids)} queries, {time.perf_counter() - started:.1f} s "
        f"-> {args.output}",
        highlight=False,
    )
    if args.ntuples:
        from ..data import atomic_write

        with atomic_write(Path(args.ntuples)) as out:
            for item in examples.to_ntuples(context.corpus, context.queries):
                out.write(json.dumps(item) + "\n")
    return 0


def _mine_config(args: argparse.Namespace, host) -> int:
    """``mine --config``: run every sampler of a mining TOML and print their diagnostics."""
    from ..training.mine_config import load_mine_config, run_mine_config

    config = load_mine_config(args.config, host)
    console = stdout_console()
    rows = run_mine_config(config, host, log=lambda text: console.print(text, highlight=False))
    console.print(stats_table(rows, config.scorer))
    console.print(f"diagnostics in {config.output / 'stats.csv'}", highlight=False)
    return 0


def stats_table(rows: list[dict], scorer: str) -> Table:
    """The diagnostics of negative sets (``set_stats`` rows), as rescored by ``scorer``."""
    table = Table(title=f"negative sets rescored by {scorer}")
    columns = [
        ("set", "name", "{}"),
        ("queries", "queries", "{}"),
        ("neg/query", "negatives_per_query", "{:.2f}"),
        ("pos mean", "positive_mean", "{:.3f}"),
        ("neg mean", "negative_mean", "{:.3f}"),
        ("hardness", "hardness", "{:.3f}"),
        ("safety", "safety", "{:.3f}"),
        ("unsafe", "unsafe_share", "{:.3f}"),
        ("ECI", "eci", "{:.3f}"),
        ("held-out FN rate", "heldout_fn_rate", "{:.3f}"),
    ]
    for header, _, _ in columns:
        table.add_column(header, justify="left" if header == "set" else "right")
    for row in rows:
        table.add_row(*(fmt.format(row[key]) for _, key, fmt in columns))
    return table
