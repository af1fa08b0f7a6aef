"""Gradient caching: contrastive batches larger than memory, with the same gradients.

Gao, Zhang, Han & Callan, "Scaling Deep Contrastive Learning Batch Size under Memory Limited
Setup" (RepL4NLP 2021). The loss L(E) depends on the encoder's parameters θ only through the
embeddings E = f_θ(x) of the batch, so ∂L/∂θ = Σ_i (∂L/∂e_i) · ∂e_i/∂θ. Three passes:

1. embed the batch chunk by chunk without a graph (memory: one chunk's activations);
2. compute the loss on the detached embeddings and backpropagate to them: g_i = ∂L/∂e_i;
3. re-embed each chunk with a graph and backpropagate the surrogate Σ_i g_i · e_i, which
   accumulates exactly Σ_i g_i · ∂e_i/∂θ into the parameters' ``.grad``.

Dropout must draw the same masks in passes 1 and 3: each chunk's random-number state (CPU and
the device's) is captured before pass 1 and restored for pass 3 (``RandomState``). The result
equals running every chunk with a graph at once (``uncached_backward``), which is what the
tests check, at the cost of one extra forward pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import torch


class RandomState:
    """The torch RNG state of the CPU and of ``device`` (CUDA), to replay dropout masks."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        """Run the block from the captured state; the ambient state is restored afterwards."""
        devices = [self.device] if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state(self.cuda, self.device)
            yield


Embed = Callable[[list[str]], torch.Tensor]
LossOfEmbeddings = Callable[[Sequence[torch.Tensor]], torch.Tensor]


def cached_backward(
    embed: Embed,
    groups: Sequence[list[str]],
    loss_fn: LossOfEmbeddings,
    chunk_size: int,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    scale: Callable[[torch.Tensor], torch.Tensor] = lambda loss: loss,
) -> torch.Tensor:
    """Accumulate ∂L/∂θ into the parameters' gradients, ``chunk_size`` texts at a time.

    :param embed: texts → embeddings [n, H] (with a graph when gradients are enabled).
    :param groups: lists of texts (e.g. queries, documents), each embedded in chunks.
    :param loss_fn: the list of group embeddings → a scalar loss.
    :param autocast: a mixed-precision context for the forward passes (the loss runs in
        float32 on the float32 embeddings).
    :param scale: applied to the loss before backward (a ``GradScaler``'s ``scale``).
    :return: the (unscaled) loss, detached.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    chunks: list[list[tuple[list[str], RandomState]]] = []
    detached: list[torch.Tensor] = []
    for texts in groups:  # pass 1: no graph, remember each chunk's RNG state
        parts, states = [], []
        for start in range(0, len(texts), chunk_size):
            piece = texts[start : start + chunk_size]
            states.append((piece, RandomState(device)))
            with torch.no_grad(), autocast():
                parts.append(embed(piece).float())
        chunks.append(states)
        detached.append(torch.cat(parts).requires_grad_())
    loss = loss_fn(detached)  # pass 2 (float32): gradients with respect to the embeddings
    scale(loss).backward()
    for states, reps in zip(chunks, detached, strict=True):  # pass 3: replay with a graph
        start = 0
        for piece, state in states:
            grad = reps.grad[start : start + len(piece)]
            start += len(piece)
            with state.replay(), autocast():
                surrogate = (embed(piece).float() * grad).sum()
            surrogate.backward()
    return loss.detach()


def uncached_backward(
    embed: Embed,
    groups: Sequence[list[str]],
    loss_fn: LossOfEmbeddings,
    chunk_size: int | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    scale: Callable[[torch.Tensor], torch.Tensor] = lambda loss: loss,
) -> torch.Tensor:
    """The plain step: embed everything with a graph (in chunks of ``chunk_size`` if given,
    to match ``cached_backward``'s padding and dropout draws), loss, backward."""
    embedded = []
    for texts in groups:
        size = chunk_size or max(len(texts), 1)
        with autocast():
            parts = [embed(texts[s : s + size]).float() for s in range(0, len(texts), size)]
        embedded.append(torch.cat(parts))
    loss = loss_fn(embedded)
    scale(loss).backward()
    return loss.detach()
