"""Pooling token states into one vector per text, and reading a sentence-transformers
folder's pooling and length settings (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019).

Torch is not imported here: ``pool`` works through the tensors' own methods, so that the
modules which only read these settings (``rankarena.retrieval.bi_encoder`` and, through it,
the plugin API) load without torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

POOLING_MODES = ("mean", "cls", "max")


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """Pool token states [B, T, H] with the attention mask [B, T] into [B, H]."""
    if mode == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).max(dim=1).values
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def read_pooling(folder: Path | None) -> tuple[str, bool]:
    """(pooling mode, normalise?) from a sentence-transformers folder; (mean, False) else."""
    if folder is None or not (folder / "modules.json").is_file():
        return "mean", False
    modules = json.loads((folder / "modules.json").read_text())
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
    mode = "mean"
    for module in modules:
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((folder / module["path"] / "config.json").read_text())
            if config.get("pooling_mode_cls_token"):
                mode = "cls"
            elif config.get("pooling_mode_max_tokens"):
                mode = "max"
    return mode, normalize


def read_max_length(folder: Path | None, tokenizer) -> int:
    """The model's ``max_seq_length`` (sentence-transformers), else the tokenizer's, ≤ 512."""
    if folder is not None and (folder / "sentence_bert_config.json").is_file():
        config = json.loads((folder / "sentence_bert_config.json").read_text())
        if config.get("max_seq_length"):
            return int(config["max_seq_length"])
    return int(min(getattr(tokenizer, "model_max_length", 512) or 512, 512))
