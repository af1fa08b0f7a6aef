"""Content fingerprints: what a cached run or a stored evaluation was computed from.

A cache keyed on paths alone reuses a result after its inputs changed: an edited qrels
file, a re-written corpus, a model folder trained again. These digests hash content:

- ``file_digest(path)`` — BLAKE2b over a file's bytes (remembered per process while the
  file's size, modification time and inode stay the same);
- ``path_digest(path)`` — a file, or every file below a folder (relative names and bytes);
- ``table_digest(table)`` — an Arrow table's rows, independent of its row order;
- ``qrels_fingerprint(qrels)`` — the judgements' content (kept on the object);
- ``corpus_fingerprint(corpus)`` — a corpus' documents (kept on the object);
- ``dataset_fingerprint(dataset, split)`` — the corpus and the split's queries (ids and
  texts) of a dataset; a dataset source may provide its own ``fingerprint(split)``;
- ``content_fingerprint(dataset, split)`` — a dataset's own ``fingerprint(split)`` (where
  it has one) together with the digest of its corpus and the split's queries, for the
  datasets whose fingerprint the framework cannot vouch for (every source but ``beir``:
  see ``rankarena.core.datasets.dataset_content``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

DIGEST_SIZE = 16  # bytes: 32 hex characters
_CHUNK = 1 << 20
_file_digests: dict[tuple[str, int, int, int], str] = {}


def _new_hash():
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def file_digest(path: str | os.PathLike[str]) -> str:
    """BLAKE2b of a file's bytes (hex)."""
    stat = os.stat(path)
    memo = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if memo not in _file_digests:
        digest = _new_hash()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        _file_digests[memo] = digest.hexdigest()
    return _file_digests[memo]


def path_digest(path: str | os.PathLike[str]) -> str:
    """Digest of a file, or of every file below a folder (sorted relative names + bytes);
    hidden files and folders (``.name``) are left out."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    digest = _new_hash()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(relative.as_posix().encode() + b"\0" + file_digest(file).encode() + b"\1")
    return digest.hexdigest()


def table_digest(table: pa.Table) -> str:
    """Digest of a table's rows, whatever their order (rows are sorted by every column)."""
    if table.num_rows:
        order = pc.sort_indices(
            table, sort_keys=[(name, "ascending") for name in table.schema.names]
        )
        table = table.take(order)
    digest = _new_hash()
    digest.update(str(table.schema).encode())
    for name in table.schema.names:
        digest.update(b"\2" + name.encode() + b"\0")
        for value in table.column(name).to_pylist():
            digest.update(repr(value).encode() + b"\0")
    return digest.hexdigest()


def qrels_fingerprint(qrels: Any) -> str:
    """Digest of a ``Qrels``' judgements (computed once per object)."""
    cached = getattr(qrels, "_rankarena_fingerprint", None)
    if cached is None:
        cached = table_digest(qrels.table)
        qrels._rankarena_fingerprint = cached
    return cached


def corpus_fingerprint(corpus: Any) -> str:
    """Digest of a ``Corpus``' documents (ids, titles, texts), computed once per Arrow
    table (tables are immutable; a corpus given another table is digested again)."""
    table = corpus.table
    cached = getattr(corpus, "_rankarena_fingerprint", None)
    if cached is None or cached[0] is not table:
        cached = (table, table_digest(table))
        corpus._rankarena_fingerprint = cached
    return cached[1]


def dataset_fingerprint(dataset: Any, split: str) -> str:
    """Digest of what a run on ``dataset``'s ``split`` reads: the corpus and the split's
    queries. ``dataset.fingerprint(split)`` is used when the source provides one."""
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        return str(own(split))
    corpus = table_digest(dataset.corpus.table)
    queries = table_digest(dataset.queries(split).table)
    return digest_json({"corpus": corpus, "queries": queries})


def content_fingerprint(dataset: Any, split: str) -> str:
    """Digest of what a run on ``dataset``'s ``split`` reads, not trusting the source: the
    corpus' documents and the split's queries (ids and texts) digested here, plus the
    source's own ``fingerprint(split)`` where it has one (a change either sees is a new
    digest)."""
    payload = {
        "corpus": corpus_fingerprint(dataset.corpus),
        "queries": table_digest(dataset.queries(split).table),
    }
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        payload["source"] = str(own(split))
    return digest_json(payload)


def digest_json(payload: Any) -> str:
    """Digest of a JSON-serialisable value (keys sorted)."""
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_SIZE).hexdigest()
