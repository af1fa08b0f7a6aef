"""Plain-Python pieces of the loss tests' loop references: random graded batches, the
valid items of each row, and the softmax KL divergence the distillation losses compute."""

from __future__ import annotations

import math

import torch


def random_graded_batch(seed: int, b: int = 4, n: int = 6, grades: int = 3, dtype=torch.float64):
    """``(scores, targets, mask)``: random scores, graded targets with ties, a random mask
    with one fully valid row (the first) and one fully masked row (the last)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(b, n, generator=g, dtype=dtype)
    targets = torch.randint(0, grades, (b, n), generator=g).to(dtype)  # ties included
    mask = torch.rand(b, n, generator=g) > 0.25
    mask[-1] = False  # an all-masked row
    mask[0] = True
    return scores, targets, mask


def masked_rows(scores, targets, mask):
    """``(scores, targets, valid indices)`` of each row, as Python lists."""
    for s, t, m in zip(scores.tolist(), targets.tolist(), mask.tolist(), strict=True):
        yield s, t, [i for i in range(len(s)) if m[i]]


def mean_or_zero(values) -> float:
    return sum(values) / len(values) if values else 0.0


def logsumexp(xs) -> float:
    top = max(xs)
    return top + math.log(sum(math.exp(x - top) for x in xs))


def softplus(x: float) -> float:
    return math.log1p(math.exp(-abs(x))) + max(x, 0.0)


def softmax_kl_rows(scores, targets, mask, tau: float, tau_teacher: float) -> list[float]:
    """KL(p ‖ q) per row with valid items, p = softmax(targets / tau_teacher) and
    q = softmax(scores / tau) over the row's valid items."""
    rows = []
    for s, t, valid in masked_rows(scores, targets, mask):
        if not valid:
            continue
        zp = sum(math.exp(t[j] / tau_teacher) for j in valid)
        zq = sum(math.exp(s[j] / tau) for j in valid)
        kl = 0.0
        for j in valid:
            p = math.exp(t[j] / tau_teacher) / zp
            q = math.exp(s[j] / tau) / zq
            kl += p * math.log(p / q)
        rows.append(kl)
    return rows
