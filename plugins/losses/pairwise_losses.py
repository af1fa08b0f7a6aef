"""Built-in pairwise ranking losses: ``hinge``, ``ranknet``, ``pairwise-logistic``, ``mw``,
``lambdaloss`` and ``multi-similarity``.

A loss is called as ``loss(scores[B, L], targets[B, L], mask=None)``: row b holds one query's
L candidate scores, ``targets`` their relevance grades (or teacher scores) and ``mask`` (bool,
optional) the valid candidates. Masked candidates take part in no pair. Each loss computes one
value per row and returns the mean over the rows that have at least one valid pair (a batch
with none gives a zero that still carries a gradient). In-batch training is
``loss(q @ d.T / tau, torch.eye(B))``.

A pair (i, j) of a row is *ordered* when both are valid and t_i > t_j; for
``pairwise-logistic``, ``mw`` and ``multi-similarity`` a candidate is *positive* when t > 0
and *negative* otherwise. ``mw`` alone pairs scores across rows (the whole batch).
"""

from __future__ import annotations

import torch

from rankarena import ParameterError
from rankarena.api.checks import finite_number, non_negative_number, positive_number
from rankarena.plugins.losses.contrastive_losses import row_mean

# ----------------------------------------------------------------------------- helpers


def check_inputs(name: str, scores, targets, mask) -> torch.Tensor:
    """Validate shapes and return the mask as a bool tensor (all True when ``None``)."""
    if scores.dim() != 2 or targets.shape != scores.shape:
        raise ValueError(
            f"{name}: scores and targets must both be [B, L], got {tuple(scores.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if mask is None:
        return torch.ones_like(scores, dtype=torch.bool)
    if mask.shape != scores.shape:
        raise ValueError(f"{name}: mask must be {tuple(scores.shape)}, got {tuple(mask.shape)}")
    return mask.to(dtype=torch.bool, device=scores.device)


def ordered_pairs(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, L]`` bool: i and j valid and t_i > t_j."""
    both = mask.unsqueeze(2) & mask.unsqueeze(1)
    return both & (targets.unsqueeze(2) > targets.unsqueeze(1))


def _positive_negative_pairs(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, L]`` bool: i a valid positive (t > 0), j a valid negative (t <= 0)."""
    pos = mask & (targets > 0)
    neg = mask & ~(targets > 0)
    return pos.unsqueeze(2) & neg.unsqueeze(1)


def _pair_mean(values: torch.Tensor, pairs: torch.Tensor, scores: torch.Tensor):
    """Per-row mean of ``values`` over ``pairs``, then the mean over rows with a pair."""
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    count = pairs.sum(dim=(1, 2))
    total = torch.where(pairs, values, zero).sum(dim=(1, 2))
    per_row = total / count.clamp(min=1).to(values.dtype)
    return row_mean(per_row, count > 0, scores)


def _current_ranks(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1-based rank of each valid candidate by descending score among the row's valid ones.

    Ties are broken by candidate index (earlier first); masked candidates rank after every
    valid one (their rank is never used). No gradient flows through ranks.
    """
    s = scores.detach().masked_fill(~mask, float("-inf"))
    order = torch.sort(s, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    positions = torch.arange(1, s.shape[1] + 1, device=s.device).expand_as(order)
    ranks.scatter_(1, order, positions)
    return ranks.to(scores.dtype)


def graded_gains(targets: torch.Tensor) -> torch.Tensor:
    return torch.pow(2.0, targets) - 1.0


def swap_dcg_delta(gains: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[b, i, j]``: |ΔDCG| of swapping candidates i and j at their current ranks,
    |G_i − G_j| · |1/log2(1 + r_i) − 1/log2(1 + r_j)| (unnormalised)."""
    inv_disc = 1.0 / torch.log2(1.0 + _current_ranks(scores, mask))
    delta = (gains.unsqueeze(2) - gains.unsqueeze(1)).abs()
    return delta * (inv_disc.unsqueeze(2) - inv_disc.unsqueeze(1)).abs()


def ideal_dcg(gains: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row DCG of the valid candidates sorted by gain (discount 1/log2(1 + rank))."""
    g = gains.detach().masked_fill(~mask, float("-inf"))
    g = torch.sort(g, dim=1, descending=True).values
    positions = torch.arange(1, g.shape[1] + 1, device=g.device, dtype=gains.dtype)
    discounts = 1.0 / torch.log2(1.0 + positions)
    g = torch.where(torch.isfinite(g), g, torch.zeros_like(g))
    return (g * discounts).sum(dim=1)


# ----------------------------------------------------------------------------- losses


class HingeLoss(torch.nn.Module):
    """exact: pairwise margin (triplet) hinge loss.

    Per row: mean over ordered pairs (t_pos > t_neg) of max(0, m − s_pos + s_neg), m the
    ``margin``. The margin-ranking / triplet loss of Weston & Watkins (1999) and Schroff et
    al., "FaceNet", CVPR 2015; the standard hinge baseline of DPR-style training.
    """

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = non_negative_number("loss 'hinge'", "margin", margin)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("hinge", scores, targets, mask)
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)  # [B, i, j] = s_i - s_j
        values = torch.relu(self.margin - diff)
        return _pair_mean(values, ordered_pairs(targets, mask), scores)


class RankNet(torch.nn.Module):
    """exact: RankNet (Burges et al., "Learning to Rank using Gradient Descent", ICML 2005).

    Per row: mean over ordered pairs (t_i > t_j) of the binary cross-entropy with logits of
    σ·(s_i − s_j) against the label 1, i.e. log(1 + exp(−σ(s_i − s_j))), σ = ``sigma``.
    Invariant to a shift of a row's scores; scaling the scores by c and σ by 1/c leaves it
    unchanged.
    """

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        self.sigma = positive_number("loss 'ranknet'", "sigma", sigma)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("ranknet", scores, targets, mask)
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)
        values = torch.nn.functional.softplus(-self.sigma * diff)
        return _pair_mean(values, ordered_pairs(targets, mask), scores)


class PairwiseLogisticLoss(torch.nn.Module):
    """exact: RankNet's cost (Burges et al., ICML 2005) on a row's (positive, negative)
    pairs only: the built-in ``mw`` before the published MW loss replaced it, kept under
    the name it deserves.

    Per row: mean over the row's (positive p, negative n) pairs of −log σ(s_p − s_n) =
    log(1 + e^{−(s_p − s_n)}), positive meaning t > 0 and negative t <= 0 (grades above zero
    are all "positive", unlike ``ranknet``, which orders every pair of distinct grades);
    then the mean over rows with a pair. Invariant to a shift of one row's scores: it sees
    no score of another query, which is what the MW loss (``mw``) is built not to be.
    """

    def __init__(self) -> None:  # no parameters (an explicit signature for the registry)
        super().__init__()

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("pairwise-logistic", scores, targets, mask)
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)
        values = torch.nn.functional.softplus(-diff)
        return _pair_mean(values, _positive_negative_pairs(targets, mask), scores)


MW_REDUCTIONS = ("sum", "mean")


class MannWhitneyLoss(torch.nn.Module):
    """exact: the MW loss of Sheikholeslami et al., "Optimizing What Matters: AUC-Driven
    Learning for Robust Neural Retrieval", arXiv:2510.00137 (2025), equation 3.

        L = (1/B) Σ_{i=1..B} Σ_{s⁻ ∈ S⁻} ℓ(s⁺_i − s⁻),   ℓ(z) = log(1 + e^{−z/τ})

    s⁺_i are the batch's positive scores (valid entries with t > 0: one per row in the
    in-batch layout, B of them) and S⁻ holds *every* valid non-positive score of the batch,
    of all rows: each query's hard negatives and the other rows' documents (the
    off-diagonal in-batch scores). A positive is thus compared with the negatives of other
    queries too, so the loss asks for one threshold separating positives from negatives
    across queries (the AUC of the pooled scores), where a contrastive loss only orders
    each query's own candidates and is blind to a per-query shift (the paper's Lemma 1).
    Adding a constant to one row's scores changes this loss.

    :param tau: the temperature τ (0.01, the paper's experiments); the loss sees the
        unscaled cosine similarities (``applies_scale``: the trainer's ``scale`` is not
        applied).
    :param reduction: ``"sum"`` over S⁻ as in equation 3 (default), or ``"mean"``: the
        mean over all (positive, s⁻) pairs, the same loss divided by |S⁻|.
    Masked entries are neither positives nor in S⁻. A batch without a positive or
    without a negative gives a zero that still carries a gradient.
    """

    applies_scale = True

    def __init__(self, tau: float = 0.01, reduction: str = "sum"):
        super().__init__()
        self.tau = positive_number("loss 'mw'", "tau", tau)
        if reduction not in MW_REDUCTIONS:
            raise ParameterError(
                f"loss 'mw': reduction must be one of {', '.join(MW_REDUCTIONS)}, got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("mw", scores, targets, mask)
        positive = mask & (targets > 0)
        negative = mask & ~(targets > 0)
        s_pos, s_neg = scores[positive], scores[negative]
        if len(s_pos) == 0 or len(s_neg) == 0:
            return scores.sum() * 0.0
        values = torch.nn.functional.softplus(-(s_pos.unsqueeze(1) - s_neg.unsqueeze(0)) / self.tau)
        if self.reduction == "mean":
            return values.mean()
        return values.sum() / len(s_pos)


class LambdaLoss(torch.nn.Module):
    """exact: NDCG-weighted pairwise logistic loss, LambdaRank in the LambdaLoss framework.

    Wang et al., "The LambdaLoss Framework for Ranking Metric Optimization", CIKM 2018
    (LambdaRank: Burges et al., NeurIPS 2006). Per row:

        Σ_{t_i > t_j} |ΔNDCG_ij| · log(1 + exp(−σ(s_i − s_j)))

    with |ΔNDCG_ij| = |G_i − G_j| · |1/D(r_i) − 1/D(r_j)| / IDCG the change in NDCG from
    swapping i and j, G = 2^t − 1, D(r) = log2(1 + r), r the current 1-based rank by score
    among the row's valid candidates (ties broken by index; no gradient through ranks) and
    IDCG the ideal DCG of the valid candidates. The weighted pair losses are summed within a
    row (as in LambdaLoss); rows with no ordered pair or IDCG <= 0 are skipped. σ = ``sigma``.
    """

    def __init__(self, sigma: float = 1.0):
        super().__init__()
        self.sigma = positive_number("loss 'lambdaloss'", "sigma", sigma)

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("lambdaloss", scores, targets, mask)
        pairs = ordered_pairs(targets, mask)
        gains = graded_gains(targets.detach().to(scores.dtype))
        idcg = ideal_dcg(gains, mask)
        delta = swap_dcg_delta(gains, scores, mask)
        delta = delta / idcg.clamp(min=torch.finfo(scores.dtype).tiny).view(-1, 1, 1)
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)
        values = delta * torch.nn.functional.softplus(-self.sigma * diff)
        zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
        per_row = torch.where(pairs, values, zero).sum(dim=(1, 2))
        return row_mean(per_row, pairs.any(dim=(1, 2)) & (idcg > 0), scores)


class MultiSimilarityLoss(torch.nn.Module):
    """adapted: Multi-Similarity loss (Wang et al., "Multi-Similarity Loss with General Pair
    Weighting for Deep Metric Learning", CVPR 2019), with the query as the anchor.

    Per row (positives t > 0, negatives t <= 0, both sets non-empty):

        (1/α) log(1 + Σ_{p∈P} e^{−α(s_p − λ)}) + (1/β) log(1 + Σ_{n∈N} e^{β(s_n − λ)})

    With ``mining`` (the paper's pair mining, eq. 7–8), only the negatives with
    s_n + ε > min_p s_p and the positives with s_p − ε < max_n s_n enter the sums (computed on
    the unmined sets, without gradient). Without it every positive and negative is used.

    Adapted, by source: the defaults mix the paper and the authors' code
    (``MalongTech/research-ms-loss``): α = 2 (both), β = 50 (the paper; the code's is 40),
    λ = ``base`` = 0.5 (the code's), ε = 0.1 (both). An anchor whose mined sets are empty
    (they are empty together: a negative is kept iff above min_p − ε, a positive iff below
    max_n + ε) contributes 0 and counts in the mean, as in the authors' code, which skips
    it and divides the sum by the batch size.
    """

    def __init__(
        self,
        alpha: float = 2.0,
        beta: float = 50.0,
        base: float = 0.5,
        epsilon: float = 0.1,
        mining: bool = True,
    ):
        super().__init__()
        where = "loss 'multi-similarity'"
        self.alpha = positive_number(where, "alpha", alpha)
        self.beta = positive_number(where, "beta", beta)
        self.base = finite_number(where, "base", base)
        self.epsilon = non_negative_number(where, "epsilon", epsilon)
        if not isinstance(mining, bool):
            raise ParameterError(f"{where}: mining must be a bool, got {mining!r}")
        self.mining = mining

    def forward(self, scores, targets, mask=None):
        mask = check_inputs("multi-similarity", scores, targets, mask)
        pos = mask & (targets > 0)
        neg = mask & ~(targets > 0)
        row_valid = pos.any(dim=1) & neg.any(dim=1)
        if self.mining:
            s = scores.detach()
            inf = torch.tensor(float("inf"), dtype=s.dtype, device=s.device)
            min_pos = torch.where(pos, s, inf).amin(dim=1, keepdim=True)
            max_neg = torch.where(neg, s, -inf).amax(dim=1, keepdim=True)
            pos = pos & (s - self.epsilon < max_neg)
            neg = neg & (s + self.epsilon > min_pos)
        ninf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
        zeros = torch.zeros_like(scores[:, :1])
        pos_logits = torch.where(pos, -self.alpha * (scores - self.base), ninf)
        neg_logits = torch.where(neg, self.beta * (scores - self.base), ninf)
        pos_term = torch.logsumexp(torch.cat([zeros, pos_logits], dim=1), dim=1) / self.alpha
        neg_term = torch.logsumexp(torch.cat([zeros, neg_logits], dim=1), dim=1) / self.beta
        return row_mean(pos_term + neg_term, row_valid, scores)
