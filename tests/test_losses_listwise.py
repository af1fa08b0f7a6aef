"""Listwise losses: values against naive loop references, gradients, invariances, errors."""

from __future__ import annotations

import math

import pytest
import torch
from loss_references import logsumexp, masked_rows, mean_or_zero, random_graded_batch, softplus

import rankarena
from rankarena.core.host import PluginHost
from rankarena.plugins.losses import listwise_losses as ll

NAMES = ["listnet", "listmle", "ranklist", "lipo-lambda", "approx-ndcg"]


def ref_listnet(scores, targets, mask, tau=1.0):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        if not idx:
            continue
        zt = logsumexp([t[i] / tau for i in idx])
        zs = logsumexp([s[i] for i in idx])
        rows.append(-sum(math.exp(t[i] / tau - zt) * (s[i] - zs) for i in idx))
    return mean_or_zero(rows)


def ref_listmle(scores, targets, mask):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        if not idx:
            continue
        order = sorted(idx, key=lambda i: (-t[i], i))
        rows.append(
            sum(logsumexp([s[j] for j in order[k:]]) - s[order[k]] for k in range(len(order)))
        )
    return mean_or_zero(rows)


def ref_ranklist(scores, targets, mask, sigma=1.0):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        items = []
        for i in idx:
            lower = [j for j in idx if t[j] < t[i]]
            if lower:
                items.append(math.log(1 + sum(math.exp(sigma * (s[j] - s[i])) for j in lower)))
        if items:
            rows.append(mean_or_zero(items))
    return mean_or_zero(rows)


def ref_lipo(scores, targets, mask, beta=1.0):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        order = sorted(idx, key=lambda i: (-s[i], i))
        rank = {i: r + 1 for r, i in enumerate(order)}
        total, any_pair = 0.0, False
        for i in idx:
            for j in idx:
                if t[i] > t[j]:
                    any_pair = True
                    w = abs((2 ** t[i] - 1) - (2 ** t[j] - 1))
                    w *= abs(1 / math.log2(1 + rank[i]) - 1 / math.log2(1 + rank[j]))
                    total += w * softplus(-beta * (s[i] - s[j]))
        if any_pair:
            rows.append(total)
    return mean_or_zero(rows)


def ref_approx_ndcg(scores, targets, mask, temp=1.0):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        gains = {i: 2 ** t[i] - 1 for i in idx}
        idcg = sum(g / math.log2(2 + r) for r, g in enumerate(sorted(gains.values())[::-1]))
        if idcg <= 0:
            continue
        dcg = 0.0
        for i in idx:
            rank = 1 + sum(1 / (1 + math.exp(-(s[j] - s[i]) / temp)) for j in idx if j != i)
            dcg += gains[i] / math.log2(1 + rank)
        rows.append(1 - dcg / idcg)
    return mean_or_zero(rows)


REFS = {
    "listnet": ref_listnet,
    "listmle": ref_listmle,
    "ranklist": ref_ranklist,
    "lipo-lambda": ref_lipo,
    "approx-ndcg": ref_approx_ndcg,
}


@pytest.fixture(scope="module")
def host():
    return PluginHost(entry_points=False)


def test_registered(host):
    for name in NAMES:
        spec = host.losses.get(name)
        assert spec.plugin == "rankarena.plugins.losses.listwise"
        assert spec.factory.__doc__


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference(host, name, seed):
    scores, targets, mask = random_graded_batch(seed)
    value = host.losses.create(name)(scores, targets, mask)
    assert value.item() == pytest.approx(REFS[name](scores, targets, mask), rel=1e-9, abs=1e-12)


def test_parameters_reach_the_reference(host):
    s, t, m = random_graded_batch(5)
    value = host.losses.create("listnet", target_temperature=0.5)(s, t, m)
    assert value.item() == pytest.approx(ref_listnet(s, t, m, tau=0.5))
    value = host.losses.create("ranklist", sigma=2.0)(s, t, m)
    assert value.item() == pytest.approx(ref_ranklist(s, t, m, sigma=2.0))
    value = host.losses.create("lipo-lambda", beta=0.3)(s, t, m)
    assert value.item() == pytest.approx(ref_lipo(s, t, m, beta=0.3))
    value = host.losses.create("approx-ndcg", temperature=0.1)(s, t, m)
    assert value.item() == pytest.approx(ref_approx_ndcg(s, t, m, temp=0.1))


