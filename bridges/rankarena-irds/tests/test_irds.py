"""Smoke tests of the installed bridge, offline: run ``pytest`` in this folder after
``pip install -e .`` (or ``pip install .``). A tiny collection is written to a temporary
folder and registered with ir_datasets through ``RANKARENA_IRDS_LOCAL``."""

from __future__ import annotations

import json

import pytest

import rankarena
import rankarena_irds
from rankarena.api.datasets import open_dataset

DOCS = [
    {"_id": "d1", "title": "Cats", "text": "cats purr"},
    {"_id": "d2", "title": "", "text": "dogs bark"},
    {"_id": "d3", "title": "Birds", "text": "birds sing"},
]
QUERIES = [{"_id": "q1", "text": "purring"}, {"_id": "q2", "text": "barking"}]


@pytest.fixture
def local(tmp_path, monkeypatch):
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    (tmp_path / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\n")
    (tmp_path / "dev.txt").write_text("q2 0 d2 1\nq2 0 d3 0\n")
    name = f"tiny-{tmp_path.name}"  # one id per test: ir_datasets' registry is global
    files = {"docs": "docs.jsonl", "queries": "queries.jsonl"}
    table = {name: {**files, "qrels": {"test": "test.tsv", "dev": "dev.txt"}}}
    table[name + "-unjudged"] = {**files, "qrels": {}}
    (tmp_path / "local.json").write_text(json.dumps(table))
    monkeypatch.setenv(rankarena_irds.LOCAL_ENV, str(tmp_path / "local.json"))
    return name


def test_irds_is_a_dataset_source():
    host = rankarena.plugin_manager()
    assert "irds" in host.datasets.names()


def test_local_dataset_through_open_dataset(local):
    dataset = open_dataset(rankarena.plugin_manager(), f"irds:{local}")
    assert dataset.name == local
    assert dataset.splits == ["dev", "test"]
    assert list(dataset.corpus) == [
        {"_id": d["_id"], "title": d["title"], "text": d["text"]} for d in DOCS
    ]
    assert dataset.queries("test").to_dict() == {"q1": "purring", "q2": "barking"}
    assert dataset.qrels("test").to_dict() == {"q1": {"d1": 2}, "q2": {"d2": 1}}
    assert dataset.queries("dev").to_dict() == {"q2": "barking"}
    assert dataset.qrels("dev").to_dict() == {"q2": {"d2": 1, "d3": 0}}
    assert dataset.fingerprint("test") != dataset.fingerprint("dev")


def test_split_id_holds_its_own_qrels(local):
    dataset = open_dataset(rankarena.plugin_manager(), f"irds:{local}/test")
    assert dataset.splits == ["test"]
    assert dataset.qrels("test").to_dict() == {"q1": {"d1": 2}, "q2": {"d2": 1}}


def test_bad_input_is_one_line(local):
    host = rankarena.plugin_manager()
    with pytest.raises(rankarena.UnknownNameError, match="unknown ir_datasets dataset 'nope/x'"):
        open_dataset(host, "irds:nope/x")
    with pytest.raises(rankarena.ParameterError, match="has no qrels"):
        open_dataset(host, f"irds:{local}-unjudged")
    dataset = open_dataset(host, f"irds:{local}")
    with pytest.raises(rankarena.ParameterError, match="no split 'train'; splits: dev, test"):
        dataset.qrels("train")


def test_irds_passes_the_conformance_kit(tmp_path, monkeypatch):
    """rankarena's conformance kit on the source: the kit's own sample collection, written
    as a BEIR folder and read back through ir_datasets."""
    from rankarena.testing import check_dataset_source
    from rankarena.testing.sample import write_beir_folder

    write_beir_folder(tmp_path)
    name = f"kit-{tmp_path.name}"
    files = {
        "docs": "corpus.jsonl",
        "queries": "queries.jsonl",
        "qrels": {"test": "qrels/test.tsv"},
    }
    (tmp_path / "local.json").write_text(json.dumps({name: files}))
    monkeypatch.setenv(rankarena_irds.LOCAL_ENV, str(tmp_path / "local.json"))
    assert "run-and-eval" in check_dataset_source("irds", name)
