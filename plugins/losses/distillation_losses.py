"""Distillation and classification-metric losses: Margin-MSE, KL distillation, CPRD, Dice,
Z-loss, AnyLoss.

Called as ``loss(scores[B, L], targets[B, L], mask=None)``: ``targets`` are a teacher's
scores (``margin-mse``, ``kl-distill``, ``cprd``), or relevance labels / probabilities in
[0, 1] (``dice``, ``anyloss``), or grades whose positives are ``> 0`` (``z-loss``). The
result is the mean of a per-row loss over the rows with a usable example (at least one
valid item, plus what the loss needs: a positive, a negative, two negatives); the others
are left out, and a batch with none gives a zero loss that still carries the graph.
"""

from __future__ import annotations

import torch

from rankarena import ParameterError
from rankarena.api.checks import check_choice, non_negative_number, positive_number
from rankarena.plugins.losses.contrastive_losses import (
    masked_log_softmax,
    prepare,
    row_mean,
    safe_mask,
)

__all__ = ["AnyLoss", "ContrastivePartialRankingDistillation", "DiceLoss", "KLDistillation"]
__all__ += ["MarginMSE", "ZLoss"]

_POSITIVE = ("first", "argmax")


def _positive_index(targets, mask, positive: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(index [B], has_positive [B])``: column 0, or the valid item with the top target."""
    B = targets.shape[0]
    if positive == "first":
        index = torch.zeros(B, dtype=torch.long, device=targets.device)
    else:
        index = targets.masked_fill(~mask, float("-inf")).argmax(1)
    return index, mask[torch.arange(B, device=targets.device), index]


def _negatives(mask, index) -> torch.Tensor:
    negatives = mask.clone()
    negatives[torch.arange(mask.shape[0], device=mask.device), index] = False
    return negatives


class MarginMSE(torch.nn.Module):
    """exact: Margin-MSE, match the student's positive-minus-negative margins to the teacher's.

    Formula (row b, positive ``p``, valid negatives ``N_b``):

        ℓ_b = (1/|N_b|) Σ_{j∈N_b} ((x_bp − x_bj) − (t_bp − t_bj))²

    ``positive="first"``: ``p`` is column 0 (the usual [pos, neg₁, …] layout; rows whose
    column 0 is masked are left out); ``positive="argmax"``: the valid item with the largest
    teacher score. With one negative per row this is exactly Hofstätter et al.'s loss; with
    several it averages over them. Invariant to adding a constant to a row of ``scores``
    (or of ``targets``). Source: Hofstätter, Althammer, Schröder, Sertkan & Hanbury 2020,
    "Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
    Distillation" (arXiv:2010.02666).
    """

    def __init__(self, positive: str = "first"):
        super().__init__()
        self.positive = check_choice("loss 'margin-mse'", "positive", positive, _POSITIVE)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "margin-mse")
        index, has_pos = _positive_index(targets, mask, self.positive)
        negatives = _negatives(mask, index)
        valid = has_pos & negatives.any(1)
        s_margin = scores.gather(1, index[:, None]) - scores
        t_margin = (targets.gather(1, index[:, None]) - targets).detach()
        w = negatives.to(scores.dtype)
        rows = ((s_margin - t_margin) ** 2 * w).sum(1) / w.sum(1).clamp(min=1.0)
        return row_mean(rows, valid, scores)


class KLDistillation(torch.nn.Module):
    """exact: KL distillation from a teacher's scores, τ²-scaled.

    Formula (row b, valid items): ``ℓ_b = τ² · KL(softmax(t_b/τ) ‖ softmax(x_b/τ))``.
    Zero when the student's scores equal the teacher's (up to a per-row constant).
    Source: Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network"
    (arXiv:1503.02531); the τ² factor keeps gradient magnitudes comparable across τ.
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        self.temperature = positive_number("loss 'kl-distill'", "temperature", temperature)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "kl-distill")
        valid = mask.any(1)
        calc = safe_mask(mask, valid)
        tau = self.temperature
        log_q = masked_log_softmax(scores / tau, calc)
        log_p = masked_log_softmax(targets.detach() / tau, calc)
        rows = (log_p.exp() * (log_p - log_q)).masked_fill(~calc, 0.0).sum(1)
        return tau**2 * row_mean(rows, valid, scores)


