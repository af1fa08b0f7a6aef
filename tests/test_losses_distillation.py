"""Distillation / metric losses: values against loop references, gradients, invariances."""

from __future__ import annotations

import math

import pytest
import torch
from loss_references import softmax_kl_rows

import rankarena
from rankarena.core.host import PluginHost
from rankarena.plugins.losses.distillation_losses import (
    AnyLoss,
    ContrastivePartialRankingDistillation,
    DiceLoss,
    KLDistillation,
    MarginMSE,
    ZLoss,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # gradcheck, tight comparisons


def batch(B=4, L=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(B, L, generator=g)
    teacher = torch.randn(B, L, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 2] = False
    mask[3, :] = False  # fully masked row: left out
    return scores, teacher, mask


def valid_items(mask, b):
    return [j for j in range(mask.shape[1]) if mask[b, j]]


def mean(xs):
    return sum(xs) / len(xs)


def check_grad(loss, scores, targets, mask):
    s = scores.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, targets, mask), (s,))
    s.grad = None
    loss(s, targets, mask).backward()
    assert torch.all(s.grad[~mask] == 0)


def test_registered_names():
    host = PluginHost(entry_points=False)
    for name in ("margin-mse", "kl-distill", "cprd", "dice", "z-loss", "anyloss"):
        assert name in host.losses
    assert host.failures == []


# ------------------------------------------------------------------ margin-mse
def ref_margin_mse(s, t, mask, positive):
    rows = []
    for b in range(s.shape[0]):
        valid = valid_items(mask, b)
        if not valid:
            continue
        p = 0 if positive == "first" else max(valid, key=lambda j: (t[b, j].item(), -j))
        negs = [j for j in valid if j != p]
        if p not in valid or not negs:
            continue
        rows.append(mean([((s[b, p] - s[b, j]) - (t[b, p] - t[b, j])).item() ** 2 for j in negs]))
    return mean(rows)


@pytest.mark.parametrize("positive", ["first", "argmax"])
def test_margin_mse(positive):
    s, t, mask = batch()
    loss = MarginMSE(positive=positive)
    assert loss(s, t, mask).item() == pytest.approx(ref_margin_mse(s, t, mask, positive), rel=1e-10)
    shift = torch.tensor([1.0, -4.0, 2.5, 3.0])[:, None]
    assert loss(s + shift, t, mask).item() == pytest.approx(loss(s, t, mask).item(), rel=1e-10)
    assert loss(t + shift, t, mask).item() == pytest.approx(0.0, abs=1e-12)
    check_grad(loss, s, t, mask)


def test_margin_mse_single_negative_is_hofstatter():
    s = torch.tensor([[2.0, 0.5], [1.0, 1.5]])
    t = torch.tensor([[3.0, 1.0], [0.0, -1.0]])
    expected = torch.nn.functional.mse_loss(s[:, 0] - s[:, 1], t[:, 0] - t[:, 1])
    assert MarginMSE()(s, t).item() == pytest.approx(expected.item())
    # raising the positive's score towards the teacher margin lowers the loss
    up = s.clone()
    up[0, 0] += 0.2
    assert MarginMSE()(up, t) < MarginMSE()(s, t)


# ------------------------------------------------------------------ kl-distill
def ref_kl(s, t, mask, tau):
    return tau**2 * mean(softmax_kl_rows(s, t, mask, tau, tau))


@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_kl_distill(tau):
    s, t, mask = batch()
    loss = KLDistillation(temperature=tau)
    assert loss(s, t, mask).item() == pytest.approx(ref_kl(s, t, mask, tau), rel=1e-10)
    assert loss(t, t, mask).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(t + 3.0, t, mask).item() == pytest.approx(0.0, abs=1e-12)
    check_grad(loss, s, t, mask)
    # matches torch's KLDiv on an unmasked batch
    s2, t2 = s[:2, :4], t[:2, :4]
    kd = (
        torch.nn.functional.kl_div(
            torch.log_softmax(s2 / tau, 1),
            torch.log_softmax(t2 / tau, 1),
            log_target=True,
            reduction="batchmean",
        )
        * tau**2
    )
    assert loss(s2, t2).item() == pytest.approx(kd.item(), rel=1e-10)


