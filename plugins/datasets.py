"""Built-in dataset source: ``beir`` — a BEIR-format folder on local disk."""

from __future__ import annotations

import rankarena
from rankarena.data import BeirFolder


def beir_folder(path: str) -> BeirFolder:
    """A local BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)."""
    return BeirFolder(path)


@rankarena.hookimpl
def register_datasets(register) -> None:
    register("beir", beir_folder)
