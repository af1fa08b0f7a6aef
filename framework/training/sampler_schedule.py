"""What a sampler asks of the training loop beyond its mined rows: curriculum weights and
re-mining during training.

A sampler may offer either (duck-typed, documented in docs/hooks.md):

* ``weights(step, total_steps, examples) -> ndarray``: one weight per row of ``examples``
  at ``step`` (the ``curriculum`` sampler: MacAvaney et al., "Training Curricula for Open
  Domain Answer Re-Ranking", SIGIR 2020). Each step's loss is multiplied by the mean weight
  of its batch's rows, as the authors' trainer does (OpenNIR ``pairwise_cl.py``:
  ``loss * weight.mean()``).
* ``due(step) -> bool`` and ``refresh(context, query_encoder, num_negatives, query_ids)``:
  at every step where ``due(step)`` holds, the batch's queries are mined again with the
  model being trained as query encoder, and the batch trains on those negatives (the
  ``dynamic`` sampler: ADORE, Zhan et al., SIGIR 2021, which re-retrieves at every step);
  at other steps the batch keeps the negatives mined before training. The re-mining uses
  only the step's own model, so a resumed run re-mines exactly as an uninterrupted one.

Without a sampler (an examples file) or with a sampler offering neither, training is the
plain loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ParameterError


class SamplerSchedule:
    """The training loop's view of a sampler's ``weights`` and ``due``/``refresh``."""

    def __init__(self, sampler: Any, examples: Any, total_steps: int):
        self.sampler, self.examples, self.total_steps = sampler, examples, total_steps
        self.weighs = callable(getattr(sampler, "weights", None))
        self.remines = callable(getattr(sampler, "due", None)) and callable(
            getattr(sampler, "refresh", None)
        )

    def describe(self) -> list[str]:
        """One log line per behaviour in force."""
        lines = []
        if self.weighs:
            lines.append("curriculum: each step's loss × the mean weight of its batch's rows")
        if self.remines:
            lines.append("re-mining: due steps' batches mined again with the model being trained")
        return lines

    def loss_weight(self, step: int, batch_index: Sequence[int]) -> float:
        """The mean of the sampler's weights at ``step`` over the batch's rows (1 without
        curriculum)."""
        if not self.weighs:
            return 1.0
        weights = np.asarray(
            self.sampler.weights(step, self.total_steps, self.examples), dtype=np.float64
        )
        if weights.shape != (len(self.examples),) or not np.isfinite(weights).all():
            raise ParameterError(
                f"sampler weights at step {step}: expected {len(self.examples)} finite "
                f"values, got shape {weights.shape}"
            )
        return float(weights[np.asarray(batch_index, dtype=np.int64)].mean())

    def batch_rows(
        self,
        step: int,
        rows: list[dict[str, Any]],
        context: Any,
        query_encoder: Callable[[list[str]], np.ndarray],
        num_negatives: int,
    ) -> list[dict[str, Any]]:
        """``rows``, their negatives mined again with ``query_encoder`` if the sampler says
        ``step`` is due (rows without mined negatives, ``in-batch``, are kept)."""
        if not self.remines or not rows or rows[0]["in_batch"] or not self.sampler.due(step):
            return rows
        queries = list(dict.fromkeys(row["query_id"] for row in rows))
        fresh = self.sampler.refresh(context, query_encoder, num_negatives, query_ids=queries)
        fresh.check_against(context.all_positives)
        by_pair = {(r["query_id"], r["positive_id"]): r for r in fresh.table.to_pylist()}
        missing = [r for r in rows if (r["query_id"], r["positive_id"]) not in by_pair]
        if missing:
            raise ParameterError(
                f"sampler re-mining at step {step}: no row for query "
                f"{missing[0]['query_id']!r}, positive {missing[0]['positive_id']!r}"
            )
        return [by_pair[r["query_id"], r["positive_id"]] for r in rows]


def frozen_encoder(encoder: torch.nn.Module, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    """``texts -> [n, dim]`` float32 embeddings from ``encoder`` as it is now: evaluation
    mode (no dropout, so no random numbers drawn), no gradients, then back to its mode."""

    def encode(texts: list[str]) -> np.ndarray:
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                parts = [
                    encoder(list(texts[i : i + batch_size])).float().cpu()
                    for i in range(0, len(texts), batch_size)
                ]
        finally:
            encoder.train(was_training)
        return torch.cat(parts).numpy() if parts else np.zeros((0, 0), np.float32)

    return encode
