"""The PyTerrier bridge (bridges/rankarena-pyterrier), installed for real with pip.

As for the ir_datasets bridge (``installed_plugin``): a copy is pip-installed for the module
and uninstalled at teardown, and every check runs in a new process. On the 300 SciFact test
queries: ``pt.Experiment`` over rankarena's ``bm25`` as a ``pt.Transformer`` gives the nDCG@10
of ``rankarena.evaluate`` on the same run; a PyTerrier pipeline (rankarena's bm25 ``% 10``)
run through the rankarena retriever ``pyterrier`` gives bm25's top 10.
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

from rankarena.data import read_trec_run

pytest.importorskip(
    "pyterrier", reason="PyTerrier is not installed (pip install pyterrier; dev extra)"
)

REPO = Path(__file__).resolve().parents[1]
BRIDGE = REPO / "bridges" / "rankarena-pyterrier"
DIST = "rankarena-pyterrier"

# A user's module of PyTerrier pipelines, named in run configs as "my_pipelines:bm25_top10".
PIPES = """
from rankarena_pyterrier import as_transformer


def bm25_top10(corpus):
    return as_transformer("bm25", corpus) % 10
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Path]:
    with installed_copy(BRIDGE, DIST, tmp_path_factory.mktemp("pyterrier")) as source:
        yield source


@pytest.fixture
def workdir(tmp_path) -> Path:
    """The working folder, holding the user's module ``my_pipelines.py`` (the ``rankarena``
    command finds it there)."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / "my_pipelines.py").write_text(PIPES)
    return folder


def test_plugins_lists_the_pyterrier_retriever(installed, workdir):
    assert_listed(
        workdir, DIST, "pyterrier", "register_retrievers", "retrievers", ["pipeline: str"]
    )


# pt.Experiment over rankarena's bm25 as a pt.Transformer, and rankarena's own evaluation of
# the same retriever's run; then a reranker through the bridge: bm25 % 100 >> a rankarena
# reranker that rescores by BM25 (score_pairs) must leave nDCG@10 as it is.
EXPERIMENT = """
import json, sys

import pandas as pd
import pyterrier as pt

import rankarena
from rankarena import Run
from rankarena.api.datasets import open_dataset
from rankarena_pyterrier import as_transformer

folder, out = sys.argv[1], sys.argv[2]
dataset = open_dataset(rankarena.plugin_manager(), folder)
corpus, queries, qrels = dataset.corpus, dataset.queries("test"), dataset.qrels("test")
bm25 = rankarena.plugin_manager().retrievers.create("bm25")
retriever = as_transformer(bm25, corpus, k=1000)


class BM25Reranker:
    def rerank(self, queries, corpus, run, k):
        top = run.top(k).table
        q, d = top.column("query_id").to_pylist(), top.column("doc_id").to_pylist()
        return Run.from_arrays(q, d, bm25.score_pairs(queries, q, d))


reranker = as_transformer(BM25Reranker(), corpus)
topics = pd.DataFrame({"qid": queries.ids, "query": queries.table.column("text").to_pylist()})
labels = qrels.table.to_pandas()
qrels_frame = pd.DataFrame(
    {"qid": labels["query_id"], "docno": labels["doc_id"], "label": labels["relevance"]}
)
table = pt.Experiment(
    [retriever, (retriever % 100) >> reranker],
    topics,
    qrels_frame,
    eval_metrics=["ndcg_cut_10"],
    names=["bm25", "bm25%100>>rerank"],
)
own = rankarena.evaluate(bm25.search(queries, 1000), qrels, ["ndcg@10"])
frame = retriever.transform(topics.head(2))
json.dump(
    {
        "pyterrier": dict(zip(table["name"], table["ndcg_cut_10"].astype(float))),
        "rankarena": own.mean["ndcg@10"],
        "queries": len(own.query_ids),
        "columns": list(frame.columns),
        "ranks": frame.groupby("qid")["rank"].min().tolist(),
    },
    open(out, "w"),
)
"""


def test_experiment_equals_rankarena_evaluate(installed, workdir, scifact_dir, tmp_path):
    out = tmp_path / "experiment.json"
    run_ok([sys.executable, "-c", EXPERIMENT, str(scifact_dir), str(out)], workdir)
    result = json.loads(out.read_text())
    print(result)  # the figures, under -s
    assert result["queries"] == 300
    assert 0.5 < result["rankarena"] < 0.9  # a real value
    assert result["pyterrier"]["bm25"] == pytest.approx(result["rankarena"], abs=1e-6)
    assert result["pyterrier"]["bm25%100>>rerank"] == pytest.approx(result["rankarena"], abs=1e-6)
    assert result["columns"] == ["qid", "query", "docno", "score", "rank"]
    assert result["ranks"] == [0, 0]  # PyTerrier's ranks start at 0


def test_pyterrier_pipeline_as_rankarena_retriever(installed, workdir, scifact_dir, scifact):
    """``bm25 % 10`` as a PyTerrier pipeline, through the retriever ``pyterrier`` (asked for
    1000 documents): exactly bm25's top 10, scores included."""
    import rankarena

    output = workdir / "pt.trec"
    args = [str(RANKARENA), "retrieve", "--dataset", str(scifact_dir), "--retriever"]
    args += ["pyterrier", "--param", "pipeline=my_pipelines:bm25_top10", "--k", "1000"]
    args += ["--output", str(output), "--metrics", "ndcg@10"]
    shown = run_ok(args, workdir).stdout
    assert re.search(r"│ ndcg@10\s*│\s*0\.\d+ │", shown), shown
    got = read_trec_run(output)
    queries = scifact.queries("test")
    bm25 = rankarena.plugin_manager().retrievers.create("bm25").index(scifact.corpus)
    want = bm25.search(queries, 10)
    assert got.table.num_rows == want.table.num_rows == 10 * len(queries.ids)
    for column in ("query_id", "doc_id", "rank"):
        assert got.table.column(column).to_pylist() == want.table.column(column).to_pylist()
    assert got.table.column("score").to_numpy() == pytest.approx(
        want.table.column("score").to_numpy(), abs=1e-5
    )


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        (
            "my_pipelines.bm25_top10",
            "bad pipeline 'my_pipelines.bm25_top10': pipeline must be 'module:attribute'",
        ),
        ("no_such_module:f", "cannot import 'no_such_module' of pipeline 'no_such_module:f'"),
    ],
)
def test_bad_pipeline_is_one_line(installed, workdir, scifact_dir, pipeline, message):
    args = [str(RANKARENA), "retrieve", "--dataset", str(scifact_dir), "--retriever"]
    args += ["pyterrier", "--param", f"pipeline={pipeline}", "--output", "x.trec"]
    bad = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=clean_env(),
    )
    assert (bad.returncode, bad.stdout) == (2, ""), bad.stderr
    assert bad.stderr.startswith("rankarena: error: ") and bad.stderr.count("\n") == 1, bad.stderr
    assert message in bad.stderr
    assert "pipeline must be 'module:attribute' (e.g. 'mypkg.pipes:bm25_top10')" in bad.stderr


def test_bridge_own_tests_pass(installed, workdir):
    run_own_tests(installed, workdir)


def test_bridge_imports_only_the_plugin_api():
    """As the import-linter contract holds built-in plugins to: rankarena, rankarena.api.*."""
    assert rankarena_imports_outside_the_plugin_api(BRIDGE / "rankarena_pyterrier") == []