def test_listmle_tie_rule():
    # equal targets: the earlier candidate is placed first
    scores = torch.tensor([[0.3, -0.2, 1.0]], dtype=torch.float64)
    targets = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
    s = scores[0].tolist()
    expected = logsumexp(s) - s[0] + logsumexp(s[1:]) - s[1]
    assert ll.ListMLE()(scores, targets).item() == pytest.approx(expected)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(host, name):
    scores, targets, mask = random_graded_batch(3, b=3, n=4)
    scores = scores.clone().requires_grad_(True)
    loss = host.losses.create(name)
    assert torch.autograd.gradcheck(lambda s: loss(s, targets, mask), (scores,))


@pytest.mark.parametrize("name", NAMES)
def test_in_batch_and_no_mask(host, name):
    q = torch.randn(5, 8, dtype=torch.float64)
    d = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    value = host.losses.create(name)(q @ d.T / 0.1, torch.eye(5, dtype=torch.float64))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(d.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_shift_invariant(host, name):
    scores, targets, mask = random_graded_batch(4)
    loss = host.losses.create(name)
    shift = torch.randn(scores.shape[0], 1, dtype=scores.dtype)
    assert loss(scores + shift, targets, mask).item() == pytest.approx(
        loss(scores, targets, mask).item()
    )


def test_scale_relations():
    s, t, m = random_graded_batch(6)
    c = 4.0
    a = ll.ApproxNDCG(temperature=0.5)(s, t, m).item()
    assert ll.ApproxNDCG(temperature=0.5 * c)(s * c, t, m).item() == pytest.approx(a)
    a = ll.ListNet(target_temperature=1.0)(s, t, m).item()
    assert ll.ListNet(target_temperature=c)(s, t * c, m).item() == pytest.approx(a)
    a = ll.RankList(sigma=1.0)(s, t, m).item()
    assert ll.RankList(sigma=1 / c)(s * c, t, m).item() == pytest.approx(a)
    a = ll.LiPOLambda(beta=1.0)(s, t, m).item()
    assert ll.LiPOLambda(beta=1 / c)(s * c, t, m).item() == pytest.approx(a)


@pytest.mark.parametrize("name", NAMES)
def test_decreases_when_positive_rises(host, name):
    scores = torch.tensor([[0.2, 0.6, 0.4, 0.1]], dtype=torch.float64)
    targets = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    loss = host.losses.create(name)
    before = loss(scores, targets).item()
    after = loss(scores + torch.tensor([[0.3, 0, 0, 0]], dtype=torch.float64), targets).item()
    assert after < before


@pytest.mark.parametrize("name", NAMES)
def test_masked_candidates_take_no_part(host, name):
    scores, targets, _ = random_graded_batch(7, b=2, n=5)
    mask = torch.ones_like(scores, dtype=torch.bool)
    mask[:, -1] = False
    loss = host.losses.create(name)
    changed = scores.clone()
    changed[:, -1] = 100.0
    changed_t = targets.clone()
    changed_t[:, -1] = 5.0
    assert loss(changed, changed_t, mask).item() == pytest.approx(
        loss(scores, targets, mask).item()
    )
    assert loss(scores, targets, mask).item() == pytest.approx(
        loss(scores[:, :-1], targets[:, :-1]).item()
    )


@pytest.mark.parametrize("name", NAMES)
def test_nothing_valid_gives_zero_with_gradient(host, name):
    scores = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    value = host.losses.create(name)(scores, torch.ones(2, 3), torch.zeros(2, 3, dtype=bool))
    value.backward()
    assert value.item() == 0.0 and torch.equal(scores.grad, torch.zeros_like(scores))


@pytest.mark.parametrize(
    "name, params",
    [
        ("listnet", {"target_temperature": 0.0}),
        ("ranklist", {"sigma": -1.0}),
        ("lipo-lambda", {"beta": float("inf")}),
        ("approx-ndcg", {"temperature": -0.5}),
        ("listmle", {"temperature": 1.0}),
    ],
)
def test_parameter_errors(host, name, params):
    with pytest.raises(rankarena.ParameterError) as info:
        host.losses.create(name, **params)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"loss {name!r}")  # names the component
