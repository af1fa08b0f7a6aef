"""Fine-tune a bi-encoder on mined training examples: ``train(TrainConfig)``.

One step: B rows of ``TrainingExamples`` (query, positive, mined negatives) → embeddings of
the queries and of the batch's distinct documents → ``scores = scale · q·dᵀ`` (cosine for a
normalising model) → ``loss(scores, targets, mask)`` (any registered loss; the batch layout is
in ``rankarena.training.batches``) → AdamW with linear warm-up and linear decay, gradient norm
clipped. With ``chunk_size`` the step uses gradient caching (``rankarena.training.grad_cache``), so
the
batch may exceed memory. Forward passes run under autocast in the first dtype the device's
report lists (bf16/fp16 on capable GPUs; fp32 on the CPU: no autocast), fp16 with a
``GradScaler``.

A sampler that acts during training (``weights`` for a curriculum, ``due``/``refresh`` for
re-mining with the model being trained) is driven by ``rankarena.training.sampler_schedule``.

Before and after training the model is evaluated on the dataset's test split (and on any
extra datasets) with the ``dense`` retriever; both evaluations go into the results store.
The output folder is a sentence-transformers model (safetensors), usable as
``dense``'s ``model`` by path. Checkpoints (model, optimiser, scheduler, RNG states) are
written atomically every ``save_steps`` steps and at the end of each epoch; rerunning the
same command resumes from the latest one and gives the same model as an uninterrupted run.
A checkpoint is safetensors and JSON only (nothing in it is unpickled, so nothing in it can
run code); its configuration fingerprint is compared before any tensor is read, and one
that cannot be read or does not fit the run is skipped with a warning (an older one, else
a fresh start, takes its place).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.devices import choose_dtype
from ..data import atomic_write
from ..data.locks import output_lock
from ..errors import DataFormatError, ParameterError, RankarenaError
from ..retrieval.sentence_encoder import SentenceEncoder
from .batches import LAYOUTS, build_batch, epoch_order
from .grad_cache import cached_backward, uncached_backward
from .sampler_schedule import SamplerSchedule, frozen_encoder

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
STATE_FILE = "trainer_state.json"  # a checkpoint's step, fingerprint, optimiser groups, RNG
TENSORS_FILE = "trainer_state.safetensors"  # its optimiser moments, loss and torch RNG states
CHECKPOINT_FORMAT = 2  # 1: a pickled LEGACY_STATE_FILE (earlier releases; never loaded)
LEGACY_STATE_FILE = "trainer_state.pt"
_STEP = re.compile(r"step-\d+")
_OPTIMIZER_KEY = re.compile(r"optimizer\.(\d+)\.(\w+)")
DONE_FILE = "training.json"


@dataclass
class TrainConfig:
    """Everything a training run depends on (``rankarena train`` options).

    :param dataset: a dataset reference (``rankarena.core.datasets``: a BEIR folder, a
        catalog name or ``SOURCE:ARGUMENT``); trained on ``split``, evaluated on ``eval_split``.
    :param output: the model folder to write (and resume from).
    :param sampler: a registered sampler mining the negatives (``in-batch``: none mined).
    :param examples: a ``TrainingExamples`` Parquet file instead of mining.
    :param num_negatives: mined negatives per row.
    :param loss: a registered loss; ``loss_params`` its parameters.
    :param layout: ``in-batch`` or ``list`` (teacher targets; see ``rankarena.training.batches``).
    :param scale: the loss sees ``scale · cos``, unless the loss applies its own scale
        (``applies_scale = True``: InfoNCE, Soft-InfoNCE, MW, AMCL, soft-label), which then sees
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
        if self.examples and (self.sampler != "in-batch" or self.sampler_params):
            raise ParameterError(
                f"examples {self.examples!r} replace mining, so sampler {self.sampler!r} and "
                "its parameters would be ignored: give one or the other"
            )

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
        from ..core.host import plugin_manager

        config.check()
        self.config, self.log = config, log
        self.host = host or plugin_manager()
        self.report = self.host.select_device(device)
        self.device = torch.device(self.report.name)
        self.precision = choose_dtype(config.precision, self.report, PRECISIONS)
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        self.loss_fn = self.host.losses.create(config.loss, **config.loss_params)
        self.output = Path(config.output)
        self.results_path = Path(config.results) if config.results else None
        self.name = config.name or self.output.name
        self._data_fingerprint: str | None = None
        self.sampler: Any = None  # the sampler object, once load_examples has mined

    # ------------------------------------------------------------------ data
    def load_examples(self):
        """(dataset, TrainingExamples, labelled positives per query) of the training split."""
        from ..core.datasets import open_dataset
        from ..data.training_examples import read_training_examples
        from .mining import MiningContext

        dataset = open_dataset(self.host, self.config.dataset)
        context = MiningContext(
            dataset.corpus,
            dataset.queries(self.config.split),
            dataset.qrels(self.config.split),
            host=self.host,
            seed=self.config.seed,
            device=self.report.name,
            show_progress=self.show_progress,
        )
        self.sampler = None
        if self.config.examples:
            examples = read_training_examples(self.config.examples)
        else:
            started = time.perf_counter()
            sampler = self.host.samplers.create(self.config.sampler, **self.config.sampler_params)
            self.sampler = sampler
            examples = sampler.sample(context, max(self.config.num_negatives, 1))
            self.log(
                f"{self.config.sampler}: {len(examples)} training rows mined in "
                f"{time.perf_counter() - started:.1f} s"
            )
        examples.check_against(context.all_positives)
        return dataset, context, examples

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, model: str, system: str, variant: str, known: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
        """Mean metrics of ``model`` (dense retrieval) on the eval split of every dataset,
        and each dataset's evaluation key.

        The key digests what the means depend on: the model's content, the dataset's corpus
        and queries, the qrels, the metrics and the search depth. ``known`` (``{"keys":
        ..., "means": ...}`` of an earlier call) is reused for every dataset whose key is
        unchanged; any other dataset is evaluated again.
        """
        from ..core.datasets import open_dataset
        from ..core.observe import RunInfo
        from ..core.recorder import ResultsRecorder
        from ..evaluate import evaluate

        if not self.config.eval_split:
            return {}, {}
        known = known or {}
        means: dict[str, dict[str, float]] = {}
        keys: dict[str, str] = {}
        for name in [self.config.dataset, *self.config.eval_datasets]:
            dataset = open_dataset(self.host, name)
            qrels = dataset.qrels(self.config.eval_split)
            depth = search_depth(self.config.metrics, qrels)
            key = self._evaluation_key(model, dataset, depth)
            if known.get("keys", {}).get(dataset.name) == key:
                means[dataset.name] = known["means"][dataset.name]
                keys[dataset.name] = key
                continue
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
            evaluation = evaluate(run, qrels, self.config.metrics, host=self.host)
            info = RunInfo("train-eval", {"model": model, "dataset": dataset.name})
            with ResultsRecorder(self.host, info, self.results_path) as recorder:
                recorder.record(
                    evaluation.to_results(
                        system, dataset.name, self.config.eval_split, variant, run_id=key
                    )
                )
            means[dataset.name] = evaluation.mean
            keys[dataset.name] = key
            shown = ", ".join(f"{k} {v:.4f}" for k, v in evaluation.mean.items())
            self.log(
                f"{variant} {system} on {dataset.name}/{self.config.eval_split}: {shown} "
                f"({time.perf_counter() - started:.0f} s)"
            )
        return means, keys

    def data_fingerprint(self) -> str:
        """Digest of the training data: the dataset's corpus and training queries, the
        training qrels and, if given, the examples file (computed once)."""
        if self._data_fingerprint is None:
            from ..core.datasets import dataset_content, open_dataset
            from ..data.fingerprint import digest_json, file_digest, qrels_fingerprint

            dataset = open_dataset(self.host, self.config.dataset)
            split = self.config.split
            examples = self.config.examples
            self._data_fingerprint = digest_json(
                {
                    "dataset": dataset_content(dataset, split),
                    "qrels": qrels_fingerprint(dataset.qrels(split)),
                    "examples": file_digest(examples) if examples else None,
                }
            )
        return self._data_fingerprint

    def checkpoint_fingerprint(self) -> str:
        """What a checkpoint must match to be resumed: the configuration and the data."""
        from ..data.fingerprint import digest_json

        return digest_json([self.config.fingerprint(), self.data_fingerprint()])

    def _evaluation_key(self, model: str, dataset, depth: int) -> str:
        """Digest of what an evaluation of ``model`` on ``dataset`` depends on."""
        from ..core.datasets import dataset_content
        from ..data.fingerprint import digest_json
        from ..evaluate import evaluation_key

        split = self.config.eval_split
        qrels = dataset.qrels(split)
        factory = self.host.retrievers.get("dense").factory
        content = getattr(factory, "run_key_content", None)
        return digest_json(
            {
                "model": model,
                "model_content": content({"model": model}) if callable(content) else None,
                "dataset": dataset_content(dataset, split),
                "metrics": [evaluation_key(qrels, m) for m in self.config.metrics],
                "depth": depth,
                "batch_size": self.config.eval_batch_size,
            }
        )

    # ------------------------------------------------------------------ training
    def run(self) -> TrainReport:
        """Evaluate, train (resuming if a checkpoint exists), save, evaluate again."""
        with output_lock(self.output, self.log):
            return self._run()

    def _run(self) -> TrainReport:
        if self.results_path is None:
            self.results_path = self.output / "results.parquet"
        done = self.output / DONE_FILE
        if done.is_file():
            record = _read_json(done)
            if record.get("fingerprint") != self.config.fingerprint():
                raise RankarenaError(
                    f"{self.output} holds a model trained with another configuration; "
                    "choose another --output or delete it"
                )
            if record.get("data", self.data_fingerprint()) != self.data_fingerprint():
                raise RankarenaError(
                    f"{self.output} holds a model trained on other data (the dataset, its "
                    f"{self.config.split} qrels or the examples changed since); choose "
                    "another --output or delete it"
                )
            self.log(f"{self.output}: already trained with this configuration")
            return self._reevaluated(record)
        before = self._before()
        seed_everything(self.config.seed)
        _, context, examples = self.load_examples()
        encoder = SentenceEncoder.from_pretrained(self.config.model, self.config.max_length)
        encoder.to(self.device)
        report = self._train(encoder, context, examples)
        report.before = before
        self._save_final(encoder, report)
        report.after, after_keys = self.evaluate(str(self.output.resolve()), self.name, "after")
        self._write_done(report, after_keys)
        return report

    def _reevaluated(self, record: dict[str, Any]) -> TrainReport:
        """The stored report of a finished training, with the before/after evaluations
        redone where their inputs changed (qrels, metrics, datasets) since it was written."""
        report = TrainReport(**record["report"])
        known = {"keys": record.get("after_keys", {}), "means": report.after}
        report.before = self._before()
        report.after, after_keys = self.evaluate(
            str(self.output.resolve()), self.name, "after", known
        )
        if after_keys != known["keys"]:
            self._write_done(report, after_keys)
        return report

    def _before(self) -> dict[str, dict[str, float]]:
        """The start model's evaluation, reused from ``eval-before.json`` for every dataset
        whose evaluation key is unchanged."""
        path = self.output / "eval-before.json"
        known = _read_json(path) if path.is_file() else {}
        if "keys" not in known:  # a record without keys (an older release): evaluate again
            known = {}
        before, keys = self.evaluate(self.config.model, self.name, "before", known)
        if keys != known.get("keys"):
            with atomic_write(path) as handle:
                json.dump({"keys": keys, "means": before}, handle, indent=2)
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

        schedule = SamplerSchedule(self.sampler, examples, total)
        for line in schedule.describe():
            self.log(f"{config.sampler}: {line}")
        query_encoder = frozen_encoder(encoder, config.eval_batch_size)
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
                index = order[offset * config.batch_size :][: config.batch_size]
                batch_rows = schedule.batch_rows(
                    step, [rows[i] for i in index], context, query_encoder, config.num_negatives
                )
                weight = schedule.loss_weight(step, index)
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

                def loss_of(embedded, batch=batch, targets=targets, mask=mask, weight=weight):
                    scores = batch.scores(embedded[0], embedded[1]) * scale
                    return self.loss_fn(scores, targets, mask) * weight

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
        """Write checkpoints/step-N atomically (temp folder, rename), then drop older ones.

        The folder holds the model (safetensors), ``trainer_state.json`` and
        ``trainer_state.safetensors`` (see ``checkpoint_state``): nothing in it is a pickle.
        """
        from safetensors.torch import save_file

        root = self.output / "checkpoints"
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".step-{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        encoder.save(tmp)
        parts = TrainingParts(encoder, optimizer, scheduler, scaler, self.loss_fn)
        record, tensors = checkpoint_state(parts)
        record.update(
            format=CHECKPOINT_FORMAT,
            step=step,
            losses=list(losses),
            fingerprint=self.checkpoint_fingerprint(),
            done_before=list(self._done_before),
        )
        save_file(tensors, str(tmp / TENSORS_FILE))
        (tmp / STATE_FILE).write_text(json.dumps(record))
        final = root / f"step-{step}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in root.glob("step-*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)

    def _checkpoints(self) -> list[Path]:
        """The ``checkpoints/step-N`` folders, newest (highest N) first."""
        root = self.output / "checkpoints"
        found = [p for p in root.glob("step-*") if p.is_dir() and _STEP.fullmatch(p.name)]
        return sorted(found, key=lambda p: int(p.name.split("-")[1]), reverse=True)

    def _resume(self, encoder, optimizer, scheduler, scaler) -> tuple[int, list[float]]:
        """Restore the newest readable checkpoint; (0, []) when there is none.

        The configuration fingerprint (JSON) is compared before any tensor is read: a
        checkpoint of another configuration is a one-line error. An unreadable or
        inconsistent checkpoint (truncated, tampered, or a pickled ``trainer_state.pt`` of
        an earlier release, which is never loaded) is skipped with a warning in favour of an
        older one, else training starts over.
        """
        self._done_before = (0, 0.0)
        parts = TrainingParts(encoder, optimizer, scheduler, scaler, self.loss_fn)
        for folder in self._checkpoints():
            try:
                record = read_checkpoint_record(folder)
                if record["fingerprint"] != self.checkpoint_fingerprint():
                    raise RankarenaError(
                        f"{folder} is a checkpoint of another configuration or other data; "
                        "choose another --output or delete it"
                    )
                state = read_checkpoint(folder, record, parts)
            except UnreadableCheckpoint as exc:
                self.log(f"warning: {folder}: skipped, not a usable checkpoint ({exc})")
                continue
            state.apply(parts)
            self._done_before = (int(record["done_before"][0]), float(record["done_before"][1]))
            self.log(f"resuming from {folder} (step {record['step']})")
            return int(record["step"]), list(record["losses"])
        return 0, []

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

    def _write_done(self, report: TrainReport, after_keys: dict[str, str]) -> None:
        record = {
            "fingerprint": self.config.fingerprint(),
            "data": self.data_fingerprint(),
            "after_keys": after_keys,
            "config": asdict(self.config),
            "device": self.report.name,
            "precision": self.precision,
            "report": asdict(report),
        }
        with atomic_write(self.output / DONE_FILE) as handle:
            json.dump(record, handle, indent=2, default=str)
        shutil.rmtree(self.output / "checkpoints", ignore_errors=True)


