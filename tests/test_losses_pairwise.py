"""Pairwise losses: values against naive loop references, gradients, invariances, errors."""

from __future__ import annotations

import math

import pytest
import torch
from loss_references import masked_rows, mean_or_zero, random_graded_batch, softplus

import rankarena
from rankarena.core.host import PluginHost
from rankarena.plugins.losses import pairwise_losses as lp

NAMES = ["hinge", "ranknet", "pairwise-logistic", "mw", "lambdaloss", "multi-similarity"]


def ref_pairwise(scores, targets, mask, f, pairs="ordered"):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        vals = []
        for i in idx:
            for j in idx:
                ok = t[i] > t[j] if pairs == "ordered" else (t[i] > 0 and not t[j] > 0)
                if ok:
                    vals.append(f(s[i], s[j]))
        if vals:
            rows.append(mean_or_zero(vals))
    return mean_or_zero(rows)


def ref_mw(scores, targets, mask, tau=0.01, reduction="sum"):
    """Equation 3 of Sheikholeslami et al. (arXiv:2510.00137), written out: every positive
    of the batch against every non-positive score of the batch, any row."""
    positives, negatives = [], []
    for s, t, idx in masked_rows(scores, targets, mask):
        for i in idx:
            (positives if t[i] > 0 else negatives).append(s[i])
    if not positives or not negatives:
        return 0.0
    pairs = [softplus(-(p - n) / tau) for p in positives for n in negatives]
    if reduction == "mean":
        return math.fsum(pairs) / len(pairs)
    return math.fsum(pairs) / len(positives)


def ref_lambda(scores, targets, mask, sigma=1.0, normalise=True):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        order = sorted(idx, key=lambda i: (-s[i], i))
        rank = {i: r + 1 for r, i in enumerate(order)}
        gain = {i: 2.0 ** t[i] - 1 for i in idx}
        ideal = sorted(gain.values(), reverse=True)
        idcg = sum(g / math.log2(2 + r) for r, g in enumerate(ideal))
        total, any_pair = 0.0, False
        for i in idx:
            for j in idx:
                if t[i] > t[j]:
                    any_pair = True
                    w = abs(gain[i] - gain[j])
                    w *= abs(1 / math.log2(1 + rank[i]) - 1 / math.log2(1 + rank[j]))
                    if normalise:
                        w /= idcg
                    total += w * softplus(-sigma * (s[i] - s[j]))
        if any_pair and (idcg > 0 or not normalise):
            rows.append(total)
    return mean_or_zero(rows)


def ref_ms(scores, targets, mask, alpha=2.0, beta=50.0, lam=0.5, eps=0.1, mining=True):
    rows = []
    for s, t, idx in masked_rows(scores, targets, mask):
        pos = [i for i in idx if t[i] > 0]
        neg = [i for i in idx if not t[i] > 0]
        if not pos or not neg:
            continue
        if mining:
            min_p, max_n = min(s[i] for i in pos), max(s[i] for i in neg)
            pos, neg = (
                [i for i in pos if s[i] - eps < max_n],
                [i for i in neg if s[i] + eps > min_p],
            )
        a = math.log(1 + sum(math.exp(-alpha * (s[i] - lam)) for i in pos)) / alpha
        b = math.log(1 + sum(math.exp(beta * (s[i] - lam)) for i in neg)) / beta
        rows.append(a + b)
    return mean_or_zero(rows)


REFS = {
    "hinge": lambda s, t, m: ref_pairwise(s, t, m, lambda a, b: max(0.0, 1.0 - a + b)),
    "ranknet": lambda s, t, m: ref_pairwise(s, t, m, lambda a, b: softplus(-(a - b))),
    "pairwise-logistic": lambda s, t, m: ref_pairwise(
        s, t, m, lambda a, b: softplus(-(a - b)), "pn"
    ),
    "mw": ref_mw,
    "lambdaloss": ref_lambda,
    "multi-similarity": ref_ms,
}


@pytest.fixture(scope="module")
def host():
    return PluginHost(entry_points=False)


def test_registered(host):
    for name in NAMES:
        spec = host.losses.get(name)
        assert spec.plugin == "rankarena.plugins.losses.pairwise"
        assert spec.factory.__doc__


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_reference(host, name, seed):
    scores, targets, mask = random_graded_batch(seed)
    loss = host.losses.create(name)
    value = loss(scores, targets, mask)
    assert value.item() == pytest.approx(REFS[name](scores, targets, mask), rel=1e-9, abs=1e-12)


def test_parameters_reach_the_reference(host):
    scores, targets, mask = random_graded_batch(5)
    f = lambda a, b: max(0.0, 0.3 - a + b)  # noqa: E731
    hinge = host.losses.create("hinge", margin=0.3)(scores, targets, mask)
    assert hinge.item() == pytest.approx(ref_pairwise(scores, targets, mask, f))
    f = lambda a, b: softplus(-2.5 * (a - b))  # noqa: E731
    rn = host.losses.create("ranknet", sigma=2.5)(scores, targets, mask)
    assert rn.item() == pytest.approx(ref_pairwise(scores, targets, mask, f))
    ll = host.losses.create("lambdaloss", sigma=0.5)(scores, targets, mask)
    assert ll.item() == pytest.approx(ref_lambda(scores, targets, mask, sigma=0.5))
    mw = host.losses.create("mw", tau=0.5, reduction="mean")(scores, targets, mask)
    ref = ref_mw(scores, targets, mask, tau=0.5, reduction="mean")
    assert mw.item() == pytest.approx(ref, rel=1e-9)
    ms = host.losses.create("multi-similarity", alpha=1.0, beta=3.0, base=0.1, mining=False)
    ref = ref_ms(scores, targets, mask, alpha=1.0, beta=3.0, lam=0.1, mining=False)
    assert ms(scores, targets, mask).item() == pytest.approx(ref)


