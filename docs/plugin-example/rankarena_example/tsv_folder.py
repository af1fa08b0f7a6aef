"""Dataset source ``tsv``: a folder of tab-separated files, the layout of MS MARCO and TREC
deep-learning collections.

``rankarena run``/``eval``/``retrieve``/``mine``/``train``/``robustness`` open it as
``tsv:FOLDER`` (the ``register_datasets`` hook; ``rankarena.api.datasets.open_dataset``)::

    FOLDER/collection.tsv      docid <TAB> text, or docid <TAB> title <TAB> text
    FOLDER/queries.tsv         qid <TAB> text
    FOLDER/qrels/SPLIT.txt     TREC qrels: qid <space> 0 <space> docid <space> grade

A split is a file of ``qrels/``; its queries are those with a judgement in it. Every
malformed line is a one-line ``rankarena.DataFormatError`` naming the file and the line.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from rankarena import Corpus, DataFormatError, ParameterError, Qrels, Queries


class TsvFolder:
    """A ``tsv`` dataset: ``name``, ``corpus``, ``splits``, ``queries(split)``,
    ``qrels(split)`` and ``fingerprint(split)``, as the ``register_datasets`` hook asks."""

    def __init__(self, path: str):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataFormatError(self.path, "no such folder (a tsv dataset is a folder)")
        self.name = self.path.resolve().name

    @cached_property
    def corpus(self) -> Corpus:
        """``collection.tsv``: two columns (id, text) or three (id, title, text)."""
        docs = {}
        for fields in self._rows("collection.tsv", (2, 3)):
            title, text = ("", fields[1]) if len(fields) == 2 else (fields[1], fields[2])
            docs[fields[0]] = {"title": title, "text": text}
        return Corpus.from_dict(docs)

    @property
    def splits(self) -> list[str]:
        """The names of the files in ``qrels/`` (without ``.txt``)."""
        return sorted(p.stem for p in (self.path / "qrels").glob("*.txt"))

    def qrels(self, split: str) -> Qrels:
        """``qrels/SPLIT.txt`` in TREC format (``qid 0 docid grade``)."""
        if split not in self.splits:
            known = ", ".join(self.splits) or "none"
            raise ParameterError(f"{self.path}: no split {split!r}; splits: {known}")
        path = self.path / "qrels" / f"{split}.txt"
        judged: dict[str, dict[str, int]] = {}
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 4:
                    reason = f"expected 4 fields (qid 0 docid grade), got {len(fields)}"
                    raise DataFormatError(path, reason, number)
                try:
                    grade = int(fields[3])
                except ValueError:
                    raise DataFormatError(
                        path, f"grade {fields[3]!r} is not an integer", number
                    ) from None
                judged.setdefault(fields[0], {})[fields[2]] = grade
        return Qrels.from_dict(judged)

    def queries(self, split: str) -> Queries:
        """The queries of ``queries.tsv`` that have a judgement in ``split``."""
        wanted = set(self.qrels(split).query_ids)
        texts = {f[0]: f[1] for f in self._rows("queries.tsv", (2,)) if f[0] in wanted}
        missing = sorted(wanted - texts.keys())
        if missing:
            raise DataFormatError(
                self.path / "queries.tsv", f"no text for judged query {missing[0]!r}"
            )
        return Queries.from_dict(texts)

    def fingerprint(self, split: str) -> str:
        """BLAKE2b of the bytes of ``collection.tsv`` and ``queries.tsv`` and of the split's
        name: cache keys hold it, so an edited file is never served from an old run."""
        digest = hashlib.blake2b(split.encode(), digest_size=16)
        for name in ("collection.tsv", "queries.tsv"):
            with open(self.path / name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()

    def _rows(self, name: str, widths: tuple[int, ...]):
        path = self.path / name
        if not path.is_file():
            raise DataFormatError(path, "no such file")
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                line = line.rstrip("\n").rstrip("\r")
                if not line:
                    continue
                fields = line.split("\t")
                if len(fields) not in widths:
                    expected = " or ".join(str(w) for w in widths)
                    reason = f"expected {expected} tab-separated fields, got {len(fields)}"
                    raise DataFormatError(path, reason, number)
                yield fields
