"""The plugin of the built-in distillation losses: it registers them, and the losses themselves
(``rankarena.plugins.losses.distillation_losses``, where each class states its formula and its
source) are imported only when the losses registry is first built, so that loading the
plugin host (``rankarena eval``, ``aggregate``, ...) does not import torch."""

from __future__ import annotations

import rankarena


@rankarena.hookimpl
def register_losses(register) -> None:
    from rankarena.plugins.losses import distillation_losses as losses

    register("margin-mse", losses.MarginMSE)
    register("kl-distill", losses.KLDistillation)
    register("cprd", losses.ContrastivePartialRankingDistillation)
    register("dice", losses.DiceLoss)
    register("z-loss", losses.ZLoss)
    register("anyloss", losses.AnyLoss)
