"""The ir_datasets bridge (bridges/rankarena-irds), installed for real with pip.

As for docs/plugin-example (``installed_plugin``): a copy is pip-installed for the module and
uninstalled at teardown, and every check runs in a new process. Offline: the SciFact files
of the test data are registered with ir_datasets as a local dataset, through ir_datasets'
own API in a script, and through the bridge's ``RANKARENA_IRDS_LOCAL`` file for commands.
"""

from __future__ import annotations

import csv
import io
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


def _local_file(folder: Path, dataset_id: str, scifact_dir: Path) -> Path:
    """A ``RANKARENA_IRDS_LOCAL`` file in ``folder``: ``dataset_id`` is the SciFact files."""
    path = folder / "local.json"
    entry = {
        "docs": str(scifact_dir / "corpus.jsonl"),
        "queries": str(scifact_dir / "queries.jsonl"),
        "qrels": {"test": str(scifact_dir / "qrels" / "test.tsv")},
    }
    path.write_text(json.dumps({dataset_id: entry}))
    return path


@pytest.fixture(scope="module")
def local_file(tmp_path_factory, scifact_dir) -> Path:
    """A ``RANKARENA_IRDS_LOCAL`` file: ``LOCAL_ID`` is the SciFact files, in place."""
    return _local_file(tmp_path_factory.mktemp("irds-local"), LOCAL_ID, scifact_dir)


@pytest.fixture(scope="module")
def named_file(tmp_path_factory, scifact_dir) -> Path:
    """As ``local_file``, under the id ``scifact`` (not an ir_datasets id): the dataset is
    then named as the BEIR folder is, for what is seeded by the dataset's name."""
    return _local_file(tmp_path_factory.mktemp("irds-named"), "scifact", scifact_dir)


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


def _run_config(path: Path, dataset: str, output: Path, extra: str = "") -> Path:
    """A run config: BM25 on ``dataset``'s test split, nDCG@10 at depth 100, into ``output``."""
    path.write_text(
        f"""[run]
name = "irds"
datasets = [{json.dumps(dataset)}]
split = "test"
metrics = ["ndcg@10"]
k = 100
output = {json.dumps(str(output))}

[systems.bm25]
retriever = "bm25"
{extra}"""
    )
    return path


def test_run_equals_the_beir_folder(installed, workdir, local_file, scifact_dir, tmp_path):
    import pyarrow.parquet as pq

    shown, results, runs = {}, {}, {}
    for name, dataset in [("irds", f"irds:{LOCAL_ID}"), ("beir", str(scifact_dir))]:
        output = tmp_path / name
        config = _run_config(tmp_path / f"{name}.toml", dataset, output)
        out = run_ok(
            [str(RANKARENA), "run", str(config)], workdir, RANKARENA_IRDS_LOCAL=str(local_file)
        ).stdout
        assert "1 runs computed, 0 reused" in out, out
        value = re.search(r"│\s*1 │ bm25\s*│\s*([0-9.]+) │\s*([0-9.]+) │", out)
        assert value, out
        shown[name] = value.groups()
        stored = pq.read_table(output / "results.parquet").to_pylist()
        assert [(r["system"], r["split"], r["metric"]) for r in stored] == [
            ("bm25", "test", "ndcg@10")
        ]
        results[name] = {k: stored[0][k] for k in ("value", "eval_key")}
        [run_file] = (output / "runs").glob("*.parquet")
        runs[name] = pq.read_table(run_file)
    assert shown["irds"] == shown["beir"] == ("0.6713", "0.6713")  # docs/guide.md's BM25
    assert results["irds"] == results["beir"]  # the same value, from the same qrels
    assert runs["irds"].num_rows == 29966 and runs["irds"].equals(runs["beir"])