class UnreadableCheckpoint(Exception):
    """A checkpoint folder whose files cannot be read or do not fit this run (skipped)."""


@dataclass
class TrainingParts:
    """What a checkpoint saves and restores besides the step count and losses."""

    encoder: SentenceEncoder
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    loss_fn: torch.nn.Module


@dataclass
class RngState:
    """The Python, NumPy, torch CPU and CUDA generator states of a checkpoint."""

    python: tuple
    numpy: tuple
    cpu: torch.Tensor
    cuda: list[torch.Tensor]

    def apply(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.cpu)
        if self.cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self.cuda[: torch.cuda.device_count()])


@dataclass
class CheckpointState:
    """A checkpoint read from disk and checked against the run's parts, ready to apply."""

    folder: Path
    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    loss: dict[str, torch.Tensor]
    rng: RngState

    def apply(self, parts: TrainingParts) -> None:
        """Load every state into ``parts`` and the global generators."""
        try:
            parts.encoder.network.load_state_dict(self.weights, strict=False)
            parts.optimizer.load_state_dict(self.optimizer)
            parts.scheduler.load_state_dict(self.scheduler)
            parts.scaler.load_state_dict(self.scaler)
            parts.loss_fn.load_state_dict(self.loss)
            self.rng.apply()
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise RankarenaError(
                f"{self.folder}: cannot resume from this checkpoint ({_first_line(exc)}); delete it"
            ) from None


