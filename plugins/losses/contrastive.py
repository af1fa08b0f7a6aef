"""The plugin of the built-in contrastive losses: it registers them, and the losses themselves
(``rankarena.plugins.losses.contrastive_losses``, where each class states its formula and its
source) are imported only when the losses registry is first built, so that loading the
plugin host (``rankarena eval``, ``aggregate``, ...) does not import torch."""

from __future__ import annotations

import rankarena


@rankarena.hookimpl
def register_losses(register) -> None:
    from rankarena.plugins.losses import contrastive_losses as losses

    register("infonce", losses.InfoNCE, aliases=["mnrl"])
    register("soft-infonce", losses.SoftInfoNCE)
    register("amcl", losses.AdaptiveMultiHeadContrastive)
    register("soft-label", losses.SoftLabelAlignment)
