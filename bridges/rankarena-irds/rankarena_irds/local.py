"""Local collections as ir_datasets datasets: the offline way to use ``irds:``.

ir_datasets downloads what it reads. For files you already have, set
``RANKARENA_IRDS_LOCAL`` to a JSON file (several: joined by ``os.pathsep``) that maps ids to
files; the first ``irds:`` dataset opened in a process registers them with ir_datasets
(``ir_datasets.registry.register``)::

    {
      "local/scifact": {
        "docs": "scifact/corpus.jsonl",
        "queries": "scifact/queries.jsonl",
        "qrels": {"test": "scifact/qrels/test.tsv", "train": "scifact/qrels/train.tsv"}
      }
    }

Paths are relative to the JSON file. ``docs``: JSON lines ``{"_id", "title", "text"}``
(``title`` optional: the first line decides); ``queries``: JSON lines ``{"_id", "text"}``;
each qrels file: BEIR's TSV (header ``query-id<TAB>corpus-id<TAB>score``) or TREC qrels
(``qid 0 docid grade``), told apart by the first line. ``ID`` gets the documents and
queries, and ``ID/SPLIT`` the split's qrels too, as ir_datasets lays out its own BEIR
datasets, so ``irds:local/scifact`` with ``--split test`` reads ``local/scifact/test``.

``register_local`` does the same from Python.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

from rankarena import DataFormatError, ParameterError

LOCAL_ENV = "RANKARENA_IRDS_LOCAL"

_registered: dict[str, tuple] = {}  # id -> the files it was registered with
_seen: set[str] = set()  # the RANKARENA_IRDS_LOCAL files read


class LocalDoc(NamedTuple):
    """A document with a title (the documents of a local ``docs`` file with ``title``)."""

    doc_id: str
    title: str
    text: str

    def default_text(self) -> str:
        return f"{self.title} {self.text}" if self.title else self.text


def _existing(path: Path, source: Path | None) -> Path:
    if not path.is_file():
        where = f" (named in {source})" if source else ""
        raise DataFormatError(path, f"no such file{where}")
    return path


def _first_line(path: Path) -> str:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                return line
    raise DataFormatError(path, "the file is empty")


def register_local(
    dataset_id: str,
    docs: str | os.PathLike,
    queries: str | os.PathLike,
    qrels: dict[str, str | os.PathLike],
    *,
    source: Path | None = None,
) -> None:
    """Register ``dataset_id`` (documents and queries) and ``dataset_id/SPLIT`` (with the
    split's qrels) with ir_datasets, from local files (see the module docstring).

    Registering the same id with the same files again does nothing; an id that ir_datasets
    already has otherwise is a one-line ``ParameterError``.
    """
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.datasets.beir import BeirQrels
    from ir_datasets.formats import GenericDoc, GenericQuery, JsonlDocs, JsonlQueries, TrecQrels
    from ir_datasets.util import LocalDownload

    docs_path = _existing(Path(docs), source)
    queries_path = _existing(Path(queries), source)
    qrels_paths = {str(s): _existing(Path(p), source) for s, p in qrels.items()}
    key = (docs_path.resolve(), queries_path.resolve(), sorted(qrels_paths.items()))
    if _registered.get(dataset_id) == key:
        return
    for name in [dataset_id, *(f"{dataset_id}/{s}" for s in qrels_paths)]:
        if name in ir_datasets.registry:
            raise ParameterError(
                f"{source or LOCAL_ENV}: ir_datasets already has a dataset {name!r}; "
                "give the local one another id"
            )

    try:
        first = json.loads(_first_line(docs_path))
    except json.JSONDecodeError as exc:
        raise DataFormatError(docs_path, f"not JSON lines: {exc}", 1) from None
    if "title" in first:
        doc_cls, mapping = LocalDoc, {"doc_id": "_id", "title": "title", "text": "text"}
    else:
        doc_cls, mapping = GenericDoc, {"doc_id": "_id", "text": "text"}
    # the docstore (built only on docs_store() lookups) goes to ir_datasets' home, never
    # next to the (possibly read-only) data
    store = Path(ir_datasets.util.home_path()) / "rankarena-irds" / f"{dataset_id}.pklz4"
    doc_handler = JsonlDocs(
        LocalDownload(docs_path, mkdir=False),
        doc_cls=doc_cls,
        mapping=mapping,
        docstore_path=str(store),
    )
    query_handler = JsonlQueries(
        LocalDownload(queries_path, mkdir=False),
        query_cls=GenericQuery,
        mapping={"query_id": "_id", "text": "text"},
    )
    ir_datasets.registry.register(dataset_id, Dataset(doc_handler, query_handler))
    for split, path in qrels_paths.items():
        download = LocalDownload(path, mkdir=False)
        if _first_line(path).split()[:1] == ["query-id"]:
            qrel_handler = BeirQrels(download, qrels_defs={})
        else:
            qrel_handler = TrecQrels(download, qrels_defs={})
        dataset = Dataset(doc_handler, query_handler, qrel_handler)
        ir_datasets.registry.register(f"{dataset_id}/{split}", dataset)
    _registered[dataset_id] = key


def register_from_environment(ir_datasets=None) -> None:
    """Register the datasets of the files ``RANKARENA_IRDS_LOCAL`` names (once per file)."""
    value = os.environ.get(LOCAL_ENV, "")
    for name in filter(None, value.split(os.pathsep)):
        path = Path(name).expanduser()
        if str(path) in _seen:
            continue
        if not path.is_file():
            raise DataFormatError(path, f"no such file (named by {LOCAL_ENV})")
        try:
            table = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataFormatError(path, f"not JSON: {exc}") from None
        if not isinstance(table, dict):
            raise DataFormatError(path, "expected an object {id: {docs, queries, qrels}}")
        for dataset_id, entry in table.items():
            fields = entry.keys() if isinstance(entry, dict) else ()
            if set(fields) != {"docs", "queries", "qrels"} or not isinstance(entry["qrels"], dict):
                raise DataFormatError(
                    path,
                    f"{dataset_id!r}: expected keys docs, queries and qrels "
                    '({"SPLIT": FILE, ...})',
                )
            files = {k: path.parent / v for k, v in entry["qrels"].items()}
            register_local(
                dataset_id,
                path.parent / entry["docs"],
                path.parent / entry["queries"],
                files,
                source=path,
            )
        _seen.add(str(path))