def test_mining_drops_easy_pairs():
    scores = torch.tensor([[3.0, 0.0, 2.95]], dtype=torch.float64)
    targets = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    mined = lp.MultiSimilarityLoss(beta=2.0, mining=True)(scores, targets)
    ref = ref_ms(scores, targets, torch.ones(1, 3, dtype=bool), beta=2.0)
    assert mined.item() == pytest.approx(ref)
    full = lp.MultiSimilarityLoss(beta=2.0, mining=False)(scores, targets)
    assert full.item() > mined.item()


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(host, name):
    scores, targets, mask = random_graded_batch(3, b=3, n=4)
    scores = scores.clone().requires_grad_(True)
    loss = host.losses.create(name, **({"beta": 5.0} if name == "multi-similarity" else {}))
    assert torch.autograd.gradcheck(lambda s: loss(s, targets, mask), (scores,))


@pytest.mark.parametrize("name", NAMES)
def test_in_batch_and_no_mask(host, name):
    q = torch.randn(5, 8, dtype=torch.float64)
    d = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    value = host.losses.create(name)(q @ d.T / 0.1, torch.eye(5, dtype=torch.float64))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(d.grad).all()


@pytest.mark.parametrize("name", ["ranknet", "pairwise-logistic", "hinge", "lambdaloss"])
def test_shift_invariant(host, name):
    scores, targets, mask = random_graded_batch(4)
    loss = host.losses.create(name)
    shift = torch.randn(scores.shape[0], 1, dtype=scores.dtype)
    assert loss(scores + shift, targets, mask).item() == pytest.approx(
        loss(scores, targets, mask).item()
    )


def test_mw_sees_a_per_query_shift_that_infonce_cannot():
    """The paper's point (Lemma 1): a contrastive loss is unchanged when one query's scores
    all move by a constant; MW compares positives with other queries' negatives, so it
    changes (and the per-row pairwise logistic, the old ``mw``, does not)."""
    torch.manual_seed(0)
    scores = torch.randn(4, 4, dtype=torch.float64) * 0.2
    targets = torch.eye(4, dtype=torch.float64)
    shifted = scores.clone()
    shifted[2] += 0.3
    infonce = rankarena.plugin_manager().losses.create("infonce")
    assert infonce(shifted, targets).item() == pytest.approx(infonce(scores, targets).item())
    per_row = lp.PairwiseLogisticLoss()
    assert per_row(shifted, targets).item() == pytest.approx(per_row(scores, targets).item())
    mw = lp.MannWhitneyLoss()
    assert abs(mw(shifted, targets).item() - mw(scores, targets).item()) > 1.0


def test_scale_relations():
    scores, targets, mask = random_graded_batch(6)
    c = 3.0
    a = lp.RankNet(sigma=1.0)(scores, targets, mask)
    assert lp.RankNet(sigma=1.0 / c)(scores * c, targets, mask).item() == pytest.approx(a.item())
    h = lp.HingeLoss(margin=0.5)(scores, targets, mask)
    hc = lp.HingeLoss(margin=0.5 * c)(scores * c, targets, mask)
    assert hc.item() == pytest.approx(c * h.item())
    ll = lp.LambdaLoss(sigma=1.0)(scores, targets, mask)
    assert lp.LambdaLoss(sigma=1 / c)(scores * c, targets, mask).item() == pytest.approx(ll.item())


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
    assert loss(changed, targets, mask).item() == pytest.approx(loss(scores, targets, mask).item())
    assert loss(scores, targets, mask).item() == pytest.approx(
        loss(scores[:, :-1], targets[:, :-1]).item()
    )


@pytest.mark.parametrize("name", NAMES)
def test_no_valid_pair_gives_zero_with_gradient(host, name):
    scores = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    value = host.losses.create(name)(scores, torch.ones(2, 3, dtype=torch.float64))
    value.backward()
    assert value.item() == 0.0 and scores.grad is not None


@pytest.mark.parametrize(
    "name, params",
    [
        ("hinge", {"margin": -1.0}),
        ("ranknet", {"sigma": 0.0}),
        ("lambdaloss", {"sigma": float("nan")}),
        ("multi-similarity", {"alpha": -2.0}),
        ("multi-similarity", {"beta": 0}),
        ("multi-similarity", {"epsilon": -0.1}),
        ("ranknet", {"temperature": 1.0}),
        ("mw", {"sigma": 1.0}),
        ("mw", {"tau": 0.0}),
        ("mw", {"reduction": "max"}),
        ("pairwise-logistic", {"tau": 0.01}),
    ],
)
def test_parameter_errors(host, name, params):
    with pytest.raises(rankarena.ParameterError) as info:
        host.losses.create(name, **params)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(f"loss {name!r}")  # names the component


def test_shape_errors():
    with pytest.raises(ValueError, match="ranknet"):
        lp.RankNet()(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="mask"):
        lp.RankNet()(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 2, dtype=torch.bool))
