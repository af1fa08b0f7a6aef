"""Built-in dataset source: ``beir`` — a BEIR-format folder, by path or by catalog name.

Every dataset reference without a registered ``SOURCE:`` prefix comes here (``scifact``,
``./data/nfcorpus``, ``beir:scifact``); see ``register_datasets`` for the contract."""

from __future__ import annotations

import rankarena
from rankarena.api.datasets import BeirFolder, resolve_dataset


def beir_folder(path: str) -> BeirFolder:
    """A BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): a local path, or a
    dataset name such as ``scifact``, found in ``RANKARENA_DATA_DIR``, the cache, or
    downloaded (see ``rankarena.data.catalog.resolve_dataset``)."""
    return BeirFolder(resolve_dataset(path))


@rankarena.hookimpl
def register_datasets(register) -> None:
    register("beir", beir_folder)
