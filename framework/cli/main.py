"""The ``rankarena`` command.

Verbs: ``plugins`` (what is installed and registered), ``devices`` (what the hooks report
and which device a run would use), ``eval`` (score a run file on a dataset), ``retrieve``
(run a registered retriever over a dataset, write the run, optionally score it), ``run``
(a TOML config of datasets × systems), ``aggregate`` (a leaderboard under several rules),
``mine`` and ``negatives`` (hard negatives), ``train`` (fine-tune a bi-encoder) and
``robustness`` (perturbations, attacks, out-of-domain and multiplicity tables).
Every foreseeable failure (bad input, a path that cannot be read or written, a full disk,
a file in the wrong encoding, a memory refusal; ``rankarena.cli.error_lines``) ends with one line
``rankarena: error: ...`` on stderr and exit status 2; ``--debug`` (or ``RANKARENA_DEBUG=1``)
shows its traceback instead. Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np
from rich.console import Console
from rich.table import Table

from ..errors import ParameterError, RankarenaError
from .error_lines import error_line, single_line

FORESEEABLE = (RankarenaError, OSError, UnicodeDecodeError, csv.Error, RecursionError, MemoryError)
"""The exception classes ``main`` says in one line (``rankarena.cli.error_lines.error_line``)."""
DEBUG_ENV = "RANKARENA_DEBUG"
EXIT_ERROR, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 2, 130, 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rankarena`` console script; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad argument (2, said in one line)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        with warnings.catch_warnings():
            if not _debug(args):
                warnings.showwarning = _warning_line
            return args.handler(args)
    except KeyboardInterrupt:
        print("rankarena: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (``| head``): say nothing
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except FORESEEABLE as exc:
        line = error_line(exc)
        if line is None or _debug(args):
            raise
        print(f"rankarena: error: {line}", file=sys.stderr)
        return EXIT_ERROR


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Say a warning (a damaged cache rebuilt, say) in one line: ``rankarena: warning: ...``
    (``--debug`` shows Python's usual form, with the file and line that warned)."""
    print(f"rankarena: warning: {single_line(str(message))}", file=file or sys.stderr)


def _debug(args: argparse.Namespace) -> bool:
    """``--debug`` given, or ``RANKARENA_DEBUG`` set to something other than 0/empty."""
    return args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (tests capture it)
        pass