# ------------------------------------------------------------------ cprd
def ref_cprd(s, t, mask, top_k, tau, positive, select="teacher"):
    rows = []
    for b in range(s.shape[0]):
        valid = valid_items(mask, b)
        if not valid:
            continue
        p = 0 if positive == "first" else max(valid, key=lambda j: (t[b, j].item(), -j))
        negs = [j for j in valid if j != p]
        if select == "student" and top_k is not None:  # the student's hardest top_k
            negs = sorted(negs, key=lambda j: (-s[b, j].item(), j))[:top_k]
        if p not in valid or len(negs) < 2:
            continue
        order = sorted(negs, key=lambda j: (-t[b, j].item(), j))
        k = len(order) - 1
        if top_k is not None and select == "teacher":
            k = min(top_k, k)
        terms = []
        for r in range(k):
            den = sum(math.exp(s[b, j].item() / tau) for j in order[r:])
            terms.append(-math.log(math.exp(s[b, order[r]].item() / tau) / den))
        rows.append(mean(terms))
    return mean(rows)


@pytest.mark.parametrize("top_k, tau, positive", [(None, 1.0, "first"), (2, 0.5, "argmax")])
def test_cprd(top_k, tau, positive):
    s, t, mask = batch()
    loss = ContrastivePartialRankingDistillation(top_k=top_k, temperature=tau, positive=positive)
    expected = ref_cprd(s, t, mask, top_k, tau, positive)
    assert loss(s, t, mask).item() == pytest.approx(expected, rel=1e-10)
    check_grad(loss, s, t, mask)


@pytest.mark.parametrize("top_k", [2, 3])
def test_cprd_student_selects_the_negatives_the_teacher_orders(top_k):
    """The paper's CPRD: the student's top_k negatives, in the teacher's order; not the
    teacher's top_k (the two differ on this batch)."""
    s, t, mask = batch()
    loss = ContrastivePartialRankingDistillation(top_k=top_k, temperature=0.5, select="student")
    expected = ref_cprd(s, t, mask, top_k, 0.5, "first", select="student")
    assert loss(s, t, mask).item() == pytest.approx(expected, rel=1e-10)
    teacher = ContrastivePartialRankingDistillation(top_k=top_k, temperature=0.5)
    assert teacher(s, t, mask).item() != pytest.approx(expected)
    check_grad(loss, s, t, mask)


def test_cprd_ignores_the_positive_and_follows_teacher_order():
    s, t, mask = batch()
    loss = ContrastivePartialRankingDistillation()
    moved = s.clone()
    moved[:, 0] += 5.0  # the positive (column 0) plays no part
    assert loss(moved, t, mask).item() == pytest.approx(loss(s, t, mask).item(), rel=1e-12)
    # scores agreeing with the teacher's order among negatives give a lower loss
    agree = t * 10
    disagree = -t * 10
    assert loss(agree, t, mask) < loss(disagree, t, mask)
    # shift-invariant per row
    shifted = s + torch.arange(4.0)[:, None]
    assert loss(shifted, t, mask).item() == pytest.approx(loss(s, t, mask).item(), rel=1e-10)


# ------------------------------------------------------------------ dice
def ref_dice(s, y, mask, alpha, gamma):
    rows = []
    for b in range(s.shape[0]):
        valid = valid_items(mask, b)
        if not valid:
            continue
        terms = []
        for j in valid:
            p = 1 / (1 + math.exp(-s[b, j].item()))
            q = (1 - p) ** alpha * p
            yy = y[b, j].item()
            terms.append(1 - (2 * q * yy + gamma) / (q + yy + gamma))
        rows.append(mean(terms))
    return mean(rows)


