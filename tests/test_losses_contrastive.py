"""Contrastive losses: values against loop references, gradients, invariances, registration."""

from __future__ import annotations

import math

import pytest
import torch
from loss_references import softmax_kl_rows

import rankarena
from rankarena.core.host import PluginHost
from rankarena.plugins.losses.contrastive_losses import (
    AdaptiveMultiHeadContrastive,
    InfoNCE,
    SoftInfoNCE,
    SoftLabelAlignment,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # gradcheck, tight comparisons


def batch(B=4, L=6, seed=0, masked=True):
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(B, L, generator=g) * 2 - 1
    targets = torch.zeros(B, L)
    targets[:, 0] = 1.0
    targets[1, 3] = 1.0  # a second positive
    mask = torch.ones(B, L, dtype=torch.bool)
    if masked:
        mask[0, 4:] = False
        mask[2, 2] = False
        mask[3, :] = False  # fully masked row: left out
    return scores, targets, mask


def ref_infonce(scores, targets, mask, scale):
    rows = []
    for b in range(scores.shape[0]):
        valid = [j for j in range(scores.shape[1]) if mask[b, j]]
        pos = [j for j in valid if targets[b, j] > 0]
        if not pos:
            continue
        denom = sum(math.exp(scale * scores[b, j].item()) for j in valid)
        terms = [-math.log(math.exp(scale * scores[b, p].item()) / denom) for p in pos]
        rows.append(sum(terms) / len(terms))
    return sum(rows) / len(rows)


def test_registered_names_and_alias():
    host = PluginHost(entry_points=False)
    for name in ("infonce", "mnrl", "soft-infonce", "amcl", "soft-label"):
        assert name in host.losses
    assert isinstance(host.losses.create("mnrl", scale=10.0), InfoNCE)
    assert host.failures == []


@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_infonce_matches_reference(scale):
    scores, targets, mask = batch()
    got = InfoNCE(scale=scale)(scores, targets, mask)
    assert got.item() == pytest.approx(ref_infonce(scores, targets, mask, scale), rel=1e-10)
    assert InfoNCE(temperature=1 / scale)(scores, targets, mask).item() == pytest.approx(
        got.item(), rel=1e-12
    )


def test_infonce_symmetric_reference():
    g = torch.Generator().manual_seed(3)
    scores = torch.rand(5, 5, generator=g)
    targets = torch.eye(5)
    got = InfoNCE(scale=7.0, symmetric=True)(scores, targets).item()
    rows = ref_infonce(scores, targets, torch.ones(5, 5, dtype=torch.bool), 7.0)
    cols = ref_infonce(scores.T, targets.T, torch.ones(5, 5, dtype=torch.bool), 7.0)
    assert got == pytest.approx((rows + cols) / 2, rel=1e-10)
    with pytest.raises(ValueError, match="square"):
        InfoNCE(symmetric=True)(torch.rand(2, 3), torch.zeros(2, 3))


def _mnrl(**kwargs):
    st = pytest.importorskip("sentence_transformers.sentence_transformer.losses")
    return st.MultipleNegativesRankingLoss(model=None, **kwargs)


def test_infonce_equals_sentence_transformers_mnrl():
    g = torch.Generator().manual_seed(1)
    q, d, neg = (torch.randn(6, 16, generator=g) for _ in range(3))
    mnrl = _mnrl(scale=20.0)
    expected = mnrl.compute_loss_from_embeddings([q, d], labels=None)
    sim = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T
    got = InfoNCE()(sim, torch.eye(6))
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)
    # with hard negatives: scores [B, 2B] against (positives ++ negatives)
    expected = mnrl.compute_loss_from_embeddings([q, d, neg], labels=None)
    docs = torch.nn.functional.normalize(torch.cat([d, neg]), dim=-1)
    sim = torch.nn.functional.normalize(q, dim=-1) @ docs.T
    targets = torch.cat([torch.eye(6), torch.zeros(6, 6)], dim=1)
    assert InfoNCE()(sim, targets).item() == pytest.approx(expected.item(), rel=1e-9)
    # and the plain cross-entropy formulation
    ce = torch.nn.functional.cross_entropy(20.0 * sim, torch.arange(6))
    assert InfoNCE(scale=20.0)(sim, targets).item() == pytest.approx(ce.item(), rel=1e-9)