class ContrastivePartialRankingDistillation(torch.nn.Module):
    """adapted (``select="teacher"``, the default) or exact in its selection
    (``select="student"``): CPRD, distil the teacher's relative order among hard negatives.

    Our reading of "contrastive partial ranking distillation": the positive is excluded
    (it is the contrastive loss's business), and the student is taught the teacher's
    ranking of the negatives only, truncated to its top ``k`` positions (a *partial*
    ranking), by a Plackett-Luce / ListMLE term in which each of the teacher's top
    negatives is contrasted against every negative the teacher ranks below it:

        π = the row's valid negatives sorted by teacher score, descending (stable)
        ℓ_b = (1/K) Σ_{r=1}^{K} −log( exp(x_{π_r}/τ) / Σ_{r'≥r} exp(x_{π_r'}/τ) ),
        K = min(top_k, n_b − 1)

    The positive is column 0 (``positive="first"``) or the valid item with the largest
    teacher score (``"argmax"``); rows with fewer than two valid negatives are left out.
    Sources: Xia et al. 2008, "Listwise Approach to Learning to Rank" (ListMLE), with
    the top-k truncation of Xia et al. 2009 ("Statistical Consistency of Top-k Ranking").

    ``select="student"`` is the paper's selection (CVPR 2024): the ``top_k`` hard negatives
    are those the dual encoder being trained (the student: ``scores``, detached) ranks
    highest, and the teacher orders them; the term then runs over all of them (K = their
    number − 1). ``select="teacher"`` (default, kept for existing runs) truncates the
    teacher's own ranking of every negative to its top ``top_k`` positions.
    """

    def __init__(
        self,
        top_k: int | None = None,
        temperature: float = 1.0,
        positive: str = "first",
        select: str = "teacher",
    ):
        super().__init__()
        where = "loss 'cprd'"
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise ParameterError(f"{where}: top_k must be an integer >= 1 or None, got {top_k!r}")
        self.top_k = top_k
        self.temperature = positive_number(where, "temperature", temperature)
        self.positive = check_choice(where, "positive", positive, _POSITIVE)
        self.select = check_choice(where, "select", select, ("teacher", "student"))

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "cprd")
        B, L = scores.shape
        index, has_pos = _positive_index(targets, mask, self.positive)
        negatives = _negatives(mask, index)
        if self.select == "student" and self.top_k is not None and self.top_k < L:
            student = scores.detach().masked_fill(~negatives, float("-inf"))
            hardest = student.argsort(dim=1, descending=True, stable=True)[:, : self.top_k]
            chosen = torch.zeros_like(negatives).scatter_(1, hardest, True)
            negatives = negatives & chosen
        count = negatives.sum(1)
        valid = has_pos & (count >= 2)
        order = (
            targets.detach()
            .masked_fill(~negatives, float("-inf"))
            .argsort(dim=1, descending=True, stable=True)
        )
        s = scores.gather(1, order) / self.temperature
        neg = negatives.gather(1, order)  # valid negatives first, in the teacher's order
        rank = torch.arange(L, device=scores.device)
        below = (rank[None, :] >= rank[:, None])[None] & neg[:, None, :]  # [B, r, r']
        below = below | torch.eye(L, dtype=torch.bool, device=scores.device)[None]
        lse = s[:, None, :].expand(B, L, L).masked_fill(~below, float("-inf")).logsumexp(2)
        k = (count - 1).clamp(min=1)
        if self.top_k is not None and self.select == "teacher":
            k = k.clamp(max=self.top_k)
        use = rank[None, :] < k[:, None]
        rows = ((lse - s) * use).sum(1) / k.to(scores.dtype)
        return row_mean(rows, valid, scores)


class DiceLoss(torch.nn.Module):
    """adapted (``scope="item"``, per item) or exact (``scope="batch"``, the authors' code):
    self-adjusting Dice loss.

    Formula (item j with probability ``p = σ(x_j)`` and label ``y = t_j ∈ [0, 1]``):

        DSC_j = 1 − (2·(1−p)^α·p·y + γ) / ((1−p)^α·p + y + γ)

    averaged over a row's valid items (``scope="item"``, the default: the paper's per-example
    formula). ``scope="batch"`` is the authors' code (``ShannonAI/dice_loss_for_NLP``): one
    set-level Dice over every valid item of the batch, q = (1−p)^α·p,

        DSC = 1 − (2·Σ q·y + γ) / (Σ q + Σ y + γ).

    ``α`` (``alpha``, 1 in the paper's formula) damps easy examples, ``γ`` (``gamma``)
    smooths. Source: Li, Sun, Meng, Liang, Wu & Li, ACL 2020, "Dice Loss for
    Data-imbalanced NLP Tasks" (arXiv:1911.02855).
    """

    def __init__(self, alpha: float = 1.0, gamma: float = 1.0, scope: str = "item"):
        super().__init__()
        where = "loss 'dice'"
        self.alpha = non_negative_number(where, "alpha", alpha)
        self.gamma = non_negative_number(where, "gamma", gamma)
        self.scope = check_choice(where, "scope", scope, ("item", "batch"))

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "dice")
        valid = mask.any(1)
        p = torch.sigmoid(scores)
        y = targets.detach().to(scores.dtype)
        q = (1 - p) ** self.alpha * p
        w = mask.to(scores.dtype)
        if self.scope == "batch":
            if not bool(valid.any()):
                return scores.sum() * 0.0
            numerator = 2 * (q * y * w).sum() + self.gamma
            return 1 - numerator / ((q * w).sum() + (y * w).sum() + self.gamma)
        dsc = 1 - (2 * q * y + self.gamma) / (q + y + self.gamma)
        rows = (dsc * w).sum(1) / w.sum(1).clamp(min=1.0)
        return row_mean(rows, valid, scores)


