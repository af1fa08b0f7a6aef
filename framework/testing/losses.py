"""Conformance rules of losses (``register_losses``), checked on random score matrices in
float64 (seed 0): three queries, five candidates each, the positive in column 0 (targets
one-hot, as ``rankarena train`` passes labels).

* ``scalar``: ``loss(scores, targets)`` is a finite 0-dimensional tensor;
* ``any-shape``: so are ``[1, 2]`` and ``[4, 7]`` inputs;
* ``mask-honoured``: masking the last two candidates gives the loss of the inputs without
  them, and no gradient reaches a masked score;
* ``finite-on-ties``: with every score equal the loss and its gradient are finite;
* ``gradient``: autograd's gradient agrees with central finite differences
  (step 1e-6, |Δ| ≤ 1e-4 + 1e-3·|g|);
* ``state-dict``: a new instance loaded with ``state_dict()`` gives the same loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.host import PluginHost
from .components import Component, subject
from .rules import Checklist, broken, require

STEP = 1e-6


def _inputs(batch: int, length: int, seed: int = 0):
    import torch

    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, length, generator=generator, dtype=torch.float64) * 2.0
    targets = torch.zeros(batch, length, dtype=torch.float64)
    targets[:, 0] = 1.0
    return scores, targets


def _in_float64(loss: Any) -> Any:
    import torch

    if isinstance(loss, torch.nn.Module):
        loss.to(torch.float64)
    return loss


def _value(loss: Any, scores, targets, mask=None):
    import torch

    out = loss(scores, targets, mask) if mask is not None else loss(scores, targets)
    require(isinstance(out, torch.Tensor), f"returned {type(out).__name__}, not a tensor")
    require(out.dim() == 0, f"returned a tensor of shape {tuple(out.shape)}, not a scalar")
    require(bool(torch.isfinite(out)), f"returned {out.item()} for finite scores")
    return out


def check_loss(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a loss against every rule above; returns the rules passed.

    :param component: a registered loss name (``"infonce"``) or its factory.
    :param params: the loss's parameters.
    :raises ConformanceError: naming each broken rule.
    """
    import torch

    who = subject("losses", component, params, host)
    rules = Checklist(who.label)
    loss = _in_float64(who.make())
    scores, targets = _inputs(3, 5)

    rules.rule("scalar", _value, loss, scores, targets)

    def shapes():
        for batch, length in ((1, 2), (4, 7)):
            _value(loss, *_inputs(batch, length, seed=batch))

    rules.rule("any-shape", shapes)

    def masked():
        full, full_targets = _inputs(3, 6, seed=3)
        full = full.clone().requires_grad_(True)
        mask = torch.ones(3, 6, dtype=torch.bool)
        mask[:, 4:] = False
        value = _value(loss, full, full_targets, mask)
        cut = _value(loss, full.detach()[:, :4], full_targets[:, :4], mask[:, :4])
        require(
            torch.allclose(value.detach(), cut, rtol=1e-6, atol=1e-9),
            f"masked loss {value.item():.8g} differs from the loss without the masked "
            f"candidates {cut.item():.8g}",
        )
        (grad,) = torch.autograd.grad(value, full, allow_unused=True)
        if grad is not None and bool((grad[:, 4:] != 0).any()):
            broken(f"masked scores get a gradient ({grad[:, 4:].abs().max().item():.3g})")

    rules.rule("mask-honoured", masked)

    def ties():
        equal = torch.zeros(3, 5, dtype=torch.float64, requires_grad=True)
        value = _value(loss, equal, targets)
        (grad,) = torch.autograd.grad(value, equal, allow_unused=True)
        require(grad is None or bool(torch.isfinite(grad).all()), "the gradient is not finite")

    rules.rule("finite-on-ties", ties)

    def gradient():
        point = scores.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(_value(loss, point, targets), point, allow_unused=True)
        grad = torch.zeros_like(scores) if grad is None else grad
        with torch.no_grad():
            for i in range(scores.shape[0]):
                for j in range(scores.shape[1]):
                    up, down = scores.clone(), scores.clone()
                    up[i, j] += STEP
                    down[i, j] -= STEP
                    numeric = (loss(up, targets) - loss(down, targets)).item() / (2 * STEP)
                    exact = grad[i, j].item()
                    if abs(numeric - exact) > 1e-4 + 1e-3 * abs(numeric):
                        broken(
                            f"d loss / d scores[{i}, {j}] is {exact:.6g} by autograd but "
                            f"{numeric:.6g} by finite differences"
                        )

    rules.rule("gradient", gradient)

    def state():
        other = _in_float64(who.make())
        other.load_state_dict(loss.state_dict())
        with torch.no_grad():
            a, b = loss(scores, targets).item(), other(scores, targets).item()
        require(abs(a - b) <= 1e-9 * max(1.0, abs(a)), f"restored loss {b} differs from {a}")

    rules.rule("state-dict", state)
    return rules.verdict()
