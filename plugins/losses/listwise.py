"""The plugin of the built-in listwise losses: it registers them, and the losses themselves
(``rankarena.plugins.losses.listwise_losses``, where each class states its formula and its
source) are imported only when the losses registry is first built, so that loading the
plugin host (``rankarena eval``, ``aggregate``, ...) does not import torch."""

from __future__ import annotations

import rankarena


@rankarena.hookimpl
def register_losses(register) -> None:
    from rankarena.plugins.losses import listwise_losses as losses

    register("listnet", losses.ListNet)
    register("listmle", losses.ListMLE)
    register("ranklist", losses.RankList)
    register("lipo-lambda", losses.LiPOLambda)
    register("approx-ndcg", losses.ApproxNDCG)