def checkpoint_state(parts: TrainingParts) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(JSON record, tensors) of what a resumed run needs besides the model; no pickle.

    Tensors (``trainer_state.safetensors``): the optimiser's moments and step counts
    (``optimizer.<param id>.<name>``), the loss's parameters (``loss.<name>``), the torch
    CPU and CUDA generator states (``rng.cpu``, ``rng.cuda.<device>``). JSON: the
    optimiser's parameter groups, the scheduler's and GradScaler's state dicts, the Python
    and NumPy generator states.
    """
    optimizer = parts.optimizer.state_dict()
    tensors = {
        f"optimizer.{pid}.{name}": _plain(value)
        for pid, entry in optimizer["state"].items()
        for name, value in entry.items()
    }
    tensors |= {f"loss.{name}": _plain(value) for name, value in parts.loss_fn.state_dict().items()}
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for device, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{device}"] = state
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    record = {
        "optimizer_groups": optimizer["param_groups"],
        "scheduler": parts.scheduler.state_dict(),
        "scaler": parts.scaler.state_dict(),
        "rng": {
            "python": [version, list(internal), gauss],
            "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)],
        },
    }
    return record, tensors


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """Detached, on the CPU and contiguous, as safetensors stores tensors."""
    return tensor.detach().cpu().contiguous()


def read_checkpoint_record(folder: Path) -> dict[str, Any]:
    """A checkpoint's JSON record, checked for what resuming reads from it."""
    path = folder / STATE_FILE
    if not path.is_file():
        legacy = ""
        if (folder / LEGACY_STATE_FILE).exists():
            legacy = f"; its pickled {LEGACY_STATE_FILE} (an earlier release's) is never loaded"
        raise UnreadableCheckpoint(f"no {STATE_FILE}{legacy}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or not UTF-8
        raise UnreadableCheckpoint(f"{STATE_FILE}: {_first_line(exc)}") from None
    _check_record(record)
    return record


def _check_record(record: Any) -> None:
    """The record's format, fingerprint, step, losses and done_before are usable."""
    _require(isinstance(record, dict), f"{STATE_FILE} is not a JSON object")
    _require(record.get("format") == CHECKPOINT_FORMAT, f"{STATE_FILE}: unknown format")
    _require(isinstance(record.get("fingerprint"), str), f"{STATE_FILE}: no fingerprint")
    step, losses = record.get("step"), record.get("losses")
    _require(type(step) is int and step > 0, f"{STATE_FILE}: bad step")
    _require(
        isinstance(losses, list) and len(losses) == step and all(map(_is_number, losses)),
        f"{STATE_FILE}: losses are not {step} numbers",
    )
    done = record.get("done_before")
    _require(
        isinstance(done, list) and len(done) == 2 and all(map(_is_number, done)),
        f"{STATE_FILE}: bad done_before",
    )


def read_checkpoint(folder: Path, record: dict[str, Any], parts: TrainingParts) -> CheckpointState:
    """Read a checkpoint's tensors (safetensors) and check everything against ``parts``.

    Nothing is applied: a checkpoint that does not fit raises ``UnreadableCheckpoint``
    before the run's state changes.
    """
    tensors = _read_tensors(folder / TENSORS_FILE)
    weights = _read_tensors(folder / "model.safetensors")
    _check_shapes("model.safetensors", weights, parts.encoder.network.state_dict(), partial=True)
    loss = {k.removeprefix("loss."): v for k, v in tensors.items() if k.startswith("loss.")}
    _check_shapes(TENSORS_FILE, loss, parts.loss_fn.state_dict())
    scaler = parts.scaler.state_dict()
    return CheckpointState(
        folder=folder,
        weights=weights,
        optimizer=_optimizer_state(record, tensors, parts.optimizer),
        scheduler=_checked("scheduler", record.get("scheduler"), parts.scheduler.state_dict()),
        scaler=_checked("scaler", record.get("scaler"), scaler) if scaler else {},
        loss=loss,
        rng=_rng_state(record.get("rng"), tensors),
    )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors on the CPU (safetensors never runs code)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UnreadableCheckpoint(f"{path.name}: {_first_line(exc)}") from None


def _check_shapes(
    name: str,
    found: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    partial: bool = False,
) -> None:
    """``found`` has only keys of ``expected``, each of its shape (all of them, unless
    ``partial``)."""
    unknown = sorted(set(found) - set(expected))
    missing = [] if partial else sorted(set(expected) - set(found))
    shaped = sorted(k for k in set(found) & set(expected) if found[k].shape != expected[k].shape)
    for what, keys in (("unknown", unknown), ("missing", missing), ("wrongly shaped", shaped)):
        _require(not keys, f"{name}: {what} tensor(s) {', '.join(keys[:3])}")


def _optimizer_state(
    record: dict[str, Any], tensors: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """The optimiser's state dict: parameter groups (JSON) checked against the current ones,
    per-parameter tensors checked against the parameters' shapes."""
    current = optimizer.state_dict()["param_groups"]
    saved = record.get("optimizer_groups")
    _require(
        isinstance(saved, list) and len(saved) == len(current), "optimizer: other parameter groups"
    )
    groups = []
    for old, now in zip(saved, current, strict=True):
        _require(
            isinstance(old, dict) and old.get("params") == now["params"],
            "optimizer: other parameters",
        )
        settings = {k: v for k, v in now.items() if k != "params"}
        given = {k: v for k, v in old.items() if k != "params"}
        groups.append({**_checked("optimizer", given, settings), "params": now["params"]})
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        if not key.startswith("optimizer."):
            continue
        match = _OPTIMIZER_KEY.fullmatch(key)
        _require(match is not None and int(match[1]) < len(params), f"optimizer: bad key {key}")
        pid = int(match[1])
        _require(tensor.ndim == 0 or tensor.shape == params[pid].shape, f"optimizer: {key} shape")
        state.setdefault(pid, {})[match[2]] = tensor
    names = {frozenset(entry) for entry in state.values()}
    _require(len(names) <= 1, "optimizer: parameters with different state")
    return {"state": state, "param_groups": groups}


def _checked(what: str, saved: Any, current: Any) -> Any:
    """``saved`` (JSON) with ``current``'s structure and kinds of values, lists made tuples
    where ``current`` has tuples; ``UnreadableCheckpoint`` if it does not fit."""
    _require(_fits(saved, current), f"{STATE_FILE}: the {what} state does not fit this run")
    return _like(saved, current)


def _fits(saved: Any, current: Any) -> bool:
    """Whether a JSON value has ``current``'s structure (keys, lengths) and kinds of values."""
    if isinstance(current, bool) or current is None or isinstance(current, str):
        return type(saved) is type(current)
    if isinstance(current, int | float):
        return _is_number(saved)
    if isinstance(current, list | tuple):
        return (
            isinstance(saved, list)
            and len(saved) == len(current)
            and all(_fits(s, c) for s, c in zip(saved, current, strict=True))
        )
    if isinstance(current, dict):
        return (
            isinstance(saved, dict)
            and set(saved) == set(current)
            and all(_fits(saved[k], v) for k, v in current.items())
        )
    return False


def _like(saved: Any, current: Any) -> Any:
    """``saved`` with tuples where ``current`` has them (JSON only knows lists)."""
    if isinstance(current, dict):
        return {k: _like(saved[k], v) for k, v in current.items()}
    if isinstance(current, list | tuple):
        items = [_like(s, c) for s, c in zip(saved, current, strict=True)]
        return tuple(items) if isinstance(current, tuple) else items
    return saved


def _rng_state(record: Any, tensors: dict[str, torch.Tensor]) -> RngState:
    """The generator states, each tried on a scratch generator first."""
    try:
        version, internal, gauss = record["python"]
        python = (
            int(version),
            tuple(int(x) for x in internal),
            None if gauss is None else float(gauss),
        )
        random.Random().setstate(python)
        kind, keys, position, has_gauss, cached = record["numpy"]
        keys = np.asarray(keys, dtype=np.uint32)
        numpy = (str(kind), keys, int(position), int(has_gauss), float(cached))
        np.random.RandomState().set_state(numpy)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise UnreadableCheckpoint(f"{STATE_FILE}: bad RNG state ({_first_line(exc)})") from None
    cpu = tensors.get("rng.cpu")
    cuda: list[torch.Tensor] = []
    while f"rng.cuda.{len(cuda)}" in tensors:
        cuda.append(tensors[f"rng.cuda.{len(cuda)}"])
    reference = torch.get_rng_state()
    _require(
        cpu is not None and cpu.dtype == torch.uint8 and cpu.shape == reference.shape,
        f"{TENSORS_FILE}: bad torch RNG state",
    )
    _require(all(s.dtype == torch.uint8 for s in cuda), f"{TENSORS_FILE}: bad CUDA RNG state")
    return RngState(python, numpy, cpu, cuda)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise UnreadableCheckpoint(reason)


def _first_line(exc: BaseException) -> str:
    """An exception's first message line (its type name when it has none), at most 200
    characters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


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


def search_depth(metrics: list[str], qrels) -> int:
    """Documents to retrieve per query for ``metrics``: the largest cutoff (at least 100);
    the pooled ``auc@N`` (N = 500 by default) pools each query's top N *non-positives*, so
    the search then goes as many documents deeper as a query has positives at most (never
    a pool cut short by the positives ranked inside it)."""
    from ..evaluate.metric import parse_metric_name

    depth = max([100] + [_metric_depth(m) for m in metrics])
    pooled = [parse_metric_name(m) for m in metrics]
    pooled = [p.get("k", 500) for name, p in pooled if name in ("auc", "pooled_auc")]
    if pooled:
        depth = max(depth, max(pooled) + qrels.most_positives())
    return depth


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON record the trainer wrote; an unreadable one is a one-line error."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(path, f"unreadable trainer record ({exc}); delete it") from None
    if not isinstance(record, dict):
        raise DataFormatError(path, "unreadable trainer record (not a JSON object); delete it")
    return record
