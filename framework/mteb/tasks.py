"""A local BEIR folder as an MTEB 2.x retrieval task: ``mteb.evaluate(model, [beir_task(path)])``.

``beir_task(path, split)`` returns a ``BeirRetrievalTask``, a subclass of mteb's
``AbsTaskRetrieval`` (``mteb/abstasks/retrieval.py``) whose ``load_data`` reads the folder
with rankarena's ``BeirFolder`` instead of downloading from the Hugging Face hub, the way
mteb's own mock tasks (``mteb/mocks/mock_tasks/retrieval.py``) provide in-memory data:
``self.dataset = {"default": {split: RetrievalSplitData(corpus, queries, relevant_docs,
top_ranked=None)}}``. The mapping:

* ``corpus.jsonl`` → ``corpus`` (a ``datasets.Dataset`` with ``id, title, text``; mteb joins
  ``title + " " + text`` for the model, as rankarena's ``Corpus.texts()`` does);
* the queries judged in ``qrels/<split>.tsv`` → ``queries`` (``id, text``);
* ``qrels/<split>.tsv`` → ``relevant_docs`` (``{query_id: {doc_id: grade}}``).

Its ``TaskMetadata``: ``type="Retrieval"``, ``main_score="ndcg_at_10"``,
``eval_splits=[split]``, ``eval_langs`` (default ``["eng-Latn"]``), ``category="t2t"``,
``modalities=["text"]``, ``dataset={"path": <absolute folder>, "revision": <first 12 hex of
the SHA-256 of corpus.jsonl, queries.jsonl and the split's qrels>}`` so a result records
which data it came from; ``name`` defaults to the folder's name.

mteb scores with ``pytrec_eval`` (trec_eval semantics, as ``rankarena.evaluate``), searches
the top 1000 documents per query, keeps documents whose id equals the query id
(``ignore_identical_ids=False``, rankarena's default too) and drops queries without any
judgement of grade > 0 before scoring (rankarena scores them 0).
"""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

from ..data import BeirFolder
from .adapter import require_mteb


def beir_task(
    path: str | os.PathLike[str],
    split: str = "test",
    name: str | None = None,
    languages: list[str] | None = None,
) -> Any:
    """The BEIR folder ``path`` as an MTEB retrieval task on ``split`` (see the module docstring).

    :param path: a folder with ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
    :param split: the qrels split to evaluate.
    :param name: the task's name (default: the folder's name).
    :param languages: mteb language codes (default ``["eng-Latn"]``).
    """
    require_mteb()
    folder = BeirFolder(path)
    folder.qrels(split)  # a missing split fails now, with the splits there are
    from mteb.abstasks.task_metadata import TaskMetadata

    metadata = TaskMetadata(
        name=name or folder.name,
        description=f"Local BEIR folder {folder.path.resolve()}, split {split}.",
        reference=None,
        dataset={"path": str(folder.path.resolve()), "revision": folder_revision(folder, split)},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=[split],
        eval_langs=list(languages or ["eng-Latn"]),
        main_score="ndcg_at_10",
        date=None,
        domains=None,
        task_subtypes=None,
        license=None,
        annotations_creators=None,
        dialect=None,
        sample_creation=None,
        bibtex_citation=None,
    )
    # mteb reads ``metadata`` from the class (``unload_data`` drops an instance's own), so
    # each folder gets a subclass that carries its metadata
    task_class = type("BeirRetrievalTask", (_task_class(),), {"metadata": metadata})
    return task_class(folder, split)


def folder_revision(folder: BeirFolder, split: str) -> str:
    """First 12 hex digits of the SHA-256 of the corpus, the queries and the split's qrels."""
    digest = hashlib.sha256()
    for file in (
        folder.path / "corpus.jsonl",
        folder.path / "queries.jsonl",
        folder.path / "qrels" / f"{split}.tsv",
    ):
        digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


@functools.cache
def _task_class() -> type:
    """``BeirRetrievalTask``, defined on first use so that mteb is imported only then."""
    from mteb.abstasks.retrieval import AbsTaskRetrieval

    class BeirRetrievalTask(AbsTaskRetrieval):
        """An ``AbsTaskRetrieval`` whose data is a local BEIR folder (see ``beir_task``)."""

        def __init__(self, folder: BeirFolder, split: str):
            self.folder, self.split = folder, split
            super().__init__()

        def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
            """Read the folder into mteb's in-memory layout (no hub access)."""
            if self.data_loaded:
                return
            from datasets import Dataset
            from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

            table = self.folder.corpus.table
            corpus = Dataset.from_dict(
                {
                    "id": table.column("_id").to_pylist(),
                    "title": [t or "" for t in table.column("title").to_pylist()],
                    "text": table.column("text").to_pylist(),
                }
            )
            queries = self.folder.queries(self.split)
            query_set = Dataset.from_dict(
                {"id": list(queries.ids), "text": queries.table.column("text").to_pylist()}
            )
            relevant = {
                q: {d: int(g) for d, g in docs.items()}
                for q, docs in self.folder.qrels(self.split).to_dict().items()
            }
            self.dataset = {
                "default": {
                    self.split: RetrievalSplitData(
                        corpus=corpus,
                        queries=query_set,
                        relevant_docs=relevant,
                        top_ranked=None,
                    )
                }
            }
            self.data_loaded = True

    return BeirRetrievalTask