@pytest.mark.parametrize("alpha, gamma", [(1.0, 1.0), (0.5, 0.1)])
def test_dice(alpha, gamma):
    s, _, mask = batch()
    y = (torch.rand(4, 6, generator=torch.Generator().manual_seed(4)) > 0.6).double()
    y[:, 0] = 1.0
    loss = DiceLoss(alpha=alpha, gamma=gamma)
    assert loss(s, y, mask).item() == pytest.approx(ref_dice(s, y, mask, alpha, gamma), rel=1e-10)
    check_grad(loss, s, y, mask)
    up = s.clone()
    up[:, 0] = -1.0
    up2 = up.clone()
    up2[:, 0] = 0.0  # positive's score rises (p = 0.27 -> 0.5): loss falls
    assert loss(up2, y, mask) < loss(up, y, mask)


def test_dice_at_batch_level_is_the_authors_set_level_dice():
    """``scope="batch"``: one Dice over every valid item of the batch, as the authors' code
    (ShannonAI/dice_loss_for_NLP) computes it; not the mean of per-item Dice values."""
    s, _, mask = batch()
    y = (torch.rand(4, 6, generator=torch.Generator().manual_seed(4)) > 0.6).double()
    y[:, 0] = 1.0
    alpha, gamma = 0.5, 0.1
    items = [(b, j) for b in range(4) for j in valid_items(mask, b)]
    q = {
        (b, j): (1 - 1 / (1 + math.exp(-s[b, j].item()))) ** alpha / (1 + math.exp(-s[b, j].item()))
        for b, j in items
    }
    inter = math.fsum(q[i] * y[i].item() for i in items)
    expected = 1 - (2 * inter + gamma) / (
        math.fsum(q.values()) + math.fsum(y[i].item() for i in items) + gamma
    )
    loss = DiceLoss(alpha=alpha, gamma=gamma, scope="batch")
    assert loss(s, y, mask).item() == pytest.approx(expected, rel=1e-10)
    assert loss(s, y, mask).item() != pytest.approx(ref_dice(s, y, mask, alpha, gamma))
    check_grad(loss, s, y, mask)


# ------------------------------------------------------------------ z-loss
def ref_zloss(s, y, mask, a, bb, eps):
    rows = []
    for b in range(s.shape[0]):
        valid = valid_items(mask, b)
        pos = [j for j in valid if y[b, j] > 0]
        if not pos:
            continue
        xs = [s[b, j].item() for j in valid]
        mu = mean(xs)
        var = mean([(x - mu) ** 2 for x in xs])
        terms = []
        for c in pos:
            z = (s[b, c].item() - mu) / math.sqrt(var + eps)
            terms.append(math.log1p(math.exp(a * (bb - z))) / a)
        rows.append(mean(terms))
    return mean(rows)


def test_z_loss():
    s, _, mask = batch()
    y = torch.zeros(4, 6)
    y[:, 0] = 1.0
    y[1, 3] = 2.0
    loss = ZLoss(a=2.0, b=1.5, eps=1e-6)
    assert loss(s, y, mask).item() == pytest.approx(
        ref_zloss(s, y, mask, 2.0, 1.5, 1e-6), rel=1e-10
    )
    check_grad(loss, s, y, mask)
    # shift- and scale-invariant per row (eps = tiny)
    tiny = ZLoss(a=2.0, b=1.5, eps=1e-300)
    changed = s * torch.tensor([2.0, 0.5, 3.0, 1.0])[:, None] + torch.arange(4.0)[:, None]
    assert tiny(changed, y, mask).item() == pytest.approx(tiny(s, y, mask).item(), rel=1e-9)
    up = s.clone()
    up[:, 0] += 0.5
    assert loss(up, y, mask) < loss(s, y, mask)


# ------------------------------------------------------------------ anyloss
def ref_anyloss(s, y, mask, metric, amp, eps):
    rows = []
    for b in range(s.shape[0]):
        valid = valid_items(mask, b)
        if not valid:
            continue
        tp = fn = fp = tn = 0.0
        for j in valid:
            p = 1 / (1 + math.exp(-s[b, j].item()))
            a = 1 / (1 + math.exp(-amp * (p - 0.5)))
            yy = y[b, j].item()
            tp += yy * a
            fn += yy * (1 - a)
            fp += (1 - yy) * a
            tn += (1 - yy) * (1 - a)
        if metric == "f1":
            v = 2 * tp / (2 * tp + fp + fn + eps)
        elif metric == "accuracy":
            v = (tp + tn) / len(valid)
        else:
            v = (tp / (tp + fn + eps) + tn / (tn + fp + eps)) / 2
        rows.append(1 - v)
    return mean(rows)