def test_mine_equals_the_beir_folder(
    installed, workdir, local_file, scifact_dir, scifact, tmp_path
):
    import pyarrow.parquet as pq

    mined = {}
    for name, dataset in [("irds", f"irds:{LOCAL_ID}"), ("beir", str(scifact_dir))]:
        output = tmp_path / f"{name}.parquet"
        args = [str(RANKARENA), "mine", "--dataset", dataset, "--split", "test"]
        args += ["--sampler", "retriever-topk", "--retriever", "bm25", "--num-negatives", "4"]
        args += ["--seed", "0", "--output", str(output)]
        out = run_ok(args, workdir, RANKARENA_IRDS_LOCAL=str(local_file)).stdout
        assert "retriever-topk: 339 (query, positive) rows, 300 queries" in out, out
        mined[name] = pq.read_table(output)
    rows = mined["irds"].to_pylist()
    judged = scifact.qrels("test").to_dict()
    assert sorted((r["query_id"], r["positive_id"]) for r in rows) == sorted(
        (q, d) for q, docs in judged.items() for d in docs
    )
    assert all(len(r["negative_ids"]) == 4 for r in rows)
    assert not any(set(r["negative_ids"]) & set(judged[r["query_id"]]) for r in rows)
    assert mined["irds"].equals(mined["beir"])


def test_train_equals_the_beir_folder(installed, workdir, local_file, scifact_dir, tmp_path):
    """Two steps of 4 rows (MiniLM, in-batch negatives, 32 tokens, no evaluation)."""
    import numpy as np
    from safetensors.numpy import load_file

    trained = {}
    for name, dataset in [("irds", f"irds:{LOCAL_ID}"), ("beir", str(scifact_dir))]:
        output = tmp_path / name
        args = [str(RANKARENA), "train", "--dataset", dataset, "--split", "test"]
        args += ["--model", "minilm", "--batch-size", "4", "--max-steps", "2"]
        args += ["--max-length", "32", "--eval-split", "", "--output", str(output)]
        out = run_ok(args, workdir, RANKARENA_IRDS_LOCAL=str(local_file)).stdout
        assert "in-batch: 339 training rows" in out and "step 2/2, mean loss" in out, out
        assert "trained 2 steps" in out, out
        record = json.loads((output / "training.json").read_text())
        assert record["config"]["dataset"] == dataset
        report = record["report"]
        assert (report["steps"], report["examples"]) == (2, 8)
        assert len(report["losses"]) == 2 and all(np.isfinite(report["losses"]))
        for part in ("modules.json", "tokenizer.json", "1_Pooling/config.json"):
            assert (output / part).is_file(), part
        trained[name] = report["losses"], load_file(output / "model.safetensors")
    (irds_losses, irds_weights), (beir_losses, beir_weights) = trained["irds"], trained["beir"]
    assert irds_losses == pytest.approx(beir_losses, abs=1e-6)
    assert irds_weights.keys() == beir_weights.keys()
    for key, value in irds_weights.items():
        np.testing.assert_allclose(value, beir_weights[key], atol=1e-6, err_msg=key)


ROBUSTNESS = """
[robustness]
seed = 0
bootstrap = 100
tau_k = 10

[[robustness.perturbations]]
name = "typos"
intensities = [0.3]
"""


def test_robustness_equals_the_beir_folder(installed, workdir, named_file, scifact_dir, tmp_path):
    """Typos and bootstrap resamples are seeded by the dataset's name: ``irds:scifact`` (a
    local id) is named as the BEIR folder ``scifact`` is, so every table is the same."""
    tables = {}
    for name, dataset in [("irds", "irds:scifact"), ("beir", str(scifact_dir))]:
        output = tmp_path / name
        config = _run_config(tmp_path / f"{name}.toml", dataset, output, ROBUSTNESS)
        args = [str(RANKARENA), "robustness", str(config)]
        out = run_ok(args, workdir, RANKARENA_IRDS_LOCAL=str(named_file)).stdout
        assert "2 runs computed, 0 reused" in out, out
        assert (output / "robustness" / "plot-scifact-ndcg10.png").is_file()
        tables[name] = {
            table: (output / "robustness" / f"{table}.csv").read_text()
            for table in ("drops", "iid")
        }
    assert tables["irds"] == tables["beir"]
    [drop] = list(csv.DictReader(io.StringIO(tables["irds"]["drops"])))
    assert (drop["system"], drop["dataset"], drop["perturbation"]) == ("bm25", "scifact", "typos")
    assert 0.67 < float(drop["original"]) < 0.68  # docs/robustness.md: BM25 0.6713
    assert float(drop["perturbed"]) < float(drop["original"])


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
