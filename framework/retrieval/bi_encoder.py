"""The bi-encoder: a transformers model with sentence-transformers pooling, and its fingerprint.

Embeddings follow the model's sentence-transformers configuration (``modules.json``,
``1_Pooling/config.json``): mean or CLS (or max) pooling over the last hidden states, then
L2 normalisation when the model declares a ``Normalize`` module (Reimers & Gurevych,
"Sentence-BERT", EMNLP 2019). The forward pass runs in the dtype asked for; pooling and
normalisation are computed in float32.

Framework code, shared by the ``dense`` retriever, the ``bi-encoder`` reranker, the sharded
encoding of ``rankarena.retrieval.executors`` and the mteb adapter; the framework never imports a
plugin (``docs/design.md``).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .models import load_pretrained
from .pooling import pool, read_max_length, read_pooling

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


class BiEncoder:
    """Encode texts with a transformers model and sentence-transformers pooling.

    :param model: a folder, a ``registries/models.toml`` alias (``minilm``) or a Hugging
        Face id.
    :param device: a torch device string (the host's choice).
    :param max_length: tokens per text; default: the model's ``max_seq_length``.
    :param batch_size: texts per forward pass; texts are sorted by token count first so
        that each batch pads little.
    :param dtype: ``fp32``, ``fp16`` or ``bf16`` for the forward pass.
    """

    def __init__(
        self,
        model: str,
        device: str,
        max_length: int | None,
        batch_size: int,
        dtype: str = "fp32",
    ):
        import torch
        from transformers import AutoModel

        if dtype not in DTYPES:
            raise ParameterError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
        source, self.tokenizer, self.network = load_pretrained(model, AutoModel)
        self.device = torch.device(device)
        self.dtype = dtype
        self.network.to(self.device, dtype=getattr(torch, DTYPES[dtype])).eval()
        folder = Path(source.location) if source.local else None
        self.pooling, self.normalize = read_pooling(folder)
        self.max_length = max_length or read_max_length(folder, self.tokenizer)
        self.batch_size = batch_size
        self.fingerprint = model_fingerprint(folder, source.location)

    def encode(self, texts: list[str], show_progress: bool = False, label: str = "") -> np.ndarray:
        """Embeddings (float32, one row per text, in input order)."""
        import torch
        from rich.progress import track

        out = np.zeros((len(texts), self.network.config.hidden_size), dtype=np.float32)
        order = np.argsort(-self.token_counts(texts), kind="stable")
        starts = range(0, len(texts), self.batch_size)
        for start in track(starts, description=label or "encoding", disable=not show_progress):
            rows = order[start : start + self.batch_size]
            inputs = self.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                hidden = self.network(**inputs).last_hidden_state.float()
                pooled = pool(hidden, inputs["attention_mask"], self.pooling)
                if self.normalize:
                    pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[rows] = pooled.float().cpu().numpy()
        return out

    def token_counts(self, texts: list[str], block: int = 8192) -> np.ndarray:
        """Tokens per text after truncation (the sort key that minimises padding)."""
        counts = np.zeros(len(texts), dtype=np.int64)
        for start in range(0, len(texts), block):
            ids = self.tokenizer(
                texts[start : start + block], truncation=True, max_length=self.max_length
            )["input_ids"]
            counts[start : start + len(ids)] = [len(i) for i in ids]
        return counts


# what ``rankarena train`` writes beside a model (not part of the model)
TRAINER_RECORDS = frozenset({"training.json", "eval-before.json"})


def model_fingerprint(folder: Path | None, location: str) -> str:
    """SHA-256 of the model's weight and config files (the id itself for remote models);
    a trainer's records and checkpoints in the folder are not part of the model.

    Memoised per process on the files' (name, size, modification time), so building
    several retrievers on one model hashes its weights once.
    """
    if folder is None:
        return hashlib.sha256(location.encode()).hexdigest()
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in (".safetensors", ".bin", ".json", ".txt")
        and p.name not in TRAINER_RECORDS
        and not {"checkpoints", ".final.tmp"} & set(p.relative_to(folder).parts)
    )
    signature = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _hash_files(signature)


@functools.lru_cache(maxsize=64)
def _hash_files(signature: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256(b"")
    for name, _, _ in signature:
        path = Path(name)
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