@pytest.mark.parametrize("metric", ["f1", "accuracy", "balanced-accuracy"])
def test_anyloss(metric):
    s, _, mask = batch()
    y = (torch.rand(4, 6, generator=torch.Generator().manual_seed(8)) > 0.5).double()
    y[:, 0] = 1.0
    y[:, 1] = 0.0
    loss = AnyLoss(metric=metric, amplify=73.0)
    expected = ref_anyloss(s, y, mask, metric, 73.0, 1e-8)
    assert loss(s, y, mask).item() == pytest.approx(expected, rel=1e-10)
    check_grad(AnyLoss(metric=metric, amplify=5.0), s, y, mask)
    # perfectly separated scores give (almost) zero loss
    perfect = (y * 2 - 1) * 20
    assert loss(perfect, y, mask).item() == pytest.approx(0.0, abs=1e-6)
    up = s.clone()
    up[:, 0] -= 0.5
    up2 = up.clone()
    up2[:, 0] += 0.5
    soft = AnyLoss(metric=metric, amplify=5.0)
    assert soft(up2, y, mask) < soft(up, y, mask)


@pytest.mark.parametrize("metric", ["f1", "accuracy", "balanced-accuracy"])
def test_anyloss_at_batch_level_pools_the_confusion_matrix(metric):
    """``scope="batch"``: the paper's confusion matrix over the mini-batch, i.e. the
    row-level reference on the batch flattened into one row."""
    s, _, mask = batch()
    y = (torch.rand(4, 6, generator=torch.Generator().manual_seed(8)) > 0.5).double()
    y[:, 0] = 1.0
    y[:, 1] = 0.0
    flat = (s.reshape(1, -1), y.reshape(1, -1), mask.reshape(1, -1))
    expected = ref_anyloss(*flat, metric, 73.0, 1e-8)
    loss = AnyLoss(metric=metric, scope="batch")
    assert loss(s, y, mask).item() == pytest.approx(expected, rel=1e-10)
    assert loss(s, y, mask).item() != pytest.approx(ref_anyloss(s, y, mask, metric, 73.0, 1e-8))
    check_grad(AnyLoss(metric=metric, amplify=5.0, scope="batch"), s, y, mask)


# ------------------------------------------------------------------ parameter errors
@pytest.mark.parametrize(
    "name, params, text",
    [
        ("margin-mse", {"positive": "last"}, "positive must be one of first, argmax"),
        ("kl-distill", {"temperature": 0.0}, "temperature must be a finite number > 0"),
        ("cprd", {"top_k": 0}, "top_k must be an integer >= 1"),
        ("cprd", {"select": "judge"}, "select must be one of teacher, student"),
        ("dice", {"scope": "row"}, "scope must be one of item, batch"),
        ("anyloss", {"scope": "item"}, "scope must be one of row, batch"),
        ("cprd", {"top_k": 2.5}, "must be"),
        ("dice", {"gamma": -1.0}, "gamma must be a finite number >= 0"),
        ("z-loss", {"a": -2.0}, "a must be a finite number > 0"),
        ("anyloss", {"metric": "mcc"}, "metric must be one of"),
        ("anyloss", {"amplify": 0}, "amplify must be a finite number > 0"),
        ("dice", {"beta": 1.0}, "no parameter"),
    ],
)
def test_parameter_errors_are_one_line(name, params, text):
    host = PluginHost(entry_points=False)
    with pytest.raises(rankarena.ParameterError) as info:
        host.losses.create(name, **params)
    assert text in str(info.value)
    assert "\n" not in str(info.value)


def test_no_usable_row_gives_zero_with_graph():
    s = torch.rand(2, 3, requires_grad=True)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    for loss in (
        MarginMSE(),
        KLDistillation(),
        ContrastivePartialRankingDistillation(),
        DiceLoss(),
    ):
        out = loss(s, torch.rand(2, 3), mask)
        assert out.item() == 0.0 and out.requires_grad