class _Parser(argparse.ArgumentParser):
    """``argparse`` that says a bad argument in one line: ``rankarena: error: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"rankarena: error: {single_line(message)}\n")


# ------------------------------------------------------------------- argument checkers


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer >= ``minimum``, else ``must be >= N, got X``."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return check


positive_int = _whole_number(1)
"""``type=`` for counts that must be at least one (``--k``, ``--epochs``, ``--tournaments``)."""
non_negative_int = _whole_number(0)
"""``type=`` for counts where 0 means none or off (``--bootstrap``, ``--top``, seeds)."""


def _fraction(low_open: bool, high_open: bool) -> Callable[[str], float]:
    """An argparse ``type=``: a number in [0, 1], each end excluded when ``*_open``."""
    shown = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        low_ok = value > 0 if low_open else value >= 0
        high_ok = value < 1 if high_open else value <= 1
        if not (low_ok and high_ok and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be in {shown}, got {text}")
        return value

    return check


probability = _fraction(low_open=True, high_open=True)
"""``type=`` for a level strictly between 0 and 1 (``--alpha``)."""
share = _fraction(low_open=False, high_open=False)
"""``type=`` for a share from 0 to 1 (``--min-coverage``, ``--holdout``)."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rankarena", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", help="run torch work on this device (default: the hooks' top priority)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an error instead of one line (also {DEBUG_ENV}=1)",
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

    p = sub.add_parser("retrieve", help="run a retriever over a dataset and write the run")
    p.add_argument("--dataset", required=True, help="a BEIR folder")
    p.add_argument("--split", default="test", help="queries of this qrels split (default: test)")
    p.add_argument("--retriever", default="bm25", help="a registered retriever (default: bm25)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a retriever parameter, e.g. --param k1=1.2 (repeatable)",
    )
    p.add_argument(
        "--k", type=positive_int, default=1000, help="documents per query (default: 1000)"
    )
    p.add_argument("--output", required=True, help="the run file: TREC text, or .parquet")
    p.add_argument("--metrics", help="also evaluate, e.g. ndcg@10,recall@100")
    p.add_argument("--results", help="append the evaluation to this Parquet results store")
    p.add_argument("--system", help="system name in the results (default: the retriever)")
    p.set_defaults(handler=cmd_retrieve)

    p = sub.add_parser("run", help="run a TOML config: datasets x systems, cached, ranked")
    p.add_argument("config", help="the run config (TOML; see docs/guide.md)")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="where cells run (default: the config's [run] executor, else local; "
        "ray options come from [run.ray], see docs/scaling.md)",
    )
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("aggregate", help="rank systems over tasks under several rules")
    p.add_argument(
        "scores",
        help="a long table (system, task, score[, task_type]; .parquet/.csv), a rankarena "
        "results store, the MTEB export (scores.parquet) or an MTEB results folder",
    )
    _aggregate_options(p)
    p.set_defaults(handler=cmd_aggregate)

    p = sub.add_parser(
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

    p = sub.add_parser("mine", help="mine hard negatives for a dataset split")
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

    p = sub.add_parser("train", help="fine-tune a bi-encoder on mined negatives")
    p.add_argument("--dataset", required=True, help="a BEIR folder or catalog name")
    p.add_argument("--split", default="train", help="training qrels split (default: train)")
    p.add_argument("--model", default="minilm", help="start model: alias, folder or HF id")
    p.add_argument("--sampler", default="in-batch", help="a registered sampler (default: in-batch)")
    p.add_argument(
        "--sampler-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sampler parameter, e.g. --sampler-param retriever=bm25 (repeatable)",
    )
    p.add_argument("--examples", help="a TrainingExamples Parquet file instead of mining")
    p.add_argument(
        "--num-negatives", type=non_negative_int, default=1, help="mined negatives per row (1)"
    )
    p.add_argument("--loss", default="infonce", help="a registered loss (default: infonce)")
    p.add_argument(
        "--loss-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a loss parameter, e.g. --loss-param symmetric=True (repeatable)",
    )
    p.add_argument(
        "--layout",
        default="in-batch",
        help="in-batch (all documents of the batch; default) or list (own candidates with "
        "teacher scores, for distillation losses)",
    )
    p.add_argument("--scale", type=float, default=20.0, help="scores = scale*cos (default: 20)")
    p.add_argument("--epochs", type=positive_int, default=1, help="epochs (default: 1)")
    p.add_argument(
        "--batch-size", type=positive_int, default=32, help="rows per step (default: 32)"
    )
    p.add_argument(
        "--chunk-size",
        type=positive_int,
        help="gradient caching: texts per forward pass (default: no caching)",
    )
    p.add_argument("--lr", type=float, default=2e-5, help="learning rate (default: 2e-5)")
    p.add_argument("--warmup-ratio", type=float, default=0.1, help="warm-up share (0.1)")
    p.add_argument("--max-length", type=positive_int, help="tokens per text (default: the model's)")
    p.add_argument("--precision", default="auto", help="auto (device report), fp32, bf16 or fp16")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed (default: 0)")
    p.add_argument(
        "--save-steps", type=non_negative_int, default=0, help="checkpoint every N steps too"
    )
    p.add_argument("--max-steps", type=positive_int, help="stop after N steps")
    p.add_argument(
        "--eval-split", default="test", help="evaluated before and after ('' = none; test)"
    )
    p.add_argument(
        "--eval-dataset",
        action="append",
        default=[],
        help="also evaluate on this dataset's eval split (repeatable; out of domain)",
    )
    p.add_argument("--metrics", default="ndcg@10,recall@100", help="(default: %(default)s)")
    p.add_argument("--results", help="results store (default: OUTPUT/results.parquet)")
    p.add_argument("--name", help="system name in the results (default: the output folder's)")
    p.add_argument("--output", required=True, help="the model folder to write (resumable)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("robustness", help="perturb queries, attack documents, measure drops")
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

    p = sub.add_parser("report", help="one static HTML report of a run folder or results store")
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
        "--depth", type=positive_int, default=100, help="top-k per query for histograms/ROC (100)"
    )
    p.add_argument(
        "--alpha", type=probability, default=0.05, help="significance level, Holm-corrected (0.05)"
    )
    p.add_argument("--data-dir", help="folder of dataset folders (default: $RANKARENA_DATA_DIR)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="Swiss seed (default: 0)")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("negatives", help="diagnostics of mined negative sets")
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
    return parser


def _aggregate_options(p: argparse.ArgumentParser) -> None:
    """The options ``aggregate`` and ``leaderboard`` share."""
    p.add_argument(
        "--method",
        default="mean,borda",
        help="registered aggregators, comma-separated (default: mean,borda)",
    )
    p.add_argument("--benchmark", help="MTEB benchmark, e.g. 'MTEB(eng, v2)' (MTEB inputs)")
    p.add_argument("--metric", help="the metric of a results store (default: ndcg@10)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="an aggregator parameter, e.g. --param swiss.tournaments=10000 (repeatable)",
    )
    p.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="resample the tasks N times for 95%% rank intervals (default: 0, none)",
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument(
        "--min-coverage",
        type=share,
        default=0.0,
        metavar="F",
        help="keep only systems with a score on at least this share of the tasks (1 = all)",
    )
    p.add_argument(
        "--top", type=non_negative_int, default=30, help="rows to print (default: 30; 0 = all)"
    )
    p.add_argument("--output", help="write the whole leaderboard: .parquet or .csv")


def _console() -> Console:
    return Console(width=max(Console().width, 100), soft_wrap=False)


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins (with versions and hooks) and components by kind."""
    from ..core.host import KINDS, plugin_manager

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
    from ..core.host import plugin_manager

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
    from ..core.host import plugin_manager
    from ..data import Run, read_trec_run

    host = plugin_manager()
    dataset = host.datasets.create("beir", path=args.dataset)
    qrels = dataset.qrels(args.split)
    run_path = Path(args.run)
    run = Run.from_parquet(run_path) if run_path.suffix == ".parquet" else read_trec_run(run_path)
    _evaluate_and_report(
        host,
        run,
        qrels,
        kind="eval",
        dataset=dataset.name,
        split=args.split,
        system=args.system or run_path.stem,
        metrics=_metric_names(args.metrics),
        config={"dataset": str(args.dataset), "run": str(run_path)},
        per_query=args.per_query,
        store=args.output,
        relevance_level=args.relevance_level,
        complete=args.complete,
        ignore_identical_ids=args.ignore_identical_ids,
    )
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    """Index a dataset's corpus with a retriever, search its queries, write the run."""
    from ..core.host import plugin_manager
    from ..data import write_trec_run

    host = plugin_manager()
    dataset = host.datasets.create("beir", path=args.dataset)
    queries = dataset.queries(args.split)
    params = dict(_parse_param(text) for text in args.param)
    retriever = host.retrievers.create(args.retriever, **params)
    console = _console()
    with console.status(f"{args.retriever}: indexing {dataset.name} ..."):
        retriever.index(dataset.corpus)
    with console.status(f"{args.retriever}: searching {len(queries)} queries ..."):
        run = retriever.search(queries, k=args.k)
    output = Path(args.output)
    if output.suffix == ".parquet":
        run.to_parquet(output)
    else:
        write_trec_run(run, output, tag=args.retriever)
    console.print(f"wrote {len(run)} rows for {len(queries)} queries to {output}")
    if args.metrics:
        _evaluate_and_report(
            host,
            run,
            dataset.qrels(args.split),
            kind="retrieve",
            dataset=dataset.name,
            split=args.split,
            system=args.system or args.retriever,
            metrics=_metric_names(args.metrics),
            config={"dataset": str(args.dataset), "retriever": args.retriever, **params},
            per_query=False,
            store=args.results,
        )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Execute a run config and print one leaderboard table per metric."""
    from ..core.host import plugin_manager
    from ..runs.pipeline import Runner, load_config

    config = load_config(args.config)
    console = _console()
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


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """``aggregate`` over an MTEB results folder (``--mteb-results``)."""
    folder = Path(args.mteb_results)
    if not folder.is_dir():
        raise ParameterError(f"--mteb-results {folder}: not a folder")
    args.scores = str(folder)
    return cmd_aggregate(args)


def cmd_aggregate(args: argparse.Namespace) -> int:
    """Print the leaderboard under each rule, and Kendall's tau between the rules."""
    from rich.progress import Progress

    from ..core.host import plugin_manager
    from ..leaderboard.board import build_leaderboard
    from ..leaderboard.score_sources import read_scores

    host = plugin_manager()
    methods = _metric_names(args.method)
    for method in methods:
        host.aggregators.get(method)  # unknown names fail before any work
    params: dict[str, dict[str, object]] = {}
    for text in args.param:
        name, value = _parse_param(text)
        method, dot, key = name.partition(".")
        if not dot or method not in methods:
            raise ParameterError(
                f"--param takes METHOD.NAME=VALUE with METHOD one of {', '.join(methods)}; "
                f"got {text!r}"
            )
        params.setdefault(method, {})[key] = value
    table = read_scores(args.scores, benchmark=args.benchmark, metric=args.metric)
    table = table.with_coverage(args.min_coverage)
    console = _console()
    stderr = Console(stderr=True)  # no bar (and no blank line) where stderr is not a terminal
    with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("aggregating", total=len(methods))

        def advance(method: str) -> None:
            bar.update(task, description=f"aggregating: {method}")

        board = build_leaderboard(
            table, methods, host, params, args.bootstrap, args.seed, progress=advance
        )
    console.print(
        f"{len(table.systems)} systems × {len(table.tasks)} tasks "
        f"({int(np.isnan(table.scores).sum())} missing cells)",
        highlight=False,
    )
    console.print(_leaderboard_table(board, args.top))
    tau = board.kendall()
    agreement = Table(title="Kendall τ-b between the rules' rankings")
    agreement.add_column("")
    for method in board.methods:
        agreement.add_column(method, justify="right")
    for i, method in enumerate(board.methods):
        agreement.add_row(method, *(f"{tau[i, j]:.3f}" for j in range(len(board.methods))))
    console.print(agreement)
    if args.output:
        _write_table(board.to_table(), Path(args.output))
        console.print(f"leaderboard written to {args.output}", highlight=False)
    return 0


def _mining_context(args: argparse.Namespace, holdout: float, seed: int):
    from ..core.host import plugin_manager
    from ..training.mining import MiningContext

    host = plugin_manager()
    dataset = host.datasets.create("beir", path=str(args.dataset))
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
    params = dict(_parse_param(text) for text in args.param)
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
    context = _mining_context(args, args.holdout, args.seed)
    started = time.perf_counter()
    examples = sampler.sample(context, args.num_negatives)
    examples.check_against(context.positives)
    examples.to_parquet(args.output)
    console = _console()
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


def cmd_train(args: argparse.Namespace) -> int:
    """Fine-tune a bi-encoder; evaluate before and after; print the comparison."""
    from ..core.host import plugin_manager
    from ..training.trainer import TrainConfig, Trainer

    config = TrainConfig(
        dataset=args.dataset,
        output=args.output,
        split=args.split,
        model=args.model,
        sampler=args.sampler,
        sampler_params=dict(_parse_param(text) for text in args.sampler_param),
        examples=args.examples,
        num_negatives=args.num_negatives,
        loss=args.loss,
        loss_params=dict(_parse_param(text) for text in args.loss_param),
        layout=args.layout,
        scale=args.scale,
        epochs=args.epochs,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        max_length=args.max_length,
        precision=args.precision,
        seed=args.seed,
        save_steps=args.save_steps,
        max_steps=args.max_steps,
        eval_split=args.eval_split or None,
        eval_datasets=list(args.eval_dataset),
        metrics=_metric_names(args.metrics),
        results=args.results,
        name=args.name,
    )
    host = plugin_manager()
    host.samplers.get(config.sampler)  # unknown names fail before any work
    console = _console()
    trainer = Trainer(
        config, host, device=args.device, log=lambda text: console.print(text, highlight=False)
    )
    report = trainer.run()
    table = Table(title=f"{trainer.name}: before -> after ({config.eval_split})")
    for column in ("dataset", "metric", "before", "after", "change"):
        table.add_column(column, justify="left" if column in ("dataset", "metric") else "right")
    for dataset, after in report.after.items():
        for metric, value in after.items():
            old = report.before.get(dataset, {}).get(metric, float("nan"))
            table.add_row(dataset, metric, f"{old:.4f}", f"{value:.4f}", f"{value - old:+.4f}")
    if report.after:
        console.print(table)
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    """Run a robustness config; print and write its tables; draw the plot."""
    import csv

    from ..core.host import plugin_manager
    from ..data import atomic_write
    from ..robustness.plot import plot_robustness
    from ..robustness.runner import RobustnessRunner, load_robustness_config

    config = load_robustness_config(args.config)
    console = _console()
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
        console.print(_rows_table(name, rows))
    metric = config.run.metrics[0]
    datasets = list(dict.fromkeys(r["dataset"] for r in report.drops))
    for dataset in datasets:
        path = Path(args.plot) if args.plot and len(datasets) == 1 else None
        path = path or out / f"plot-{dataset}-{metric.replace('@', '')}.png"
        plot_robustness(report.drops, metric, dataset, path)
        console.print(f"plot: {path}", highlight=False)
    console.print(
        f"{runner.computed} runs computed, {runner.reused} reused; tables in {out}; "
        f"results in {runner.store}",
        highlight=False,
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static HTML report of a run folder (leaderboard, significance, plots)."""
    from ..report.builder import build_report

    console = _console()
    summary = build_report(
        args.results,
        args.output,
        metric=args.metric,
        methods=_metric_names(args.method) if args.method else None,
        tournaments=args.tournaments,
        depth=args.depth,
        alpha=args.alpha,
        data_dir=args.data_dir,
        seed=args.seed,
    )
    for note in summary.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"report written to {summary.path} in {summary.seconds:.1f} s", highlight=False)
    return 0


def _rows_table(title: str, rows: list[dict]) -> Table:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="left" if isinstance(rows[0][column], str) else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    return table


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    return str(value)


def _mine_config(args: argparse.Namespace, host) -> int:
    from ..training.mine_config import load_mine_config, run_mine_config

    config = load_mine_config(args.config, host)
    console = _console()
    rows = run_mine_config(config, host, log=lambda text: console.print(text, highlight=False))
    console.print(_stats_table(rows, config.scorer))
    console.print(f"diagnostics in {config.output / 'stats.csv'}", highlight=False)
    return 0


def _stats_table(rows: list[dict], scorer: str) -> Table:
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


def cmd_negative_stats(args: argparse.Namespace) -> int:
    """Rescore negative sets with one scorer and print their diagnostics."""
    from ..data.training_examples import read_training_examples
    from ..training.negative_stats import plot_histograms, score_set, set_stats

    context = _mining_context(args, 0.0, 0)
    scorer_params = {"model": args.model} if args.model else {}
    scored, rows = {}, []
    for path in args.sets:
        examples = read_training_examples(path)
        name = Path(path).stem
        scored[name] = score_set(examples, context, args.scorer, scorer_params)
        rows.append(set_stats(name, examples, context, scored[name], args.margin).to_dict())
    table = _stats_table(rows, args.scorer)
    console = _console()
    console.print(table)
    if args.histogram:
        plot_histograms(scored, args.histogram)
        console.print(f"histograms written to {args.histogram}", highlight=False)
    if args.output:
        import pyarrow as pa

        _write_table(pa.Table.from_pylist(rows), Path(args.output))
    return 0


def _leaderboard_table(board, top: int) -> Table:
    rows = board.to_table().to_pylist()
    title = f"ranked by {board.methods[0]}; rank per rule"
    if board.intervals:
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
            cells.append(cell)
        table.add_row(row["system"], *cells)
    return table


def _write_table(table, path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ..data import atomic_path

    if path.suffix not in (".parquet", ".csv"):
        raise ParameterError(f"--output must end in .parquet or .csv, got {path}")
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)


def _metric_names(text: str) -> list[str]:
    return [m for m in (part.strip() for part in text.split(",")) if m]


def _parse_param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as a Python literal where it is one (else a string)."""
    import ast

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"--param takes NAME=VALUE, got {text!r}")
    try:
        parsed: object = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return name.strip(), parsed


def _evaluate_and_report(
    host,
    run,
    qrels,
    *,
    kind: str,
    dataset: str,
    split: str,
    system: str,
    metrics: list[str],
    config: dict,
    per_query: bool,
    store: str | None,
    **options,
) -> None:
    """Evaluate, notify observers, append to the results store and print the tables."""
    from ..core.observe import RunInfo
    from ..evaluate import evaluate

    info = RunInfo(
        kind, {**config, "split": split, "metrics": metrics, "system": system, **options}
    )
    host.notify_run_start(info)
    evaluation = evaluate(run, qrels, metrics, host=host, **options)
    results = evaluation.to_results(system, dataset, split, per_query=per_query, run_id=info.run_id)
    for row in results.table.to_pylist():
        host.notify_result(row)
    if store:
        results.append_to(store)
    host.notify_run_end(info, results)

    console = _console()
    if per_query:
        console.print(f"{system} on {dataset}/{split}: per query", highlight=False)
        table = Table()
        table.add_column("query_id")
        for name in evaluation.metrics:
            table.add_column(name, justify="right")
        for i, qid in enumerate(evaluation.query_ids):
            table.add_row(qid, *(f"{evaluation.per_query[m][i]:.4f}" for m in evaluation.metrics))
        console.print(table)
    console.print(
        f"{system} on {dataset}/{split} ({len(evaluation.query_ids)} queries)", highlight=False
    )
    table = Table()
    table.add_column("metric")
    table.add_column("mean", justify="right")
    for name, value in evaluation.mean.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)
    if store:
        console.print(f"appended {results.table.num_rows} rows to {store}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