def test_infonce_symmetric_equals_sentence_transformers():
    g = torch.Generator().manual_seed(2)
    q, d = torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)
    mnrl = _mnrl(
        scale=20.0, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
    )
    expected = mnrl.compute_loss_from_embeddings([q, d], labels=None)
    sim = torch.nn.functional.normalize(q, dim=-1) @ torch.nn.functional.normalize(d, dim=-1).T
    got = InfoNCE(symmetric=True)(sim, torch.eye(5))
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)


def test_infonce_shift_invariant_and_monotone():
    scores, targets, mask = batch()
    loss = InfoNCE(scale=5.0)
    base = loss(scores, targets, mask)
    shifted = scores + torch.tensor([3.0, -2.0, 0.5, 7.0])[:, None]
    assert loss(shifted, targets, mask).item() == pytest.approx(base.item(), rel=1e-10)
    up = scores.clone()
    up[:, 0] += 0.3
    assert loss(up, targets, mask) < base


def test_infonce_gradcheck_and_masked_items_get_no_gradient():
    scores, targets, mask = batch()
    scores.requires_grad_(True)
    loss = InfoNCE(scale=3.0)
    assert torch.autograd.gradcheck(lambda s: loss(s, targets, mask), (scores,))
    InfoNCE()(scores, targets, mask).backward()
    assert torch.all(scores.grad[~mask] == 0)
    sq = torch.rand(4, 4, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda s: InfoNCE(scale=2.0, symmetric=True)(s, torch.eye(4)), (sq,)
    )


def test_no_usable_row_gives_zero_with_graph():
    scores = torch.rand(2, 3, requires_grad=True)
    out = InfoNCE()(scores, torch.zeros(2, 3))
    assert out.item() == 0.0 and out.requires_grad
    # the zero keeps the loss's own parameters in the graph: a zero gradient, not none
    amcl = AdaptiveMultiHeadContrastive(heads=2)
    out = amcl(torch.rand(2, 2, 3, requires_grad=True), torch.zeros(2, 3))
    out.backward()
    assert out.item() == 0.0 and torch.equal(amcl.log_scale.grad, torch.zeros(2))


# ------------------------------------------------------------------ soft-infonce
def ref_soft_infonce(scores, targets, mask, scale, alpha, beta, relevance, tau_w, floor=0.1):
    """Soft-InfoNCE with the weights transcribed from the authors' code
    (``Soft-InfoNCE/CodeBERT/models.py``): w = max(0.1, (β − α·π) / (β − α/N)), π the
    softmax of the negatives' relevance, N their number."""
    rows = []
    for b in range(scores.shape[0]):
        valid = [j for j in range(scores.shape[1]) if mask[b, j]]
        if not valid:
            continue
        p = max(valid, key=lambda j: (targets[b, j].item(), -j))
        negs = [j for j in valid if j != p]
        n = len(negs)
        ex = [math.exp(relevance[b, j].item() / tau_w) for j in negs]
        pis = [e / sum(ex) for e in ex]
        ws = [max(floor, (beta - alpha * pi) / (beta - alpha / n)) for pi in pis]
        num = math.exp(scale * scores[b, p].item())
        den = num + sum(
            w * math.exp(scale * scores[b, j].item()) for w, j in zip(ws, negs, strict=True)
        )
        rows.append(-math.log(num / den))
    return sum(rows) / len(rows)


