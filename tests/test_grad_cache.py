"""Gradient caching gives the gradients of the plain step (rankarena.training.grad_cache)."""

from __future__ import annotations

import pytest
import torch

from rankarena.core.host import plugin_manager
from rankarena.retrieval.sentence_encoder import SentenceEncoder
from rankarena.training.grad_cache import RandomState, cached_backward, uncached_backward

QUERIES = [
    "what lowers blood pressure",
    "vitamin d and bone density in older adults",
    "does aspirin prevent heart attacks",
    "effects of sleep deprivation",
    "gene expression in tumour cells",
]
DOCS = [
    "Salt restriction lowers systolic blood pressure in hypertensive patients.",
    "Vitamin D supplements had no effect on bone mineral density in a large trial.",
    "Low-dose aspirin reduced the risk of a first myocardial infarction in men.",
    "One night without sleep impaired attention and working memory.",
    "Tumour cells over-express genes of the glycolytic pathway.",
    "Coffee consumption was not associated with mortality.",
    "Exercise training improved insulin sensitivity.",
]


def tiny_encoder(dropout: float) -> SentenceEncoder:
    """A real (randomly initialised) BERT in float64 with the MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rankarena.retrieval.models import resolve_model

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("minilm").location)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    network = BertModel(config, add_pooling_layer=False).double()
    return SentenceEncoder(network, tokenizer, "mean", True, 32)


def infonce_of(embedded):
    q, d = embedded
    scores = q @ d.T
    targets = torch.zeros_like(scores)
    targets[torch.arange(len(q)), torch.arange(len(q))] = 1.0
    return plugin_manager().losses.create("infonce")(scores, targets)


def gradients(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    encoder.zero_grad(set_to_none=True)
    return grads


def assert_same(a: dict, b: dict, atol: float, rtol: float = 0.0) -> None:
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=atol, rtol=rtol, msg=name)


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_cached_equals_uncached_with_dropout(chunk):
    """Dropout on: the cached step replays each chunk's masks, so it equals the plain step
    that embeds the same chunks with a graph (float64, to 1e-12)."""
    encoder = tiny_encoder(dropout=0.3).train()
    groups = [QUERIES, DOCS]
    torch.manual_seed(7)
    plain_loss = uncached_backward(encoder, groups, infonce_of, chunk_size=chunk)
    plain = gradients(encoder)
    torch.manual_seed(7)
    cached_loss = cached_backward(encoder, groups, infonce_of, chunk, torch.device("cpu"))
    cached = gradients(encoder)
    torch.testing.assert_close(plain_loss, cached_loss, atol=1e-12, rtol=0)
    assert_same(plain, cached, atol=1e-12)


def test_cached_equals_whole_batch_without_dropout():
    """No dropout: caching in chunks of 2 equals one forward over the whole batch (padding
    differs between chunks and the whole batch; float64 leaves ~1e-10)."""
    encoder = tiny_encoder(dropout=0.0).eval()
    groups = [QUERIES, DOCS]
    whole_loss = uncached_backward(encoder, groups, infonce_of)
    whole = gradients(encoder)
    cached_loss = cached_backward(encoder, groups, infonce_of, 2, torch.device("cpu"))
    cached = gradients(encoder)
    torch.testing.assert_close(whole_loss, cached_loss, atol=1e-10, rtol=0)
    assert_same(whole, cached, atol=1e-9)
    assert any(g.abs().max() > 1e-6 for g in whole.values())  # the test compares something


def test_cached_equals_uncached_on_minilm():
    """The real model in float32 (its dropout on): same gradients to float32 precision."""
    encoder = SentenceEncoder.from_pretrained("minilm", max_length=64).train()
    groups = [QUERIES, DOCS]
    torch.manual_seed(3)
    uncached_backward(encoder, groups, infonce_of, chunk_size=3)
    plain = gradients(encoder)
    torch.manual_seed(3)
    cached_backward(encoder, groups, infonce_of, 3, torch.device("cpu"))
    cached = gradients(encoder)
    assert_same(plain, cached, atol=2e-6, rtol=1e-4)


def test_random_state_replays_and_restores():
    state = RandomState(torch.device("cpu"))
    first = torch.rand(4)
    after = torch.get_rng_state()
    with state.replay():
        again = torch.rand(4)
    assert torch.equal(first, again)
    assert torch.equal(torch.get_rng_state(), after)  # the ambient stream is not rewound


def test_chunk_size_must_be_positive():
    encoder = tiny_encoder(dropout=0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        cached_backward(encoder, [QUERIES, DOCS], infonce_of, 0, torch.device("cpu"))
