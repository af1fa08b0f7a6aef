"""Training batches: which texts a step encodes, and the targets and mask its loss sees.

A batch is ``B`` rows of ``TrainingExamples`` (query, positive, mined negatives). Its distinct
documents (every row's positive and negatives) are encoded once; the loss then sees

* ``layout="in-batch"`` (default): ``scores[B, D]`` over all ``D`` distinct documents of the
  batch, so every query is contrasted with its own negatives *and* with the other rows'
  positives and negatives (Henderson et al. 2017; Karpukhin et al. 2020, "Dense Passage
  Retrieval", in-batch negatives with hard negatives). ``targets[b, d] = 1`` for the row's own
  positive, 0 otherwise. A document that is a *labelled* positive of row b's query but not the
  row's own positive (the same query twice in a batch, or a document relevant to two queries)
  is masked out of row b: it is not a negative.
* ``layout="list"``: ``scores[B, 1 + n]`` over the row's own positive and its ``n`` negatives
  only, with ``targets`` the mining model's scores (``positive_score``, ``negative_scores``):
  teacher targets for distillation losses (MarginMSE, KL, CPRD). Missing negatives are masked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ParameterError

LAYOUTS = ("in-batch", "list")


@dataclass
class TrainBatch:
    """One step's texts and loss inputs (see the module docstring).

    ``columns[b, j]`` indexes ``doc_texts`` for entry ``j`` of row ``b``; the scores the loss
    sees are ``q[b] · d[columns[b, j]]``.
    """

    query_texts: list[str]
    doc_texts: list[str]
    columns: torch.Tensor  # [B, L] long
    targets: torch.Tensor  # [B, L] float
    mask: torch.Tensor  # [B, L] bool

    def scores(self, queries: torch.Tensor, docs: torch.Tensor) -> torch.Tensor:
        """``scores[b, j] = queries[b] · docs[columns[b, j]]`` (a full product when in-batch)."""
        full = queries @ docs.T
        return torch.gather(full, 1, self.columns.to(full.device))


def build_batch(
    rows: Sequence[Mapping],
    query_texts: Mapping[str, str],
    doc_texts: Mapping[str, str],
    positives: Mapping[str, set[str]],
    num_negatives: int,
    layout: str = "in-batch",
) -> TrainBatch:
    """Assemble a ``TrainBatch`` from ``TrainingExamples`` rows (dicts).

    :param positives: every labelled positive per query (masked out as in-batch negatives).
    :param num_negatives: mined negatives used per row (the first ones, best first).
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"unknown batch layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    docs: dict[str, int] = {}
    per_row: list[list[str]] = []
    for row in rows:
        ids = [row["positive_id"], *list(row["negative_ids"])[:num_negatives]]
        per_row.append(ids)
        for doc in ids:
            docs.setdefault(doc, len(docs))
    doc_ids = list(docs)
    b = len(rows)
    if layout == "in-batch":
        columns = torch.arange(len(doc_ids)).expand(b, -1).clone()
        targets = torch.zeros(b, len(doc_ids))
        mask = torch.ones(b, len(doc_ids), dtype=torch.bool)
        for i, row in enumerate(rows):
            own = docs[row["positive_id"]]
            for doc in positives.get(row["query_id"], ()):
                if doc in docs:
                    mask[i, docs[doc]] = False
            mask[i, own] = True
            targets[i, own] = 1.0
    else:
        width = 1 + num_negatives
        columns = torch.zeros(b, width, dtype=torch.long)
        targets = torch.zeros(b, width)
        mask = torch.zeros(b, width, dtype=torch.bool)
        for i, (row, ids) in enumerate(zip(rows, per_row, strict=True)):
            if row.get("positive_score") is None:
                raise ParameterError(
                    f"query {row['query_id']!r}: layout 'list' needs teacher scores "
                    "(positive_score), which in-batch and random samplers do not give"
                )
            teacher = [row["positive_score"], *list(row["negative_scores"])[:num_negatives]]
            columns[i, : len(ids)] = torch.tensor([docs[d] for d in ids])
            targets[i, : len(ids)] = torch.tensor(teacher, dtype=torch.float32)
            mask[i, : len(ids)] = True
    return TrainBatch(
        [query_texts[row["query_id"]] for row in rows],
        [doc_texts[d] for d in doc_ids],
        columns,
        targets,
        mask,
    )


def epoch_order(n_rows: int, seed: int, epoch: int) -> np.ndarray:
    """The rows' order in ``epoch``: a permutation seeded by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(n_rows)
