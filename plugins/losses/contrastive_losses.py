"""Contrastive losses: InfoNCE / MNRL, Soft-InfoNCE, adaptive multi-head InfoNCE, soft-label KL.

Every loss is called as ``loss(scores[B, L], targets[B, L], mask=None)`` and returns the
mean, over the rows that hold a usable example, of a per-row loss. Row ``b`` holds one
query's ``L`` candidate scores; ``mask[B, L]`` (bool) marks valid candidates (all valid when
``None``). Rows that contribute nothing (no valid item, or no positive where the loss needs
one) are left out of the mean; a batch with no usable row gives a zero loss that still
carries the graph. In-batch training: ``scores = q @ d.T`` and ``targets = eye(B)``.
"""

from __future__ import annotations

import math

import torch

from rankarena import ParameterError
from rankarena.api.checks import check_choice, non_negative_number, positive_number

__all__ = ["AdaptiveMultiHeadContrastive", "InfoNCE", "SoftInfoNCE", "SoftLabelAlignment"]


# --------------------------------------------------------------------------- helpers
def prepare(
    scores: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None, name: str
) -> torch.Tensor:
    """Check shapes; return ``mask`` as a bool tensor (all True when ``None``)."""
    if scores.dim() != 2:
        raise ValueError(f"{name}: scores must be [B, L], got shape {tuple(scores.shape)}")
    if targets.shape != scores.shape:
        raise ValueError(
            f"{name}: targets shape {tuple(targets.shape)} != scores shape {tuple(scores.shape)}"
        )
    if mask is None:
        return torch.ones_like(scores, dtype=torch.bool)
    if mask.shape != scores.shape:
        raise ValueError(
            f"{name}: mask shape {tuple(mask.shape)} != scores shape {tuple(scores.shape)}"
        )
    return mask.bool()


