"""Fine-tune a bi-encoder on mined training examples: ``train(TrainConfig)``.

One step: B rows of ``TrainingExamples`` (query, positive, mined negatives) → embeddings of
the queries and of the batch's distinct documents → ``scores = scale · q·dᵀ`` (cosine for a
normalising model) → ``loss(scores, targets, mask)`` (any registered loss; the batch layout is
in ``rankarena.train_batches``) → AdamW with linear warm-up and linear decay, gradient norm
clipped. With ``chunk_size`` the step uses gradient caching (``rankarena.grad_cache``), so the
batch may exceed memory. Forward passes run under autocast in the first dtype the device's
report lists (bf16/fp16 on capable GPUs; fp32 on the CPU: no autocast), fp16 with a
``GradScaler``.

Before and after training the model is evaluated on the dataset's test split (and on any
extra datasets) with the ``dense`` retriever; both evaluations go into the results store.
The output folder is a sentence-transformers model (safetensors), usable as
``dense``'s ``model`` by path. Checkpoints (model, optimiser, scheduler, RNG states) are
written atomically every ``save_steps`` steps and at the end of each epoch; rerunning the
same command resumes from the latest one and gives the same model as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rankarena.data import atomic_write
from rankarena.devices import choose_dtype
from rankarena.errors import ParameterError, RankarenaError
from rankarena.grad_cache import cached_backward, uncached_backward
from rankarena.sentence_encoder import SentenceEncoder
from rankarena.train_batches import LAYOUTS, build_batch, epoch_order

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
STATE_FILE = "trainer_state.pt"
DONE_FILE = "training.json"


@dataclass
class TrainConfig:
    """Everything a training run depends on (``rankarena train`` options).

    :param dataset: BEIR folder or catalog name; trained on ``split``, evaluated on ``eval_split``.
    :param output: the model folder to write (and resume from).
    :param sampler: a registered sampler mining the negatives (``in-batch``: none mined).
    :param examples: a ``TrainingExamples`` Parquet file instead of mining.
    :param num_negatives: mined negatives per row.
    :param loss: a registered loss; ``loss_params`` its parameters.
    :param layout: ``in-batch`` or ``list`` (teacher targets; see ``rankarena.train_batches``).
    :param scale: the loss sees ``scale · cos``, unless the loss applies its own scale
        (``applies_scale = True``: InfoNCE, Soft-InfoNCE, AMCL, soft-label), which then sees
        the raw similarities.
    :param chunk_size: texts per forward pass with gradient caching (None: no caching).
    :param max_length: tokens per text during training (default: the model's).
    :param precision: ``auto`` (the device report's first dtype), ``fp32``, ``bf16``, ``fp16``.
    :param eval_datasets: further datasets evaluated (on ``eval_split``) before and after.
    :param max_steps: stop after this many optimiser steps (benchmarks, smoke tests).
    """

    dataset: str
    output: str
    split: str = "train"
    model: str = "minilm"
    sampler: str = "in-batch"
    sampler_params: dict[str, Any] = field(default_factory=dict)
    examples: str | None = None
    num_negatives: int = 1
    loss: str = "infonce"
    loss_params: dict[str, Any] = field(default_factory=dict)
    layout: str = "in-batch"
    scale: float = 20.0
    epochs: int = 1
    batch_size: int = 32
    chunk_size: int | None = None
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    max_length: int | None = None
    precision: str = "auto"
    seed: int = 0
    save_steps: int = 0
    max_steps: int | None = None
    eval_split: str | None = "test"
    eval_datasets: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=lambda: ["ndcg@10", "recall@100"])
    results: str | None = None
    name: str | None = None
    eval_batch_size: int = 64

    def check(self) -> None:
        """One-line errors for values no run could use."""
        for what in ("epochs", "batch_size"):
            if getattr(self, what) < 1:
                raise ParameterError(f"{what} must be >= 1, got {getattr(self, what)}")
        if self.num_negatives < 0:
            raise ParameterError(f"num_negatives must be >= 0, got {self.num_negatives}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ParameterError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.layout not in LAYOUTS:
            raise ParameterError(f"unknown layout {self.layout!r}; valid: {', '.join(LAYOUTS)}")
        if self.precision != "auto" and self.precision not in PRECISIONS:
            raise ParameterError(
                f"unknown precision {self.precision!r}; valid: auto, {', '.join(PRECISIONS)}"
            )
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ParameterError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ParameterError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise ParameterError(f"scale must be positive, got {self.scale}")

    def fingerprint(self) -> str:
        """Hash of what determines the trained weights (not eval or output settings)."""
        skip = {"output", "eval_split", "eval_datasets", "metrics", "results", "name"}
        skip |= {"eval_batch_size", "save_steps"}
        kept = {k: v for k, v in asdict(self).items() if k not in skip}
        return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class TrainReport:
    """What a run did: steps, timing, losses, and the before/after means per dataset."""

    steps: int
    examples: int
    train_seconds: float
    examples_per_second: float
    losses: list[float]
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    output: str
    resumed_from: int = 0


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Runs one ``TrainConfig`` (see the module docstring)."""

    def __init__(
        self,
        config: TrainConfig,
        host=None,
        device: str | None = None,
        log: Callable[[str], None] = print,
        show_progress: bool | None = None,
    ):
        import rankarena

        config.check()
        self.config, self.log = config, log
        self.host = host or rankarena.plugin_manager()
        self.report = self.host.select_device(device)
        self.device = torch.device(self.report.name)
        self.precision = choose_dtype(config.precision, self.report, PRECISIONS)
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        self.loss_fn = self.host.losses.create(config.loss, **config.loss_params)
        self.output = Path(config.output)
        self.results_path = Path(config.results) if config.results else None
        self.name = config.name or self.output.name

    # ------------------------------------------------------------------ data
    def load_examples(self):
        """(dataset, TrainingExamples, labelled positives per query) of the training split."""
        from rankarena.catalog import resolve_dataset
        from rankarena.mining import MiningContext
        from rankarena.training_examples import read_training_examples

        path = resolve_dataset(self.config.dataset)
        dataset = self.host.datasets.create("beir", path=str(path))
        context = MiningContext(
            dataset.corpus,
            dataset.queries(self.config.split),
            dataset.qrels(self.config.split),
            host=self.host,
            seed=self.config.seed,
            device=self.report.name,
            show_progress=self.show_progress,
        )
        if self.config.examples:
            examples = read_training_examples(self.config.examples)
        else:
            started = time.perf_counter()
            sampler = self.host.samplers.create(self.config.sampler, **self.config.sampler_params)
            examples = sampler.sample(context, max(self.config.num_negatives, 1))
            self.log(
                f"{self.config.sampler}: {len(examples)} training rows mined in "
                f"{time.perf_counter() - started:.1f} s"
            )
        examples.check_against(context.all_positives)
        return dataset, context, examples

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model: str, system: str, variant: str) -> dict[str, dict[str, float]]:
        """Mean metrics of ``model`` (dense retrieval) on the eval split of every dataset."""
        from rankarena.catalog import resolve_dataset
        from rankarena.evaluate import evaluate
        from rankarena.observe import RunInfo

        if not self.config.eval_split:
            return {}
        means: dict[str, dict[str, float]] = {}
        depth = max([100] + [_metric_depth(m) for m in self.config.metrics])
        for name in [self.config.dataset, *self.config.eval_datasets]:
            dataset = self.host.datasets.create("beir", path=str(resolve_dataset(name)))
            started = time.perf_counter()
            retriever = self.host.retrievers.create(
                "dense",
                model=model,
                device=self.report.name,
                batch_size=self.config.eval_batch_size,
                show_progress=self.show_progress,
            ).index(dataset.corpus)
            queries = dataset.queries(self.config.eval_split)
            run = retriever.search(queries, k=depth)
            evaluation = evaluate(
                run, dataset.qrels(self.config.eval_split), self.config.metrics, host=self.host
            )
            info = RunInfo("train-eval", {"model": model, "dataset": dataset.name})
            results = evaluation.to_results(
                system, dataset.name, self.config.eval_split, variant, run_id=info.run_id
            )
            if self.results_path is not None:
                results.append_to(self.results_path)
            means[dataset.name] = evaluation.mean
            shown = ", ".join(f"{k} {v:.4f}" for k, v in evaluation.mean.items())
            self.log(
                f"{variant} {system} on {dataset.name}/{self.config.eval_split}: {shown} "
                f"({time.perf_counter() - started:.0f} s)"
            )
        return means

    # ------------------------------------------------------------------ training
    def run(self) -> TrainReport:
        """Evaluate, train (resuming if a checkpoint exists), save, evaluate again."""
        done = self.output / DONE_FILE
        if done.is_file():
            record = json.loads(done.read_text())
            if record.get("fingerprint") == self.config.fingerprint():
                self.log(f"{self.output}: already trained with this configuration")
                return TrainReport(**record["report"])
            raise RankarenaError(
                f"{self.output} holds a model trained with another configuration; "
                "choose another --output or delete it"
            )
        if self.results_path is None:
            self.results_path = self.output / "results.parquet"
        before = self._before()
        seed_everything(self.config.seed)
        _, context, examples = self.load_examples()
        encoder = SentenceEncoder.from_pretrained(self.config.model, self.config.max_length)
        encoder.to(self.device)
        report = self._train(encoder, context, examples)
        report.before = before
        self._save_final(encoder, report)
        report.after = self.evaluate(str(self.output.resolve()), self.name, "after")
        self._write_done(report)
        return report

    def _before(self) -> dict[str, dict[str, float]]:
        path = self.output / "eval-before.json"
        if path.is_file():
            return json.loads(path.read_text())
        before = self.evaluate(self.config.model, self.name, "before")
        with atomic_write(path) as handle:
            json.dump(before, handle, indent=2)
        return before

    def _train(self, encoder: SentenceEncoder, context, examples) -> TrainReport:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from transformers import get_linear_schedule_with_warmup

        config = self.config
        rows = examples.table.to_pylist()
        if not rows:
            raise RankarenaError("no training rows (does the split have positives?)")
        per_epoch = math.ceil(len(rows) / config.batch_size)
        total = per_epoch * config.epochs
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        self.loss_fn.to(self.device)
        groups = _parameter_groups(encoder, config.weight_decay)
        extra = [p for p in self.loss_fn.parameters() if p.requires_grad]  # e.g. AMCL's τ
        if extra:
            groups.append({"params": extra, "weight_decay": 0.0})
        fused = self.device.type in ("cpu", "cuda", "mps")  # one kernel per step, same maths
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, fused=fused)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * total), total
        )
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        step, losses = self._resume(encoder, optimizer, scheduler, scaler)
        resumed_from = step
        prior_examples, prior_seconds = self._done_before
        queries = dict(
            zip(context.queries.ids, context.queries.table.column("text").to_pylist(), strict=True)
        )
        docs = dict(zip(context.corpus.ids, context.corpus.texts(with_title=True), strict=True))
        own_scale = getattr(self.loss_fn, "applies_scale", False)
        scale = 1.0 if own_scale else config.scale
        dtype = PRECISIONS[self.precision]
        device_type = self.device.type

        def autocast():
            if dtype is None:
                return contextlib.nullcontext()
            return torch.autocast(device_type, dtype=dtype)

        encoder.train()
        started, trained = time.perf_counter(), 0
        columns = [TextColumn("[progress.description]{task.description}"), BarColumn()]
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        columns += [TextColumn("loss {task.fields[loss]}")]
        with Progress(*columns, disable=not self.show_progress) as progress:
            task = progress.add_task("training", total=total, completed=step, loss="-")
            while step < total:
                epoch, offset = divmod(step, per_epoch)
                order = epoch_order(len(rows), config.seed, epoch)
                batch_rows = [
                    rows[i] for i in order[offset * config.batch_size :][: config.batch_size]
                ]
                batch = build_batch(
                    batch_rows,
                    queries,
                    docs,
                    context.all_positives,
                    config.num_negatives if not batch_rows[0]["in_batch"] else 0,
                    config.layout,
                )
                targets = batch.targets.to(self.device)
                mask = batch.mask.to(self.device)

                def loss_of(embedded, batch=batch, targets=targets, mask=mask):
                    scores = batch.scores(embedded[0], embedded[1]) * scale
                    return self.loss_fn(scores, targets, mask)

                groups = [batch.query_texts, batch.doc_texts]
                if config.chunk_size:
                    loss = cached_backward(
                        encoder, groups, loss_of, config.chunk_size, self.device,
                        autocast, scaler.scale,
                    )  # fmt: skip
                else:
                    loss = uncached_backward(
                        encoder, groups, loss_of, autocast=autocast, scale=scaler.scale
                    )
                if not torch.isfinite(loss):
                    raise RankarenaError(f"step {step + 1}: the loss is {loss.item()} (not finite)")
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(encoder.parameters(), config.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                trained += len(batch_rows)
                losses.append(float(loss))
                progress.update(task, advance=1, loss=f"{float(loss):.4f}")
                end_of_epoch = step % per_epoch == 0 or step == total
                if end_of_epoch:
                    recent = losses[-(offset + 1) :]
                    self.log(
                        f"epoch {epoch + 1}/{config.epochs}: step {step}/{total}, "
                        f"mean loss {sum(recent) / len(recent):.4f}"
                    )
                if (config.save_steps and step % config.save_steps == 0) or end_of_epoch:
                    self._done_before = (
                        prior_examples + trained,
                        prior_seconds + time.perf_counter() - started,
                    )
                    self._checkpoint(encoder, optimizer, scheduler, scaler, step, losses)
        trained += prior_examples  # a resumed run reports the whole training
        seconds = time.perf_counter() - started + prior_seconds
        return TrainReport(
            steps=step,
            examples=trained,
            train_seconds=seconds,
            examples_per_second=trained / seconds if seconds > 0 else 0.0,
            losses=losses,
            before={},
            after={},
            output=str(self.output),
            resumed_from=resumed_from,
        )

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint(self, encoder, optimizer, scheduler, scaler, step: int, losses) -> None:
        """Write checkpoints/step-N atomically (temp folder, rename), then drop older ones."""
        root = self.output / "checkpoints"
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        encoder.save(tmp)
        state = {
            "step": step,
            "losses": losses,
            "fingerprint": self.config.fingerprint(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "loss": self.loss_fn.state_dict(),
            "done_before": self._done_before,
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }
        torch.save(state, tmp / STATE_FILE)
        final = root / f"step-{step}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in root.glob("step-*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)

    def _latest_checkpoint(self) -> Path | None:
        root = self.output / "checkpoints"
        found = sorted(root.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        found = [p for p in found if (p / STATE_FILE).is_file()]
        return found[-1] if found else None

    def _resume(self, encoder, optimizer, scheduler, scaler) -> tuple[int, list[float]]:
        latest = self._latest_checkpoint()
        self._done_before = (0, 0.0)
        if latest is None:
            return 0, []
        state = torch.load(latest / STATE_FILE, weights_only=False, map_location="cpu")
        if state["fingerprint"] != self.config.fingerprint():
            raise RankarenaError(
                f"{latest} is a checkpoint of another configuration; choose another --output "
                "or delete it"
            )
        from safetensors.torch import load_file

        weights = load_file(str(latest / "model.safetensors"), device=str(self.device))
        encoder.network.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        self.loss_fn.load_state_dict(state["loss"])
        self._done_before = tuple(state["done_before"])
        rng = state["rng"]
        random.setstate(rng["python"])
        np.random.set_state(rng["numpy"])
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.log(f"resuming from {latest} (step {state['step']})")
        return int(state["step"]), list(state["losses"])

    def _save_final(self, encoder: SentenceEncoder, report: TrainReport) -> None:
        """The model files into the output folder, each replaced atomically."""
        tmp = self.output / ".final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        encoder.save(tmp)
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                target = self.output / path.relative_to(tmp)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
        shutil.rmtree(tmp, ignore_errors=True)
        self.log(
            f"trained {report.steps} steps ({report.examples_per_second:.1f} examples/s); "
            f"model in {self.output}"
        )

    def _write_done(self, report: TrainReport) -> None:
        record = {
            "fingerprint": self.config.fingerprint(),
            "config": asdict(self.config),
            "device": self.report.name,
            "precision": self.precision,
            "report": asdict(report),
        }
        with atomic_write(self.output / DONE_FILE) as handle:
            json.dump(record, handle, indent=2, default=str)
        shutil.rmtree(self.output / "checkpoints", ignore_errors=True)


def _parameter_groups(encoder: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases and LayerNorm weights (as transformers does)."""
    decay, plain = [], []
    for name, param in encoder.named_parameters():
        if not param.requires_grad:
            continue
        (plain if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def _metric_depth(metric: str) -> int:
    _, _, k = metric.partition("@")
    return int(k) if k.isdigit() else 100