class ZLoss(torch.nn.Module):
    """unverified: Z-loss, a softplus on the z-normalised score of the positive.

    Formula (row b, valid items ``V_b``, positives ``P_b = {j ∈ V_b : t_bj > 0}``):

        z_bj = (x_bj − μ_b) / sqrt(σ_b² + ε),  μ_b, σ_b² = mean, population variance over V_b
        ℓ_b = (1/|P_b|) Σ_{c∈P_b} (1/a) · softplus(a · (b − z_bc))

    Shift- and scale-invariant per row (up to ε). ``a`` (``a``) sets the softplus sharpness
    and ``b`` (``b``) the target z-score of the positive; the paper tunes both, the defaults
    here are ours. Rows without a positive are left out. Source: de Brébisson & Vincent
    2016, "The Z-loss: a shift and scale invariant classification loss belonging to the
    Spherical Family" (arXiv:1604.08859).
    """

    def __init__(self, a: float = 1.0, b: float = 1.0, eps: float = 1e-6):
        super().__init__()
        where = "loss 'z-loss'"
        self.a = positive_number(where, "a", a)
        self.b = float(b)
        self.eps = positive_number(where, "eps", eps)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "z-loss")
        positives = (targets > 0) & mask
        valid = positives.any(1)
        w = mask.to(scores.dtype)
        n = w.sum(1, keepdim=True).clamp(min=1.0)
        mu = (scores * w).sum(1, keepdim=True) / n
        var = ((scores - mu) ** 2 * w).sum(1, keepdim=True) / n
        z = (scores - mu) / torch.sqrt(var + self.eps)
        term = torch.nn.functional.softplus(self.a * (self.b - z)) / self.a
        pw = positives.to(scores.dtype)
        rows = (term * pw).sum(1) / pw.sum(1).clamp(min=1.0)
        return row_mean(rows, valid, scores)


_METRICS = ("f1", "accuracy", "balanced-accuracy")


class AnyLoss(torch.nn.Module):
    """adapted (``scope="row"``) or exact (``scope="batch"``, the paper's mini-batch): AnyLoss,
    1 − a confusion-matrix metric computed from amplified probabilities.

    Formula (row b, valid items, ``p = σ(x)``, labels ``y = t ∈ [0, 1]``, amplifier ``L``):

        A = σ(L · (p − 1/2))                        (approximated 0/1 prediction)
        TP = Σ y·A,  FN = Σ y·(1−A),  FP = Σ (1−y)·A,  TN = Σ (1−y)·(1−A)
        f1 = 2TP / (2TP + FP + FN + ε);  accuracy = (TP + TN) / n;
        balanced-accuracy = ½ (TP / (TP + FN + ε) + TN / (TN + FP + ε))
        ℓ_b = 1 − metric

    computed per row (one query's candidates; ``scope="row"``, the default), or, as in the
    paper, once over the mini-batch (``scope="batch"``: the sums run over every valid item of
    every row, and the loss is that one 1 − metric). Source: Han, Moniz & Chawla 2024,
    "AnyLoss: Transforming Classification Metrics into Loss Functions" (KDD 2024);
    ``amplify`` defaults to the paper's L = 73.
    """

    def __init__(
        self, metric: str = "f1", amplify: float = 73.0, eps: float = 1e-8, scope: str = "row"
    ):
        super().__init__()
        where = "loss 'anyloss'"
        self.scope = check_choice(where, "scope", scope, ("row", "batch"))
        self.metric = check_choice(where, "metric", metric, _METRICS)
        self.amplify = positive_number(where, "amplify", amplify)
        self.eps = positive_number(where, "eps", eps)

    def forward(self, scores, targets, mask=None):
        mask = prepare(scores, targets, mask, "anyloss")
        valid = mask.any(1)
        w = mask.to(scores.dtype)
        a = torch.sigmoid(self.amplify * (torch.sigmoid(scores) - 0.5))
        y = targets.detach().to(scores.dtype)
        dims = (0, 1) if self.scope == "batch" else (1,)
        tp = (y * a * w).sum(dims)
        fn = (y * (1 - a) * w).sum(dims)
        fp = ((1 - y) * a * w).sum(dims)
        tn = ((1 - y) * (1 - a) * w).sum(dims)
        if self.metric == "f1":
            value = 2 * tp / (2 * tp + fp + fn + self.eps)
        elif self.metric == "accuracy":
            value = (tp + tn) / w.sum(dims).clamp(min=1.0)
        else:
            value = (tp / (tp + fn + self.eps) + tn / (tn + fp + self.eps)) / 2
        if self.scope == "batch":
            return 1 - value if bool(valid.any()) else scores.sum() * 0.0
        return row_mean(1 - value, valid, scores)
