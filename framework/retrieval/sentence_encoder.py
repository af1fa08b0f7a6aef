"""A trainable sentence encoder: a transformers model, pooling and optional normalisation.

The layout is sentence-transformers' (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019):
``modules.json`` names a Transformer, a Pooling module (``1_Pooling/config.json``: mean, CLS
or max over the last hidden states) and optionally ``Normalize`` (L2). e(t) = normalize(
pool(H(t), mask)). ``SentenceEncoder.save`` writes that layout with safetensors weights, so a
saved folder loads in sentence-transformers, in transformers (``AutoModel``) and as the
``model`` of rankarena's ``dense`` retriever.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .models import load_pretrained
from .pooling import POOLING_MODES, pool, read_max_length, read_pooling


class SentenceEncoder(torch.nn.Module):
    """``forward(texts) -> [N, H]`` float32 embeddings, with gradients (training mode).

    :param network: a transformers encoder (``AutoModel``).
    :param tokenizer: its tokenizer.
    :param pooling: ``mean``, ``cls`` or ``max``.
    :param normalize: L2-normalise the pooled vectors.
    :param max_length: tokens per text (longer texts are truncated).
    """

    def __init__(self, network, tokenizer, pooling: str, normalize: bool, max_length: int):
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}")
        self.network, self.tokenizer = network, tokenizer
        self.pooling, self.normalize, self.max_length = pooling, normalize, max_length
        self.model_max_length = max_length  # what ``save`` records as max_seq_length
        self.source_folder: Path | None = None

    @classmethod
    def from_pretrained(cls, model: str, max_length: int | None = None) -> SentenceEncoder:
        """Load a folder, a ``registries/models.toml`` alias or a Hugging Face id."""
        from transformers import AutoModel

        source, tokenizer, network = load_pretrained(model, AutoModel)
        folder = Path(source.location) if source.local else None
        pooling, normalize = read_pooling(folder)
        own = read_max_length(folder, tokenizer)
        encoder = cls(network, tokenizer, pooling, normalize, max_length or own)
        encoder.model_max_length, encoder.source_folder = own, folder
        return encoder

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Padded, truncated inputs on the encoder's device."""
        inputs = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {k: v.to(self.device) for k, v in inputs.items()}

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Embeddings of tokenised inputs; pooling and normalisation in float32."""
        hidden = self.network(**inputs).last_hidden_state.float()
        pooled = pool(hidden, inputs["attention_mask"], self.pooling)
        return torch.nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled

    def forward(self, texts: list[str]) -> torch.Tensor:
        return self.embed(self.tokenize(texts))

    def save(self, folder: str | Path) -> Path:
        """Write the sentence-transformers layout (safetensors weights) into ``folder``.

        ``max_seq_length`` is the loaded model's own, whatever ``max_length`` trained with.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.network.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        hidden = int(self.network.config.hidden_size)
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
        ]
        if self.normalize:
            modules.append(
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                }
            )
            (folder / "2_Normalize").mkdir(exist_ok=True)
        (folder / "modules.json").write_text(json.dumps(modules, indent=2))
        (folder / "1_Pooling").mkdir(exist_ok=True)
        pooling = {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": self.pooling == "cls",
            "pooling_mode_mean_tokens": self.pooling == "mean",
            "pooling_mode_max_tokens": self.pooling == "max",
            "pooling_mode_mean_sqrt_len_tokens": False,
        }
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
        bert_config = {"max_seq_length": self.model_max_length, "do_lower_case": False}
        (folder / "sentence_bert_config.json").write_text(json.dumps(bert_config, indent=2))
        source = self.source_folder
        if source is not None and (source / "config_sentence_transformers.json").is_file():
            shutil.copy2(source / "config_sentence_transformers.json", folder)
        return folder
