"""Every built-in component passes the conformance kit (``rankarena.testing``): the kit is
proven on the registries' real components, and a built-in that breaks a rule fails here
under its own name."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

import rankarena
from rankarena.retrieval.models import resolve_model
from rankarena.testing import CHECKS, check_dataset_source
from rankarena.testing.sample import write_beir_folder

HOST = rankarena.plugin_manager()

PARAMS: dict[tuple[str, str], dict] = {
    ("metrics", "iprec_at_recall"): {"level": 0.5},
    ("metrics", "rprec_mult"): {"mult": 1.0},
}
"""Parameters for built-ins with required parameters (beyond a metric's cutoff)."""


def _builtins() -> Iterator[tuple[str, str]]:
    for kind in CHECKS:
        for spec in HOST.registry(kind).specs():
            if spec.plugin.startswith("rankarena.plugins."):
                yield kind, spec.name


BUILTINS = list(_builtins())


def test_the_kit_covers_sixty_plus_builtins():
    assert len(BUILTINS) >= 60, len(BUILTINS)
    assert {kind for kind, _ in BUILTINS} == set(CHECKS)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A small BERT sequence classifier (random weights, MiniLM's tokenizer), saved."""
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm").location)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


class Reorder:
    """A rule-based paraphraser for the ``paraphrase`` perturbation: "A B C" → "C A B"."""

    @rankarena.hookimpl
    def paraphrase(self, texts, seed):
        rng = np.random.default_rng(seed)
        out = []
        for text in texts:
            words = text.split()
            cut = int(rng.integers(1, len(words))) if len(words) > 1 else 0
            out.append(" ".join(words[cut:] + words[:cut]))
        return out


@pytest.mark.parametrize(("kind", "name"), BUILTINS, ids=[f"{k}:{n}" for k, n in BUILTINS])
def test_builtin_passes_the_kit(kind, name, request):
    spec = HOST.registry(kind).get(name)
    params = dict(PARAMS.get((kind, name), {}))
    if kind == "metrics" and getattr(spec.factory, "requires_k", False):
        params["k"] = 5
    if (kind, name) == ("rerankers", "cross-encoder"):
        params["model"] = request.getfixturevalue("tiny_cross_encoder")
    if (kind, name) == ("perturbations", "paraphrase"):
        HOST.register(Reorder(), name="kit-paraphraser")
        request.addfinalizer(lambda: HOST.unregister("kit-paraphraser"))
    passed = CHECKS[kind](name, params, host=HOST)
    assert passed


def test_beir_source_passes_the_kit(tmp_path):
    write_beir_folder(tmp_path / "sample")
    passed = check_dataset_source("beir", str(tmp_path / "sample"), host=HOST)
    assert "run-and-eval" in passed
