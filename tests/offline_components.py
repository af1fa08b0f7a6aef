"""Components the tests build themselves because none ship offline: a tiny cross-encoder
(random weights on MiniLM's tokenizer) and a rule-based paraphraser for the ``paraphrase``
hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

import rankarena
from rankarena.retrieval.models import resolve_model


def save_tiny_cross_encoder(folder: Path, num_labels: int = 1) -> Path:
    """Save a 2-layer BERT sequence classifier (hidden size 32, seed 0) with MiniLM's
    tokenizer into ``folder``, a model the ``cross-encoder`` reranker loads."""
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm").location)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=num_labels,
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class ReorderParaphraser:
    """A real (rule-based) paraphraser: "A B C" → "C, A B" style rotations, seeded."""

    @rankarena.hookimpl
    def paraphrase(self, texts, seed):
        rng = np.random.default_rng(seed)
        out = []
        for text in texts:
            words = text.split()
            cut = int(rng.integers(1, len(words))) if len(words) > 1 else 0
            out.append(" ".join(words[cut:] + words[:cut]))
        return out
