"""Built-in listwise ranking losses: ``listnet``, ``listmle``, ``ranklist``, ``lipo-lambda`` and
``approx-ndcg``.

Called as ``loss(scores[B, L], targets[B, L], mask=None)`` like every loss (see
``rankarena.plugins.losses.pairwise``): masked candidates take no part, each loss computes one
value per row and returns the mean over the rows that have at least one valid item (``listnet``,
``listmle``), one valid ordered pair (``ranklist``, ``lipo-lambda``) or a positive ideal DCG
(``approx-ndcg``); a batch with no such row gives a zero that still carries a gradient.
"""

from __future__ import annotations

import torch

from rankarena.api.checks import positive_number
from rankarena.plugins.losses.contrastive_losses import row_mean, safe_mask
from rankarena.plugins.losses.pairwise_losses import (
    check_inputs,
    graded_gains,
    ideal_dcg,
    ordered_pairs,
    swap_dcg_delta,
)


class ListNet(torch.nn.Module):
    """exact: ListNet, top-one form (Cao et al., "Learning to Rank: From Pairwise Approach
    to Listwise Approach", ICML 2007).

    Per row, over the valid candidates: −Σ_i softmax(t/τ_t)_i · log softmax(s)_i, the
    cross-entropy between the target and the score top-one distributions, τ_t =
    ``target_temperature``. Invariant to a shift of a row's scores (and of its targets);
    scaling the targets by c and τ_t by c leaves it unchanged.
    """

    def __init__(self, target_temperature: float = 1.0):
        super().__init__()
        self.target_temperature = positive_number(
            "loss 'listnet'", "target_temperature", target_temperature
        )

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("listnet", scores, targets, mask)
        row_valid = mask.any(dim=1)
        mask = safe_mask(mask, row_valid)  # all-masked rows computed on (no NaN), left out
        ninf = float("-inf")
        t = targets.detach().to(scores.dtype) / self.target_temperature
        p = torch.softmax(t.masked_fill(~mask, ninf), dim=1)
        log_q = torch.log_softmax(scores.masked_fill(~mask, ninf), dim=1)
        log_q = torch.where(mask, log_q, torch.zeros_like(log_q))
        return row_mean(-(p * log_q).sum(dim=1), row_valid, scores)


class ListMLE(torch.nn.Module):
    """exact: ListMLE (Xia et al., "Listwise Approach to Learning to Rank: Theory and Algorithm",
    ICML 2008): the negative Plackett–Luce log-likelihood of the target order.

    Per row, with π the valid candidates sorted by descending target:

        Σ_k [ log Σ_{m >= k} exp(s_{π_m}) − s_{π_k} ]

    Ties in the targets are broken by candidate index: among equal targets the earlier
    candidate comes first (a fixed, deterministic rule). Invariant to a shift of a row's
    scores.
    """

    def __init__(self) -> None:  # no parameters (an explicit signature for the registry)
        super().__init__()

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("listmle", scores, targets, mask)
        row_valid = mask.any(dim=1)
        mask = safe_mask(mask, row_valid)  # all-masked rows computed on (no NaN), left out
        t = targets.detach().to(scores.dtype).masked_fill(~mask, float("-inf"))
        order = torch.sort(t, dim=1, descending=True, stable=True).indices
        position = torch.empty_like(order)
        steps = torch.arange(order.shape[1], device=order.device).expand_as(order)
        position.scatter_(1, order, steps)  # position of each candidate in the target order
        # later[b, i, j]: j is valid and comes at or after i in the target order
        later = mask.unsqueeze(1) & (position.unsqueeze(1) >= position.unsqueeze(2))
        later = later | torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
        ninf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
        expanded = torch.where(later, scores.unsqueeze(1).expand_as(later), ninf)
        terms = torch.logsumexp(expanded, dim=2) - scores
        terms = torch.where(mask, terms, torch.zeros_like(terms))
        return row_mean(terms.sum(dim=1), row_valid, scores)


