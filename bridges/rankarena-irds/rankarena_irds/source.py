"""Dataset source ``irds``: an ir_datasets dataset, opened as ``irds:ID``.

``ID`` is an ir_datasets id (``beir/scifact``, ``antique``, ``msmarco-passage/dev/small``):

* the corpus is ``ID``'s ``docs_iter()``: ``doc_id``, ``title`` when the document type has
  one, and ``text`` (else ``body``, else the document's ``default_text()``);
* a split ``S`` is the id ``ID/S`` when ir_datasets has it with qrels (``irds:beir/scifact``
  with ``--split test`` reads ``beir/scifact/test``); ``ID``'s own qrels, when it has some,
  are the split named by its last segment (``irds:beir/scifact/test`` with ``--split test``,
  ``irds:antique/test`` with ``--split test``);
* a split's queries are those of its ``queries_iter()`` that the split judges (``text``,
  else the query's ``default_text()``); its qrels, ``qrels_iter()``'s
  ``(query_id, doc_id, relevance)``.

Every failure is one line naming the id: an unknown id, an id with neither qrels nor a
child split with qrels, an unknown split (the splits listed), and ir_datasets failing to
read (most often a download that cannot be made; see ``RANKARENA_IRDS_LOCAL`` in
``rankarena_irds.local`` for local files).
"""

from __future__ import annotations

import hashlib
from functools import cached_property

from rankarena import (
    Corpus,
    ParameterError,
    Qrels,
    Queries,
    RankarenaError,
    UnknownNameError,
)
from rankarena.api.checks import did_you_mean

from .local import LOCAL_ENV, register_from_environment


def _ir_datasets():
    try:
        import ir_datasets
    except ImportError as exc:  # pragma: no cover - a dependency of the distribution
        raise ParameterError(f"dataset source 'irds' needs ir_datasets ({exc})") from None
    register_from_environment(ir_datasets)
    return ir_datasets


def _first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class IrdsDataset:
    """An ir_datasets dataset as a rankarena dataset: ``name``, ``corpus``, ``splits``,
    ``queries(split)``, ``qrels(split)`` and ``fingerprint(split)``.

    :param dataset_id: the ir_datasets id (what follows ``irds:``).
    """

    def __init__(self, dataset_id: str):
        self.dataset_id = dataset_id.strip().strip("/")
        self._irds = _ir_datasets()
        self.dataset = self._load(self.dataset_id)
        if self.dataset is None:
            known = list(self._irds.registry)
            error = UnknownNameError("ir_datasets dataset", self.dataset_id, [])
            error.message = (
                f"unknown ir_datasets dataset {self.dataset_id!r}"
                f"{did_you_mean(self.dataset_id, known)} (irds:{self.dataset_id}; "
                f"`ir_datasets list` shows the {len(known)} ids, {LOCAL_ENV} adds local files)"
            )
            raise error
        self.name = self.dataset_id
        if not self.splits:
            raise ParameterError(
                f"ir_datasets dataset {self.dataset_id!r} has no qrels, nor has any "
                f"{self.dataset_id + '/SPLIT'!r}: give an id with relevance judgements"
            )

    def _load(self, dataset_id: str):
        """The ir_datasets dataset ``dataset_id``, or ``None`` when there is none."""
        try:
            return self._irds.load(dataset_id)
        except KeyError:
            return None

    @cached_property
    def _split_ids(self) -> dict[str, str]:
        """split name -> ir_datasets id: ``ID/S`` with qrels, and ``ID``'s own qrels under its
        last segment."""
        prefix = self.dataset_id + "/"
        found = {}
        for child in self._irds.registry:
            rest = child[len(prefix) :] if child.startswith(prefix) else ""
            if rest and "/" not in rest and self._load(child).has_qrels():
                found[rest] = child
        if self.dataset.has_qrels():
            found.setdefault(self.dataset_id.rsplit("/", 1)[-1], self.dataset_id)
        return found

    @property
    def splits(self) -> list[str]:
        """The split names with qrels (see the module docstring)."""
        return sorted(self._split_ids)

    def _split_dataset(self, split: str):
        if split not in self._split_ids:
            known = ", ".join(self.splits) or "none"
            raise ParameterError(
                f"ir_datasets dataset {self.dataset_id!r}: no split {split!r}; splits: {known}"
            )
        split_id = self._split_ids[split]
        return split_id, self._load(split_id)

    def _read(self, what: str, dataset_id: str, rows):
        """``rows`` (an ir_datasets iterator), any failure of ir_datasets said in one line."""
        try:
            yield from rows
        except Exception as exc:
            raise RankarenaError(
                f"ir_datasets could not read the {what} of {dataset_id!r} (offline? "
                f"{LOCAL_ENV} registers local files): {_first_line(exc)}"
            ) from exc

    @cached_property
    def corpus(self) -> Corpus:
        """``docs_iter()`` of the id (or of its first split, if the id itself has no docs)."""
        dataset_id, dataset = self.dataset_id, self.dataset
        if not dataset.has_docs():
            dataset_id, dataset = self._split_dataset(self.splits[0])
            if not dataset.has_docs():
                raise ParameterError(f"ir_datasets dataset {self.dataset_id!r} has no documents")
        fields = dataset.docs_cls()._fields
        docs = {}
        for doc in self._read("documents", dataset_id, dataset.docs_iter()):
            title = doc.title if "title" in fields else ""
            if "text" in fields:
                text = doc.text
            elif "body" in fields:
                text = doc.body
            else:
                text = doc.default_text()
            docs[doc.doc_id] = {"title": title or "", "text": text or ""}
        return Corpus.from_dict(docs)

    def qrels(self, split: str) -> Qrels:
        """``qrels_iter()`` of the split's id: ``{query_id: {doc_id: relevance}}``."""
        split_id, dataset = self._split_dataset(split)
        judged: dict[str, dict[str, int]] = {}
        for qrel in self._read("qrels", split_id, dataset.qrels_iter()):
            judged.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
        return Qrels.from_dict(judged)

    def queries(self, split: str) -> Queries:
        """The split's ``queries_iter()``, restricted to the queries its qrels judge."""
        split_id, dataset = self._split_dataset(split)
        wanted = set(self.qrels(split).query_ids)
        if not dataset.has_queries():
            raise ParameterError(f"ir_datasets dataset {split_id!r} has no queries")
        fields = dataset.queries_cls()._fields
        texts = {}
        for query in self._read("queries", split_id, dataset.queries_iter()):
            if query.query_id in wanted:
                texts[query.query_id] = query.text if "text" in fields else query.default_text()
        missing = sorted(wanted - texts.keys())
        if missing:
            raise RankarenaError(
                f"ir_datasets dataset {split_id!r}: no query text for judged {missing[0]!r}"
            )
        return Queries.from_dict(texts)

    def fingerprint(self, split: str) -> str:
        """BLAKE2b of the id, the split's id and ir_datasets' version; rankarena adds its own
        digest of the corpus and the split's queries to every cache key."""
        split_id, _ = self._split_dataset(split)
        version = getattr(self._irds, "__version__", "")
        return hashlib.blake2b(
            f"{self.dataset_id}\0{split_id}\0{version}".encode(), digest_size=16
        ).hexdigest()
