"""rankarena-pyterrier: rankarena and PyTerrier (https://pyterrier.readthedocs.io), both ways.

* ``as_transformer(component, corpus)`` (``transformer.py``): a rankarena retriever or
  reranker as a ``pt.Transformer``, for ``pt.Experiment`` and PyTerrier's operators
  (``>>``, ``%``, ``+``).
* The retriever ``pyterrier`` (``retriever.py``): a PyTerrier pipeline, named by an importable
  ``module:attribute`` factory, as a rankarena retriever (``rankarena retrieve --retriever
  pyterrier --param pipeline=mypkg.pipes:bm25_top10``, run configs).

rankarena finds the plugin through the entry point ``pyterrier = "rankarena_pyterrier"`` in the
group ``rankarena``. It imports only rankarena's plugin API (``rankarena``, ``rankarena.api.*``).
Only PyTerrier's Java-free core is used: Java is needed only for Terrier's own indexes.
"""

from __future__ import annotations

import rankarena

from .retriever import PyTerrierRetriever

__version__ = "0.1.0"

__all__ = ["PyTerrierRetriever", "RankarenaReranker", "RankarenaRetriever", "as_transformer"]


_LAZY = ("RankarenaReranker", "RankarenaRetriever", "as_transformer")


def __getattr__(name: str):
    # the transformers import PyTerrier (most of a second): only when used, not whenever
    # rankarena loads its plugins
    if name in _LAZY:
        from . import transformer

        return getattr(transformer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@rankarena.hookimpl
def register_retrievers(register) -> None:
    """Register the retriever ``pyterrier`` (parameter ``pipeline = "module:attribute"``)."""
    register(
        "pyterrier",
        PyTerrierRetriever,
        description="a PyTerrier pipeline, named as pipeline = 'module:attribute'",
    )
