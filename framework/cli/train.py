"""The ``train`` verb: fine-tune a bi-encoder on mined negatives, evaluated before and
after."""

from __future__ import annotations

import argparse

from rich.table import Table

from .arguments import metric_names, non_negative_int, parse_params, positive_int
from .output import stdout_console


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``."""
    p = subparsers.add_parser("train", help="fine-tune a bi-encoder on mined negatives")
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
        sampler_params=parse_params(args.sampler_param),
        examples=args.examples,
        num_negatives=args.num_negatives,
        loss=args.loss,
        loss_params=parse_params(args.loss_param),
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
        metrics=metric_names(args.metrics),
        results=args.results,
        name=args.name,
    )
    host = plugin_manager()
    host.samplers.get(config.sampler)  # unknown names fail before any work
    console = stdout_console()
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