def row_mean(per_row: torch.Tensor, valid: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_row`` over ``valid`` rows; 0 (attached to ``anchor``'s graph) if none.

    The one row mean of every built-in loss (pairwise, listwise and distillation ones too).
    With no valid row the zero keeps ``per_row``'s graph as well, so that a loss's own
    parameters (``amcl``'s temperatures) get a zero gradient rather than none.
    """
    count = valid.sum()
    total = torch.where(valid, per_row, torch.zeros_like(per_row)).sum()
    if int(count) == 0:
        return total + 0.0 * anchor.sum()
    return total / count


def safe_mask(mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``mask`` with the unused rows made all-True, so masked reductions stay finite there."""
    return mask | ~valid.unsqueeze(-1)


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log-softmax over the masked entries along ``dim`` (every slice needs one True)."""
    lse = logits.masked_fill(~mask, float("-inf")).logsumexp(dim, keepdim=True)
    return logits - lse


def resolve_scale(scale: float | None, temperature: float | None, where: str) -> float:
    if scale is not None and temperature is not None:
        raise ParameterError(
            f"{where}: give scale or temperature (scale = 1/temperature), not both"
        )
    if temperature is not None:
        return 1.0 / positive_number(where, "temperature", temperature)
    return positive_number(where, "scale", 20.0 if scale is None else scale)


def infonce_rows(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, dim: int = -1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-slice InfoNCE along ``dim``: mean over positives (target > 0) of −log softmax.

    Returns ``(loss, valid)`` with ``dim`` reduced; ``valid`` marks slices with a positive.
    """
    positives = (targets > 0) & mask
    valid = positives.any(dim)
    calc = mask | ~valid.unsqueeze(dim)
    logp = masked_log_softmax(logits, calc, dim)
    weight = positives.to(logits.dtype)
    loss = -(logp * weight).sum(dim) / weight.sum(dim).clamp(min=1.0)
    return loss, valid


# --------------------------------------------------------------------------- losses
class InfoNCE(torch.nn.Module):
    """exact: InfoNCE / multiple-negatives ranking loss over each row's candidates.

    Formula (row b, scale ``s = 1/τ``, positives ``P_b = {j : targets[b, j] > 0, mask[b, j]}``,
    valid candidates ``V_b``):

        ℓ_b = −(1/|P_b|) Σ_{p∈P_b} log( exp(s·x_bp) / Σ_{j∈V_b} exp(s·x_bj) )

    i.e. with several positives per row the loss is the average over them of the
    single-positive term, each contrasted against the whole row (other positives
    included). Rows without a positive are left out. ``symmetric=True`` (square, in-batch
    matrices only) adds the same term column-wise (document → query) and returns
    ``(row_mean + column_mean) / 2``, as sentence-transformers'
    ``MultipleNegativesSymmetricRankingLoss`` / ``MultipleNegativesRankingLoss(directions=
    ("query_to_doc", "doc_to_query"), partition_mode="per_direction")``.

    Sources: van den Oord, Li & Vinyals 2018, "Representation Learning with Contrastive
    Predictive Coding" (arXiv:1807.03748); Henderson et al. 2017 and sentence-transformers'
    ``MultipleNegativesRankingLoss`` (default scale 20, i.e. τ = 0.05, on cosine scores).
    Shift-invariant per row: adding a constant to a row's scores leaves the loss unchanged.
    """

    applies_scale = True  # scales the similarities itself (see the trainer)

    def __init__(
        self,
        scale: float | None = None,
        temperature: float | None = None,
        symmetric: bool = False,
    ):
        super().__init__()
        self.scale = resolve_scale(scale, temperature, "loss 'infonce'")
        self.symmetric = bool(symmetric)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "infonce")
        logits = scores * self.scale
        rows, valid = infonce_rows(logits, targets, mask, dim=1)
        loss = row_mean(rows, valid, scores)
        if not self.symmetric:
            return loss
        if scores.shape[0] != scores.shape[1]:
            raise ValueError(
                f"infonce: symmetric=True needs a square [B, B] matrix, got {tuple(scores.shape)}"
            )
        cols, col_valid = infonce_rows(logits, targets, mask, dim=0)
        return (loss + row_mean(cols, col_valid, scores)) / 2


class SoftInfoNCE(torch.nn.Module):
    """exact: Soft-InfoNCE, InfoNCE whose negatives are weighted in the denominator, with the
    weights of the authors' code.

    Source: Li, Zhou, Luu & Miao, "Rethinking Negative Pairs in Code Search", EMNLP 2023
    (arXiv:2310.08069), which inserts weights ``w_j`` on the negative terms of InfoNCE so
    that likely-relevant (false) negatives are pushed away less; the weights are those of
    the authors' code (``Soft-InfoNCE/CodeBERT/models.py``):

        ℓ_b = −log( e^{s·x_bp} / (e^{s·x_bp} + Σ_{j∈N_b} w_bj e^{s·x_bj}) )
        w_bj = max(floor, (β − α·π_bj) / (β − α/n_b)),    π_bj = softmax_{j∈N_b}(r_bj / τ_w)

    where ``p`` is the row's positive (argmax of ``targets`` over valid items, first on
    ties), ``N_b`` the other valid items (``n_b`` of them), ``r_bj`` a relevance estimate
    for each negative, α = ``alpha``, β = ``beta``, ``floor`` = 0.1 (the code's) and τ_w =
    ``weight_temperature``. Without the floor the weights average 1 over a row's negatives
    (the total negative mass is kept) and decrease with the estimated relevance; they are
    constants (no gradient). ``weights="targets"``: ``r`` = the given soft ``targets``
    (e.g. BM25 or a trained model's scores, as in the paper); ``weights="scores"``: ``r`` =
    the detached ``scores`` themselves. ``alpha=0`` gives ``infonce``. β must exceed α/n_b
    on every row (a ParameterError otherwise): settings with α ≥ β are allowed, as in the
    paper. Changed in issue 20: ``beta`` was the ratio α/β in [0, 1) and there was no floor.
    """

    applies_scale = True  # scales the similarities itself (see the trainer)

    def __init__(
        self,
        scale: float | None = None,
        temperature: float | None = None,
        alpha: float = 0.5,
        beta: float = 1.0,
        floor: float = 0.1,
        weights: str = "targets",
        weight_temperature: float = 1.0,
    ):
        super().__init__()
        where = "loss 'soft-infonce'"
        self.scale = resolve_scale(scale, temperature, where)
        self.alpha = non_negative_number(where, "alpha", alpha)
        self.beta = positive_number(where, "beta", beta)
        self.floor = non_negative_number(where, "floor", floor)
        self.weights = check_choice(where, "weights", weights, ("targets", "scores"))
        self.weight_temperature = positive_number(where, "weight_temperature", weight_temperature)

    def negative_weights(self, scores, targets, mask):
        """``(positive index [B], negatives mask [B, L], weights [B, L])`` (weights detached)."""
        pos = targets.masked_fill(~mask, float("-inf")).argmax(1)
        negatives = mask.clone()
        negatives[torch.arange(scores.shape[0]), pos] = False
        relevance = (targets if self.weights == "targets" else scores).detach()
        count = negatives.sum(1, keepdim=True).to(scores.dtype)
        denominator = self.beta - self.alpha / count.clamp(min=1)
        if bool(((denominator <= 0) & (count > 0)).any()):
            raise ParameterError(
                f"loss 'soft-infonce': beta ({self.beta}) must exceed alpha / n ({self.alpha} / "
                f"{int(count[count > 0].min())} negatives in a row)"
            )
        calc = negatives | ~negatives.any(1, keepdim=True)
        pi = torch.softmax(
            (relevance / self.weight_temperature).masked_fill(~calc, float("-inf")), dim=1
        )
        w = ((self.beta - self.alpha * pi) / denominator.clamp(min=1e-12)).clamp(min=self.floor)
        return pos, negatives, torch.where(negatives, w, torch.zeros_like(w)).detach()

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "soft-infonce")
        valid = mask.any(1)
        calc = safe_mask(mask, valid)
        pos, negatives, w = self.negative_weights(scores, targets, calc)
        logits = scores * self.scale
        pos_logit = logits.gather(1, pos[:, None])
        # log(e^{x_p} + Σ w_j e^{x_j}) = logsumexp over {x_p} ∪ {x_j + log w_j}
        terms = torch.where(negatives, logits + torch.log(w.clamp(min=1e-30)), logits)
        keep = negatives.clone()
        keep[torch.arange(scores.shape[0]), pos] = True
        lse = terms.masked_fill(~keep, float("-inf")).logsumexp(1)
        return row_mean(lse - pos_logit[:, 0], valid, scores)


class AdaptiveMultiHeadContrastive(torch.nn.Module):
    """unverified: adaptive multi-head contrastive loss (AMCL): InfoNCE per head, each head with its
    own learnable temperature, averaged over the heads.

    Interface: ``scores`` is ``[B, H, L]`` (one ``[B, L]`` score matrix per head, e.g. per
    embedding head or sub-space) or ``[B, H·L]`` laid out head-major (columns
    ``h·L … h·L+L−1`` belong to head ``h``); ``targets`` and ``mask`` are ``[B, L]`` and
    shared by the heads. Head ``h`` has a learnable log-scale ``θ_h`` (``nn.Parameter``,
    initialised to ``log(scale)``; scale ``s_h = min(exp θ_h, max_scale)`` as CLIP's
    learnable logit scale), and

        ℓ = (1/H) Σ_h InfoNCE(s_h · x_h, targets, mask)

    with InfoNCE as in ``infonce`` (mean over a row's positives, rows without one left
    out). Our reading of "adaptive multi-head contrastive learning" (the learnable
    per-head temperature is the "adaptive" part); see Radford et al. 2021 (CLIP) for the
    learnable temperature and van den Oord et al. 2018 for InfoNCE.
    """

    applies_scale = True  # scales the similarities itself (see the trainer)

    def __init__(
        self,
        heads: int = 1,
        scale: float | None = None,
        temperature: float | None = None,
        max_scale: float = 100.0,
        learnable: bool = True,
    ):
        super().__init__()
        where = "loss 'amcl'"
        if not isinstance(heads, int) or isinstance(heads, bool) or heads < 1:
            raise ParameterError(f"{where}: heads must be an integer >= 1, got {heads!r}")
        init = resolve_scale(scale, temperature, where)
        self.max_scale = positive_number(where, "max_scale", max_scale)
        if init > self.max_scale:
            raise ParameterError(f"{where}: scale {init} exceeds max_scale {self.max_scale}")
        self.heads = heads
        self.log_scale = torch.nn.Parameter(
            torch.full((heads,), math.log(init)), requires_grad=bool(learnable)
        )

    def head_scales(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=self.max_scale)

    def forward(self, scores, targets, mask=None):
        B, L = targets.shape
        H = self.heads
        if scores.dim() == 2 and scores.shape == (B, H * L):
            scores = scores.reshape(B, H, L)
        if scores.shape != (B, H, L):
            raise ValueError(
                f"amcl: scores must be [B, H, L] or [B, H*L] with H={H}, L={L}, "
                f"got {tuple(scores.shape)}"
            )
        mask = prepare(scores[:, 0], targets, mask, "amcl")
        scale = self.head_scales().to(scores.dtype)
        logits = scores * scale[None, :, None]
        rows, valid = infonce_rows(
            logits, targets[:, None].expand(B, H, L), mask[:, None].expand(B, H, L), dim=2
        )
        return row_mean(rows.mean(1), valid[:, 0], scores)


class SoftLabelAlignment(torch.nn.Module):
    """unverified: soft-label alignment to a judge's score matrix (UniME-V2).

    Formula (row b, valid items only):

        ℓ_b = KL( softmax(t_b / τ_t) ‖ softmax(x_b / τ) )
            = Σ_j P_bj (log P_bj − log Q_bj),  P = softmax(t/τ_t), Q = softmax(x/τ)

    with ``t`` the judge's (e.g. an MLLM's) soft relevance scores given as ``targets``.
    Zero when ``scores/τ`` equals ``targets/τ_t`` up to a per-row constant.
    Source: "UniME-V2: MLLM-as-a-Judge for Universal Multimodal Embedding Learning"
    (2025), soft-label alignment of the embedding model's similarity
    distribution to the judge's score distribution. Default temperatures are ours.
    """

    applies_scale = True  # scales the similarities itself (see the trainer)

    def __init__(self, temperature: float = 0.05, target_temperature: float = 0.05):
        super().__init__()
        where = "loss 'soft-label'"
        self.temperature = positive_number(where, "temperature", temperature)
        self.target_temperature = positive_number(where, "target_temperature", target_temperature)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "soft-label")
        valid = mask.any(1)
        calc = safe_mask(mask, valid)
        log_q = masked_log_softmax(scores / self.temperature, calc)
        log_p = masked_log_softmax(targets.detach() / self.target_temperature, calc)
        p = log_p.exp() * calc
        rows = (p * (log_p - log_q)).masked_fill(~calc, 0.0).sum(1)
        return row_mean(rows, valid, scores)
