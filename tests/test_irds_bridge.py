"""The ir_datasets bridge (bridges/rankarena-irds), installed for real with pip.

As for docs/plugin-example (``installed_plugin``): a copy is pip-installed for the module and
uninstalled at teardown, and every check runs in a new process. Offline: the SciFact files
of the test data are registered with ir_datasets as a local dataset, through ir_datasets'
own API in a script, and through the bridge's ``RANKARENA_IRDS_LOCAL`` file for commands.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed_plugin import (
    RANKARENA,
    assert_listed,
    clean_env,
    installed_copy,
    rankarena_imports_outside_the_plugin_api,
    run_ok,
    run_own_tests,
)

from rankarena.data import write_trec_run

pytest.importorskip(
    "ir_datasets", reason="ir_datasets is not installed (pip install ir_datasets; dev extra)"
)

REPO = Path(__file__).resolve().parents[1]
BRIDGE = REPO / "bridges" / "rankarena-irds"
DIST = "rankarena-irds"
LOCAL_ID = "rankarena-test/scifact"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Path]:
    with installed_copy(BRIDGE, DIST, tmp_path_factory.mktemp("irds")) as source:
        yield source


@pytest.fixture(scope="module")
def local_file(tmp_path_factory, scifact_dir) -> Path:
    """A ``RANKARENA_IRDS_LOCAL`` file: ``LOCAL_ID`` is the SciFact files, in place."""
    path = tmp_path_factory.mktemp("irds-local") / "local.json"
    entry = {
        "docs": str(scifact_dir / "corpus.jsonl"),
        "queries": str(scifact_dir / "queries.jsonl"),
        "qrels": {"test": str(scifact_dir / "qrels" / "test.tsv")},
    }
    path.write_text(json.dumps({LOCAL_ID: entry}))
    return path


@pytest.fixture
def workdir(tmp_path) -> Path:
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def test_plugins_lists_the_irds_source(installed, workdir):
    assert_listed(workdir, DIST, "irds", "register_datasets", "datasets", ["dataset_id: str"])


# Registers SciFact with ir_datasets' own API, opens irds:ID as every command does and dumps
# what it read.
ROUND_TRIP = """
import json, sys
from pathlib import Path

import ir_datasets
from ir_datasets.datasets.base import Dataset
from ir_datasets.datasets.beir import BeirQrels, BeirTitleDoc
from ir_datasets.formats import GenericQuery, JsonlDocs, JsonlQueries
from ir_datasets.util import LocalDownload

import rankarena
from rankarena.api.datasets import open_dataset

folder, name, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
docs = JsonlDocs(
    LocalDownload(folder / "corpus.jsonl", mkdir=False),
    doc_cls=BeirTitleDoc,
    mapping={"doc_id": "_id", "text": "text", "title": "title"},
    docstore_path=str(out.parent / "docstore.pklz4"),
)
queries = JsonlQueries(
    LocalDownload(folder / "queries.jsonl", mkdir=False),
    query_cls=GenericQuery,
    mapping={"query_id": "_id", "text": "text"},
)
qrels = BeirQrels(LocalDownload(folder / "qrels" / "test.tsv", mkdir=False), qrels_defs={})
ir_datasets.registry.register(name, Dataset(docs, queries))
ir_datasets.registry.register(name + "/test", Dataset(docs, queries, qrels))

dataset = open_dataset(rankarena.plugin_manager(), "irds:" + name)
out.write_text(json.dumps({
    "name": dataset.name,
    "splits": list(dataset.splits),
    "corpus": list(dataset.corpus),
    "queries": dataset.queries("test").to_dict(),
    "qrels": dataset.qrels("test").to_dict(),
}))
"""


def test_round_trip_equals_the_beir_reader(installed, workdir, scifact_dir, scifact, tmp_path):
    out = tmp_path / "read.json"
    args = [sys.executable, "-c", ROUND_TRIP, str(scifact_dir), "api/scifact", str(out)]
    run_ok(args, workdir)
    read = json.loads(out.read_text())
    assert read["name"] == "api/scifact"
    assert read["splits"] == ["test"]
    assert read["corpus"] == list(scifact.corpus)  # ids, titles (blanks kept), texts, order
    assert len(read["corpus"]) == 5183
    assert read["queries"] == scifact.queries("test").to_dict()
    assert len(read["queries"]) == 300
    assert read["qrels"] == scifact.qrels("test").to_dict()
    assert sum(len(docs) for docs in read["qrels"].values()) == 339


def _ndcg(args: list[str], workdir: Path, **env: str) -> tuple[str, str]:
    out = run_ok(args, workdir, **env).stdout
    shown = re.search(r"│ ndcg@10\s*│\s*([0-9.]+) │", out)
    queries = re.search(r"\((\d+)\s+queries\)", out)
    assert shown and queries, out
    return shown.group(1), queries.group(1)


def test_eval_equals_the_beir_folder(
    installed, workdir, local_file, scifact_dir, scifact_tfidf_run, tmp_path
):
    run_file = tmp_path / "tfidf.trec"
    write_trec_run(scifact_tfidf_run, run_file)
    common = ["--split", "test", "--run", str(run_file), "--metrics", "ndcg@10"]
    irds = _ndcg(
        [str(RANKARENA), "eval", "--dataset", f"irds:{LOCAL_ID}", *common],
        workdir,
        RANKARENA_IRDS_LOCAL=str(local_file),
    )
    beir = _ndcg([str(RANKARENA), "eval", "--dataset", str(scifact_dir), *common], workdir)
    assert irds == beir
    assert irds[1] == "300" and 0.3 < float(irds[0]) < 0.9  # a real value


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "irds:no-such/collection",
            "unknown ir_datasets dataset 'no-such/collection' (irds:no-such/collection; "
            "`ir_datasets list` shows the ",
        ),
        (f"irds:{LOCAL_ID}/test --split dev", f"'{LOCAL_ID}/test': no split 'dev'; splits: test"),
    ],
)
def test_bad_input_is_one_line(installed, workdir, local_file, tmp_path, reference, message):
    reference, *split = reference.split()
    run_file = tmp_path / "x.trec"
    run_file.write_text("0 Q0 4983 1 1.0 x\n")
    args = [str(RANKARENA), "eval", "--dataset", reference, "--run", str(run_file), *split]
    bad = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=clean_env(RANKARENA_IRDS_LOCAL=str(local_file)),
    )
    assert (bad.returncode, bad.stdout) == (2, ""), bad.stderr
    assert bad.stderr.startswith("rankarena: error: ") and bad.stderr.count("\n") == 1, bad.stderr
    assert message in bad.stderr


def test_bridge_own_tests_pass(installed, workdir):
    run_own_tests(installed, workdir)


def test_bridge_imports_only_the_plugin_api():
    """As the import-linter contract holds built-in plugins to: rankarena, rankarena.api.*."""
    assert rankarena_imports_outside_the_plugin_api(BRIDGE / "rankarena_irds") == []