@pytest.mark.parametrize("weights", ["targets", "scores"])
@pytest.mark.parametrize(("alpha", "beta"), [(0.6, 1.0), (2.0, 1.0), (2.5, 0.9)])
def test_soft_infonce_matches_the_authors_formula(weights, alpha, beta):
    """Including α ≥ β (the authors' settings the former ratio β ∈ [0, 1) could not
    express) and weights the 0.1 floor lifts (α = 3, β = 0.7, τ_w = 0.05)."""
    scores, _, mask = batch()
    g = torch.Generator().manual_seed(5)
    targets = torch.rand(4, 6, generator=g) * 0.5
    targets[:, 0] = 1.0
    tau_w = 0.05 if alpha == 2.5 else 0.3
    loss = SoftInfoNCE(scale=4.0, alpha=alpha, beta=beta, weights=weights, weight_temperature=tau_w)
    relevance = targets if weights == "targets" else scores
    expected = ref_soft_infonce(scores, targets, mask, 4.0, alpha, beta, relevance, tau_w)
    assert loss(scores, targets, mask).item() == pytest.approx(expected, rel=1e-10)
    if alpha == 2.5:  # the floor is reached: some weight is exactly 0.1
        _, negs, weight = loss.negative_weights(scores, targets, mask)
        assert (weight[negs] == 0.1).any()
        unfloored = SoftInfoNCE(
            scale=4.0, alpha=alpha, beta=beta, floor=0.0, weights=weights, weight_temperature=tau_w
        )
        assert unfloored(scores, targets, mask).item() != pytest.approx(expected)


def test_soft_infonce_refuses_beta_at_or_below_alpha_over_n():
    scores, targets, mask = batch()
    with pytest.raises(rankarena.ParameterError, match=r"beta \(0.5\) must exceed alpha / n"):
        SoftInfoNCE(alpha=3.0, beta=0.5)(scores, targets, mask)


def test_soft_infonce_reduces_to_infonce_and_gradcheck():
    scores, targets, mask = batch()
    targets[1, 3] = 0.0  # one positive per row
    got = SoftInfoNCE(scale=6.0, alpha=0.0)(scores, targets, mask)
    assert got.item() == pytest.approx(InfoNCE(scale=6.0)(scores, targets, mask).item(), rel=1e-10)
    soft = torch.rand(4, 6) * 0.5
    soft[:, 0] = 1.0
    s = scores.clone().requires_grad_(True)
    loss = SoftInfoNCE(scale=3.0, alpha=0.5, weights="targets")
    assert torch.autograd.gradcheck(lambda x: loss(x, soft, mask), (s,))
    # weights="scores": the weights are constants, so the gradient is the finite difference
    # of the reference with the relevance held at the unperturbed scores
    loss = SoftInfoNCE(scale=3.0, alpha=0.5, weights="scores")
    loss(s, soft, mask).backward()
    h = 1e-6
    for b, j in [(0, 0), (0, 2), (1, 3), (2, 5)]:
        plus, minus = scores.clone(), scores.clone()
        plus[b, j] += h
        minus[b, j] -= h
        fd = (
            ref_soft_infonce(plus, soft, mask, 3.0, 0.5, 1.0, scores, 1.0)
            - ref_soft_infonce(minus, soft, mask, 3.0, 0.5, 1.0, scores, 1.0)
        ) / (2 * h)
        assert s.grad[b, j].item() == pytest.approx(fd, rel=1e-5, abs=1e-8)
    # a relevant negative is pushed less: its weight is below 1 (above the floor here, so
    # the weights average 1)
    _, negs, weight = SoftInfoNCE(alpha=0.9).negative_weights(scores, soft, mask)
    row = weight[1][negs[1]]
    assert row.mean().item() == pytest.approx(1.0)
    assert (
        weight[1].masked_fill(~negs[1], 9.0).argmin() == soft[1].masked_fill(~negs[1], -1).argmax()
    )
    up = scores.clone()
    up[:, 0] += 0.2
    loss = SoftInfoNCE(alpha=0.5)
    assert loss(up, soft, mask) < loss(scores, soft, mask)


