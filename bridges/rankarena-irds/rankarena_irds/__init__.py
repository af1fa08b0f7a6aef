"""rankarena-irds: ir_datasets (https://ir-datasets.com) datasets in rankarena.

One hook, ``register_datasets``, registers the dataset source ``irds``: every command that
takes a dataset takes ``irds:ID`` (``--dataset irds:beir/scifact --split test``, a run
config's ``datasets = ["irds:beir/scifact"]``, a mine or train config's ``dataset``).
``source.py`` says how an id and a split map to ir_datasets' ids; ``local.py`` how to use
local files offline (``RANKARENA_IRDS_LOCAL``).

rankarena finds the plugin through the entry point ``irds = "rankarena_irds"`` in the group
``rankarena``. It imports only rankarena's plugin API (``rankarena``, ``rankarena.api.*``).
"""

from __future__ import annotations

import rankarena

from .local import LOCAL_ENV, register_local
from .source import IrdsDataset

__version__ = "0.1.0"

__all__ = ["LOCAL_ENV", "IrdsDataset", "register_local"]


@rankarena.hookimpl
def register_datasets(register) -> None:
    """Register the dataset source ``irds`` (users write ``irds:ID``)."""
    register("irds", IrdsDataset, description="an ir_datasets dataset: irds:ID (ir_datasets id)")
