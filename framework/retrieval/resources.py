"""What a cell or a worker asks an executor for: ``Resources`` (CPUs, GPUs, device use)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Resources:
    """What one cell (or one actor) needs: CPU cores and GPUs (fractions allowed).

    ``uses_device`` marks work that runs torch on the selected device (a dense retriever, a
    reranker): an executor with GPUs may give such a cell one even where the driver has none.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    uses_device: bool = False


ResourceSpec = Resources | Callable[[Any], Resources] | None


def resources_of(spec: ResourceSpec, cell: Any) -> Resources:
    """The resources ``spec`` gives ``cell`` (one ``Resources`` for all, or a function)."""
    if spec is None:
        return Resources()
    return spec(cell) if callable(spec) else spec
