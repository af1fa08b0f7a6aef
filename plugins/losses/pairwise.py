"""The plugin of the built-in pairwise losses: it registers them, and the losses themselves
(``rankarena.plugins.losses.pairwise_losses``, where each class states its formula and its
source) are imported only when the losses registry is first built, so that loading the
plugin host (``rankarena eval``, ``aggregate``, ...) does not import torch."""

from __future__ import annotations

import rankarena


@rankarena.hookimpl
def register_losses(register) -> None:
    from rankarena.plugins.losses import pairwise_losses as losses

    register("hinge", losses.HingeLoss)
    register("ranknet", losses.RankNet)
    register("pairwise-logistic", losses.PairwiseLogisticLoss)
    register("mw", losses.MannWhitneyLoss)
    register("lambdaloss", losses.LambdaLoss)
    register("multi-similarity", losses.MultiSimilarityLoss)