class RankList(torch.nn.Module):
    """unverified: listwise RankNet with log-sum-exp ("RankList", 2025), as read here.

    The paper's exact form was not at hand; this implements the listwise generalisation of
    RankNet in which each candidate i is compared with all lower-graded candidates at once:

        ℓ_i = log(1 + Σ_{j: t_j < t_i} exp(σ(s_j − s_i)))

    averaged over the valid candidates i that have at least one valid lower-graded j (with a
    single such j it is RankNet's pair loss). σ = ``sigma``. Shift-invariant in the scores.
    """

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        self.sigma = positive_number("loss 'ranklist'", "sigma", sigma)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("ranklist", scores, targets, mask)
        pairs = ordered_pairs(targets, mask)  # [b, i, j]: t_i > t_j
        ninf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
        logits = self.sigma * (scores.unsqueeze(1) - scores.unsqueeze(2))  # s_j - s_i
        logits = torch.where(pairs, logits, ninf)
        zeros = torch.zeros_like(logits[:, :, :1])
        per_item = torch.logsumexp(torch.cat([zeros, logits], dim=2), dim=2)
        has = pairs.any(dim=2)
        count = has.sum(dim=1)
        total = torch.where(has, per_item, torch.zeros_like(per_item)).sum(dim=1)
        per_row = total / count.clamp(min=1).to(scores.dtype)
        return row_mean(per_row, count > 0, scores)


class LiPOLambda(torch.nn.Module):
    """unverified: LiPO-λ (Liu et al., "LiPO: Listwise Preference Optimization through
    Learning-to-Rank", 2024): the Lambda-weighted pairwise logistic loss.

    Per row: Σ_{t_i > t_j} Δ_ij · log(1 + exp(−β(s_i − s_j))), with the Lambda weight
    Δ_ij = |G_i − G_j| · |1/D(τ_i) − 1/D(τ_j)|, G = 2^t − 1, D(τ) = log2(1 + τ) and τ the
    current 1-based rank by score among the row's valid candidates (ties broken by index; no
    gradient through ranks). Unlike ``lambdaloss`` the weights are not divided by the ideal
    DCG. β = ``beta`` (the scores are taken to be the policy's rewards already).
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = positive_number("loss 'lipo-lambda'", "beta", beta)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("lipo-lambda", scores, targets, mask)
        pairs = ordered_pairs(targets, mask)
        gains = graded_gains(targets.detach().to(scores.dtype))
        delta = swap_dcg_delta(gains, scores, mask)
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)
        values = delta * torch.nn.functional.softplus(-self.beta * diff)
        zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
        per_row = torch.where(pairs, values, zero).sum(dim=(1, 2))
        return row_mean(per_row, pairs.any(dim=(1, 2)), scores)


class ApproxNDCG(torch.nn.Module):
    """exact: ApproxNDCG (Qin, Liu & Li, "A general approximation framework for direct
    optimization of information retrieval measures", Information Retrieval 13, 2010).

    Per row, over the valid candidates: the rank is approximated by
    π̂_i = 1 + Σ_{j≠i} σ((s_j − s_i)/T), T = ``temperature``, and the loss is
    1 − Σ_i G_i / log2(1 + π̂_i) / IDCG, G = 2^t − 1, IDCG the ideal DCG of the valid
    candidates. Rows with IDCG <= 0 are skipped. Invariant to a shift of a row's scores;
    scaling the scores and T by the same c leaves it unchanged.
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = positive_number("loss 'approx-ndcg'", "temperature", temperature)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("approx-ndcg", scores, targets, mask)
        gains = graded_gains(targets.detach().to(scores.dtype))
        idcg = ideal_dcg(gains, mask)
        diff = (scores.unsqueeze(1) - scores.unsqueeze(2)) / self.temperature  # s_j - s_i
        others = mask.unsqueeze(1) & ~torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
        sig = torch.where(others, torch.sigmoid(diff), torch.zeros_like(diff))
        approx_rank = 1.0 + sig.sum(dim=2)
        dcg_terms = torch.where(mask, gains / torch.log2(1.0 + approx_rank), 0.0 * gains)
        ndcg = dcg_terms.sum(dim=1) / idcg.clamp(min=torch.finfo(scores.dtype).tiny)
        return row_mean(1.0 - ndcg, idcg > 0, scores)
