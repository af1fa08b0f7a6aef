"""Verbs that score runs: ``eval`` (a run file on a dataset's qrels) and ``retrieve`` (a
registered retriever over a dataset: write the run, optionally score it).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from ..errors import ParameterError
from .arguments import metric_names, parse_params, positive_int
from .output import stdout_console

if TYPE_CHECKING:
    from ..evaluate import Evaluation

DEFAULT_SPLIT = "test"
"""The qrels split ``eval --dataset`` reads when ``--split`` is not given."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval`` and ``retrieve``."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a run file against a dataset's qrels or a qrels file",
        description=(
            "Evaluate a run file against the qrels of --dataset (and --split) or of a qrels "
            "file (--qrels). Results from --qrels are stored and printed under dataset = the "
            "qrels file's stem and an empty split."
        ),
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--dataset", help="a BEIR folder, a catalog name or a SOURCE:ARG dataset reference"
    )
    source.add_argument(
        "--qrels",
        help=(
            "a qrels file instead of a dataset: TREC (qid iter docno rel) or BEIR TSV "
            "(query-id<TAB>corpus-id<TAB>score), told apart by its content"
        ),
    )
    p.add_argument(
        "--split", help=f"qrels split of --dataset (default: {DEFAULT_SPLIT}; not with --qrels)"
    )
    p.add_argument("--run", required=True, help="a TREC run file, or a .parquet Run")
    p.add_argument(
        "--metrics",
        default="ndcg@10,recall@100",
        help=(
            "comma-separated metric names, e.g. ndcg@10,mrr@10,map@100, nDCG@10, P_10, "
            "RBP(p=0.5)@10; 'trec' is trec_eval's default set (default: %(default)s)"
        ),
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
    p.add_argument(
        "--max-memory",
        metavar="SIZE",
        help=(
            "memory the evaluation may use, e.g. 2G (default: $RANKARENA_MAX_MEMORY, else "
            "half the physical memory); a larger run is streamed in blocks of whole queries"
        ),
    )
    p.set_defaults(handler=cmd_eval)

    p = subparsers.add_parser("retrieve", help="run a retriever over a dataset and write the run")
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


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a run file on a dataset's qrels (``--dataset``, ``--split``) or on a qrels
    file (``--qrels``: stored as dataset = its stem, split ``""``); print means (and
    per-query values); optionally store results."""
    from ..core.datasets import open_dataset
    from ..core.host import plugin_manager
    from ..data import read_qrels
    from ..evaluate.run_file import evaluate_run_file

    host = plugin_manager()
    if args.qrels is not None:
        if args.split is not None:
            raise ParameterError(
                "--split does not apply to --qrels (the file holds one set of qrels); "
                "drop --split, or use --dataset"
            )
        qrels_path = Path(args.qrels)
        qrels = read_qrels(qrels_path)
        name, split, source = qrels_path.stem, "", {"qrels": str(qrels_path)}
    else:
        dataset = open_dataset(host, args.dataset)
        split = args.split if args.split is not None else DEFAULT_SPLIT
        qrels = dataset.qrels(split)
        name, source = dataset.name, {"dataset": str(args.dataset)}
    run_path = Path(args.run)
    metrics = metric_names(args.metrics)
    options = {
        "relevance_level": args.relevance_level,
        "complete": args.complete,
        "ignore_identical_ids": args.ignore_identical_ids,
    }

    def compute():
        with _rows_progress(run_path.name) as on_rows:
            return evaluate_run_file(
                run_path,
                qrels,
                metrics,
                max_memory=args.max_memory,
                host=host,
                on_rows=on_rows,
                **options,
            )

    _evaluate_and_report(
        host,
        compute,
        kind="eval",
        dataset=name,
        split=split,
        system=args.system or run_path.stem,
        metrics=metrics,
        config={**source, "run": str(run_path)},
        per_query=args.per_query,
        store=args.output,
        **options,
    )
    return 0


@contextmanager
def _rows_progress(name: str) -> Iterator[Callable[[int], None]]:
    """A progress line on stderr (a terminal only) counting the rows evaluated."""
    from rich.console import Console

    stderr = Console(stderr=True)
    done = 0
    with stderr.status(f"evaluating {name} ...") as status:

        def on_rows(rows: int) -> None:
            nonlocal done
            done += rows
            status.update(f"evaluating {name}: {done:,} rows ...")

        yield on_rows


def cmd_retrieve(args: argparse.Namespace) -> int:
    """Index a dataset's corpus with a retriever, search its queries, write the run."""
    from ..core.datasets import open_dataset
    from ..core.host import plugin_manager
    from ..data import write_trec_run
    from ..evaluate import evaluate

    host = plugin_manager()
    dataset = open_dataset(host, args.dataset)
    queries = dataset.queries(args.split)
    params = parse_params(args.param)
    retriever = host.retrievers.create(args.retriever, **params)
    console = stdout_console()
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
        qrels = dataset.qrels(args.split)
        metrics = metric_names(args.metrics)
        _evaluate_and_report(
            host,
            lambda: evaluate(run, qrels, metrics, host=host),
            kind="retrieve",
            dataset=dataset.name,
            split=args.split,
            system=args.system or args.retriever,
            metrics=metrics,
            config={"dataset": str(args.dataset), "retriever": args.retriever, **params},
            per_query=False,
            store=args.results,
        )
    return 0


def _evaluate_and_report(
    host,
    compute: Callable[[], Evaluation],
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
    """Evaluate (``compute``), record the results (observers; the store if given), print
    the tables."""
    from ..core.observe import RunInfo
    from ..core.recorder import ResultsRecorder

    info = RunInfo(
        kind, {**config, "split": split, "metrics": metrics, "system": system, **options}
    )
    with ResultsRecorder(host, info, store or None) as recorder:
        evaluation = compute()
        results = evaluation.to_results(
            system, dataset, split, per_query=per_query, run_id=info.run_id
        )
        recorder.record(results)

    console = stdout_console()
    where = f"{dataset}/{split}" if split else dataset
    if per_query:
        console.print(f"{system} on {where}: per query", highlight=False)
        table = Table()
        table.add_column("query_id")
        for name in evaluation.metrics:
            table.add_column(name, justify="right")
        for i, qid in enumerate(evaluation.query_ids):
            table.add_row(qid, *(f"{evaluation.per_query[m][i]:.4f}" for m in evaluation.metrics))
        console.print(table)
    console.print(f"{system} on {where} ({len(evaluation.query_ids)} queries)", highlight=False)
    rules = {name: evaluation.summaries.get(name, "mean") for name in evaluation.metrics}
    table = Table()
    table.add_column("metric")
    table.add_column("mean" if set(rules.values()) <= {"mean"} else "all", justify="right")
    for name, value in evaluation.mean.items():
        table.add_row(name, f"{value:.0f}" if rules[name] == "sum" else f"{value:.4f}")
    console.print(table)
    for rule, how in (("sum", "summed over queries"), ("exp_mean", "exp of the mean over queries")):
        named = [name for name in evaluation.metrics if rules[name] == rule]
        if named:
            console.print(f"{', '.join(named)}: {how} (as trec_eval)", highlight=False)
    if store:
        console.print(f"appended {results.table.num_rows} rows to {store}")
