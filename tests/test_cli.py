"""The ``rankarena`` command: plugins, devices, eval, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import pytrec_eval

from rankarena import Results
from rankarena.cli.main import main
from rankarena.core.host import DEFAULT_PLUGINS
from rankarena.data import write_trec_run


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rankarena.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def run_file(tmp_path_factory, scifact_tfidf_run):
    path = tmp_path_factory.mktemp("runs") / "tfidf.run"
    write_trec_run(scifact_tfidf_run, path)
    return path


def test_plugins_lists_every_kind_with_plugin_and_parameters(capsys):
    assert main(["plugins", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    builtins = {p["name"] for p in payload["plugins"] if p["builtin"]}
    assert builtins == set(DEFAULT_PLUGINS)
    ndcg = next(c for c in payload["components"]["metrics"] if c["name"] == "ndcg")
    assert ndcg["plugin"] == "rankarena.plugins.metrics.trec_eval"
    assert ndcg["parameters"] == ["k: int | None = None", "gains: dict | None = None"]
    assert set(payload["components"]) == {
        "retrievers",
        "rerankers",
        "samplers",
        "losses",
        "aggregators",
        "perturbations",
        "metrics",
        "datasets",
    }


def test_plugins_table():
    out = run_cli("plugins")
    assert out.returncode == 0, out.stderr
    assert "rankarena.plugins.metrics.trec_eval" in out.stdout and "r-precision" in out.stdout


def test_devices_and_override():
    out = run_cli("devices")
    assert out.returncode == 0 and "selected: " in out.stdout
    out = run_cli("--device", "cpu", "devices")
    assert out.stdout.strip().endswith("selected: cpu")
    out = run_cli("--device", "tpu:9", "devices")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("rankarena: error: unknown device 'tpu:9'")
    assert "known: " in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_eval_prints_means_equal_to_pytrec_eval(scifact, run_file, tmp_path):
    store = tmp_path / "results.parquet"
    out = run_cli(
        "eval",
        "--dataset",
        str(scifact.path),
        "--split",
        "test",
        "--run",
        str(run_file),
        "--metrics",
        "ndcg@10,recall@100,map@100,p@10",
        "--output",
        str(store),
    )
    assert out.returncode == 0, out.stderr
    ev = pytrec_eval.RelevanceEvaluator(
        scifact.qrels("test").to_dict(), {"ndcg_cut.10", "recall.100", "map_cut.100", "P.10"}
    )
    from rankarena.data import read_trec_run

    per_query = ev.evaluate(read_trec_run(run_file).to_dict())
    for ours, theirs in [
        ("ndcg@10", "ndcg_cut_10"),
        ("recall@100", "recall_100"),
        ("map@100", "map_cut_100"),
        ("p@10", "P_10"),
    ]:
        mean = sum(v[theirs] for v in per_query.values()) / len(per_query)
        assert f"{mean:.4f}" in out.stdout, (ours, mean)
    stored = Results.from_parquet(store).table.to_pylist()
    assert [r["metric"] for r in stored] == ["ndcg@10", "recall@100", "map@100", "p@10"]
    assert {(r["system"], r["dataset"], r["split"]) for r in stored} == {
        ("tfidf", "scifact", "test")
    }
    assert all(r["query_id"] is None for r in stored)


def test_eval_per_query_appends_to_the_store(scifact, run_file, tmp_path, capsys):
    store = tmp_path / "results.parquet"
    args = [
        "eval",
        "--dataset",
        str(scifact.path),
        "--run",
        str(run_file),
        "--metrics",
        "mrr@10",
        "--per-query",
        "--output",
        str(store),
        "--system",
        "tfidf-a",
    ]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "per query" in out
    table = Results.from_parquet(store).table
    assert table.num_rows == 2 * (1 + 300)
    assert len(set(table.column("run_id").to_pylist())) == 2


def test_eval_reads_a_parquet_run(scifact, scifact_tfidf_run, tmp_path, capsys):
    scifact_tfidf_run.to_parquet(tmp_path / "run.parquet")
    assert (
        main(
            [
                "eval",
                "--dataset",
                str(scifact.path),
                "--run",
                str(tmp_path / "run.parquet"),
                "--metrics",
                "ndcg@10",
            ]
        )
        == 0
    )
    assert "ndcg@10" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("ndcg@ten", "metric 'ndcg@ten': cutoff 'ten' is not an integer"),
        ("ndgc@10", "unknown metric 'ndgc' (did you mean 'ndcg'?)"),
        ("p", "metric 'p' needs a cutoff: write p@K"),
        ("ndcg@10,ndcg@10", "metric(s) listed twice: ndcg@10"),
    ],
)
def test_eval_bad_metric_is_one_line(scifact, run_file, capsys, metrics, message):
    code = main(
        ["eval", "--dataset", str(scifact.path), "--run", str(run_file), "--metrics", metrics]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("rankarena: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_eval_bad_run_file_names_file_and_line(scifact, tmp_path, capsys):
    bad = tmp_path / "bad.run"
    bad.write_text("1 Q0 4983 1 0.5 x\n1 Q0 31715818 2 high x\n")
    assert main(["eval", "--dataset", str(scifact.path), "--run", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rankarena: error: {bad}:2: score 'high' is not a number"
    )


def test_eval_missing_split_lists_available(scifact, run_file, capsys):
    assert (
        main(["eval", "--dataset", str(scifact.path), "--split", "dev", "--run", str(run_file)])
        == 2
    )
    assert "no qrels for split 'dev'; available: test, train" in capsys.readouterr().err


def test_eval_dataset_not_a_folder(tmp_path, run_file, capsys):
    assert main(["eval", "--dataset", str(tmp_path / "nope"), "--run", str(run_file)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_eval_bad_relevance_level_is_one_line(scifact, run_file, capsys):
    args = ["eval", "--dataset", str(scifact.path), "--run", str(run_file)]
    assert main([*args, "--relevance-level", "0"]) == 2
    assert capsys.readouterr().err == (
        "rankarena: error: relevance level must be at least 1, got 0\n"
    )


def test_retrieve_writes_a_run_and_evaluates_it(scifact, tmp_path, capsys):
    out = tmp_path / "bm25.run"
    store = tmp_path / "results.parquet"
    args = [
        "retrieve",
        "--dataset",
        str(scifact.path),
        "--output",
        str(out),
        "--k",
        "100",
        "--param",
        "k1=1.2",
        "--metrics",
        "ndcg@10",
        "--results",
        str(store),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    from rankarena.data import read_trec_run

    run = read_trec_run(out)
    assert set(run.query_ids) <= set(scifact.qrels("test").query_ids)
    assert run.table.column("rank").to_numpy().max() <= 100
    expected = main_module_evaluate(run, scifact)
    assert f"{expected:.4f}" in printed
    stored = Results.from_parquet(store).table.to_pylist()
    assert [(r["system"], r["metric"]) for r in stored] == [("bm25", "ndcg@10")]
    assert stored[0]["value"] == pytest.approx(expected, abs=1e-12)


def main_module_evaluate(run, scifact) -> float:
    from rankarena import evaluate

    return evaluate(run, scifact.qrels("test"), ["ndcg@10"]).mean["ndcg@10"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--retriever", "bm52"], "unknown retriever 'bm52' (did you mean 'bm25'?)"),
        (
            ["--param", "k2=1"],
            "retriever 'bm25' has no parameter 'k2'; valid parameters: k1, b, method",
        ),
        (["--param", "k1"], "--param takes NAME=VALUE, got 'k1'"),
        (["--param", "method=bm26"], "unknown method 'bm26'"),
    ],
)
def test_retrieve_bad_input_is_one_line(scifact, tmp_path, capsys, extra, message):
    out = tmp_path / "x.run"
    code = main(["retrieve", "--dataset", str(scifact.path), "--output", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