# ------------------------------------------------------------------ amcl
def test_amcl_mean_of_per_head_infonce_and_layouts():
    g = torch.Generator().manual_seed(7)
    B, H, L = 3, 2, 5
    scores = torch.rand(B, H, L, generator=g)
    targets = torch.zeros(B, L)
    targets[:, 0] = 1
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, 3:] = False
    loss = AdaptiveMultiHeadContrastive(heads=H, scale=10.0)
    with torch.no_grad():
        loss.log_scale.copy_(torch.log(torch.tensor([4.0, 15.0])))
    expected = (
        sum(ref_infonce(scores[:, h], targets, mask, sc) for h, sc in enumerate([4.0, 15.0])) / H
    )
    assert loss(scores, targets, mask).item() == pytest.approx(expected, rel=1e-10)
    flat = scores.reshape(B, H * L)
    assert loss(flat, targets, mask).item() == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="amcl"):
        loss(torch.rand(B, 7), targets, mask)


def test_amcl_temperature_is_learned_and_gradcheck():
    B, H, L = 3, 2, 4
    scores = torch.rand(B, H, L, requires_grad=True)
    targets = torch.eye(B, L)
    loss = AdaptiveMultiHeadContrastive(heads=H, scale=5.0)
    assert isinstance(loss.log_scale, torch.nn.Parameter)
    assert [n for n, _ in loss.named_parameters()] == ["log_scale"]
    loss.double()
    loss(scores, targets).backward()
    assert loss.log_scale.grad is not None and torch.all(loss.log_scale.grad != 0)
    assert torch.autograd.gradcheck(lambda s: loss(s, targets), (scores,))
    fixed = AdaptiveMultiHeadContrastive(heads=H, learnable=False)
    assert not fixed.log_scale.requires_grad
    capped = AdaptiveMultiHeadContrastive(heads=1, scale=50.0, max_scale=60.0)
    with torch.no_grad():
        capped.log_scale.fill_(math.log(1000.0))
    assert capped.head_scales().item() == pytest.approx(60.0)


# ------------------------------------------------------------------ soft-label
def ref_soft_label(scores, targets, mask, tau, tau_t):
    rows = softmax_kl_rows(scores, targets, mask, tau, tau_t)
    return sum(rows) / len(rows)


def test_soft_label_reference_zero_and_gradcheck():
    scores, _, mask = batch()
    targets = torch.rand(4, 6, generator=torch.Generator().manual_seed(9))
    loss = SoftLabelAlignment(temperature=0.5, target_temperature=0.25)
    expected = ref_soft_label(scores, targets, mask, 0.5, 0.25)
    assert loss(scores, targets, mask).item() == pytest.approx(expected, rel=1e-10)
    # zero when scores/τ equals targets/τ_t (up to a row shift)
    same = targets * 2 + torch.arange(4.0)[:, None]
    assert loss(same, targets, mask).item() == pytest.approx(0.0, abs=1e-12)
    s = scores.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, targets, mask), (s,))


# ------------------------------------------------------------------ parameter errors
@pytest.mark.parametrize(
    "name, params, text",
    [
        ("infonce", {"scale": 0.0}, "scale must be a finite number > 0"),
        ("infonce", {"scale": 2.0, "temperature": 0.5}, "not both"),
        ("mnrl", {"temperature": -1.0}, "temperature must be a finite number > 0"),
        ("infonce", {"scale": "big"}, "must be"),
        ("soft-infonce", {"beta": 0.0}, "beta must be"),
        ("soft-infonce", {"alpha": -1.0}, "alpha must be"),
        ("soft-infonce", {"floor": -0.1}, "floor must be"),
        ("soft-infonce", {"weights": "bm25"}, "weights must be one of targets, scores"),
        ("amcl", {"heads": 0}, "heads must be an integer"),
        ("amcl", {"scale": 200.0}, "exceeds max_scale"),
        ("soft-label", {"temperature": 0}, "temperature must be"),
        ("infonce", {"tau": 1.0}, "no parameter"),
    ],
)
def test_parameter_errors_are_one_line(name, params, text):
    host = PluginHost(entry_points=False)
    with pytest.raises(rankarena.ParameterError) as info:
        host.losses.create(name, **params)
    assert text in str(info.value)
    assert "\n" not in str(info.value)
