"""The example plugin package (docs/plugin-example), installed for real with pip.

The module fixture pip-installs a copy of the package into the running environment
(offline: ``--no-index --no-build-isolation --no-deps``) and uninstalls it at teardown
(``installed_plugin.installed_copy``, shared with the bridges' tests). Every check then runs
in a new process, so that the ``rankarena`` entry points are read afresh, exactly as a
user's ``rankarena`` command reads them.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import sysconfig
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed_plugin import (
    RANKARENA,
    installed_copy,
    rankarena_imports_outside_the_plugin_api,
    run_own_tests,
)
from installed_plugin import clean_env as _env
from installed_plugin import run_ok as _run

from rankarena.data import Results, write_trec_run

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "docs" / "plugin-example"
DIST = "rankarena-example"
EPS = 1e-9  # the aggregator's default epsilon


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Path]:
    """Install a copy of docs/plugin-example (its build files stay out of the checkout)."""
    with installed_copy(PACKAGE, DIST, tmp_path_factory.mktemp("plugin-example")) as source:
        yield source


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A working folder for the subprocesses, away from any source copy of the plugin."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def _plugins_json(workdir: Path, **env: str) -> dict:
    return json.loads(_run([str(RANKARENA), "plugins", "--json"], workdir, **env).stdout)


def test_plugins_json_lists_the_example(installed, workdir):
    payload = _plugins_json(workdir)
    plugins = {p["name"]: p for p in payload["plugins"]}
    assert plugins["example"] == {
        "name": "example",
        "distribution": DIST,
        "version": "0.1.0",
        "builtin": False,
        "hooks": [
            "register_aggregators",
            "register_commands",
            "register_datasets",
            "register_metrics",
        ],
    }
    metrics = {c["name"]: c for c in payload["components"]["metrics"]}
    assert metrics["rbp-example"]["plugin"] == "example"
    assert metrics["rbp-example"]["parameters"] == ["k: int | None = None", "p: float = 0.8"]
    assert "Moffat & Zobel" in metrics["rbp-example"]["description"]
    assert metrics["rbp"]["plugin"] == "rankarena.plugins.metrics.ir_measures"  # built-in
    aggregators = {c["name"]: c for c in payload["components"]["aggregators"]}
    assert aggregators["geometric-mean"]["plugin"] == "example"
    assert aggregators["geometric-mean"]["parameters"] == [
        "epsilon: float = 1e-09",
        "min_coverage: float = 1.0",
    ]
    datasets = {c["name"]: c for c in payload["components"]["datasets"]}
    assert datasets["tsv"]["plugin"] == "example"
    assert datasets["tsv"]["parameters"] == ["path: str"]
    assert payload["failures"] == []


def test_plugins_table_mentions_the_example(installed, workdir):
    out = _run([str(RANKARENA), "plugins"], workdir).stdout
    rows = [line for line in out.splitlines() if re.search(r"\bexample\b", line)]
    assert any(f"{DIST} 0.1.0" in row for row in rows), out
    assert "rbp-example" in out
    assert "geometric-mean" in out


def test_disabled_plugin_is_not_loaded(installed, workdir):
    payload = _plugins_json(workdir, RANKARENA_DISABLE_PLUGINS="example")
    assert "example" not in {p["name"] for p in payload["plugins"]}
    metrics = {c["name"] for c in payload["components"]["metrics"]}
    assert "rbp-example" not in metrics
    assert "ndcg" in metrics  # the built-ins still load
    aggregators = {c["name"] for c in payload["components"]["aggregators"]}
    assert "geometric-mean" not in aggregators and "borda" in aggregators
    assert payload["failures"] == []


def test_trace_shows_the_example_hooks(installed, workdir):
    result = _run([str(RANKARENA), "plugins", "--json"], workdir, RANKARENA_TRACE_PLUGINS="1")
    assert re.search(r"register_metrics\(register\) -> example \[[0-9.]+ ms\]", result.stderr)
    assert re.search(r"register_aggregators\(register\) -> example \[", result.stderr)


def _naive_rbp(
    run_file: Path, qrels_file: Path, k: int | None = None, p: float = 0.8
) -> tuple[float, float]:
    """Mean RBP (cut at k) and mean residual, read straight from the files, one query and one
    rank at a time: the residual counts the unjudged documents within the cutoff, and every
    rank below depth min(k, retrieved), as relevant."""
    grades: dict[str, dict[str, int]] = defaultdict(dict)
    with open(qrels_file, newline="") as lines:
        next(lines)  # header: query-id, corpus-id, score
        for line in lines:
            qid, docno, grade = line.rstrip("\r\n").split("\t")  # scifact's lines end in CRLF
            grades[qid][docno] = int(grade)
    ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
    with open(run_file) as lines:
        for line in lines:
            qid, _q0, docno, _rank, score, _tag = line.split()
            ranked[qid].append((float(score), docno))
    bases, residuals = [], []
    for qid in sorted(set(grades) & set(ranked)):
        # trec_eval order: score descending, ties by doc id descending
        docs = sorted(ranked[qid], reverse=True)[:k]
        relevant = unjudged = 0.0
        for i, (_score, docno) in enumerate(docs, start=1):
            grade = grades[qid].get(docno)
            if grade is None:
                unjudged += p ** (i - 1)
            elif grade >= 1:
                relevant += p ** (i - 1)
        bases.append((1 - p) * relevant)
        residuals.append((1 - p) * unjudged + p ** len(docs))
    return sum(bases) / len(bases), sum(residuals) / len(residuals)


def test_eval_prints_rbp(installed, workdir, scifact_dir, scifact_tfidf_run, tmp_path):
    run_file = tmp_path / "tfidf.trec"
    write_trec_run(scifact_tfidf_run, run_file)
    store = tmp_path / "results.parquet"
    args = [str(RANKARENA), "eval", "--dataset", str(scifact_dir), "--split", "test"]
    args += ["--run", str(run_file), "--metrics", "rbp-example@10,ndcg@10", "--output", str(store)]
    out = _run(args, workdir).stdout
    printed = dict(re.findall(r"│ (rbp-example@10|ndcg@10)\s*│\s*([0-9.]+) │", out))
    assert set(printed) == {"rbp-example@10", "ndcg@10"}, out
    assert re.search(r"\(300\s+queries\)", out), out

    expected, _ = _naive_rbp(run_file, scifact_dir / "qrels" / "test.tsv", k=10)
    assert 0.05 < expected < 0.95  # a real, non-degenerate value
    assert printed["rbp-example@10"] == f"{expected:.4f}"
    stored = {
        row["metric"]: row["value"] for row in Results.from_parquet(store).means().table.to_pylist()
    }
    assert stored["rbp-example@10"] == pytest.approx(expected, rel=1e-12)


def _with_judged_non_relevant(scifact_dir: Path, run, folder: Path) -> Path:
    """scifact (whose qrels judge only relevant documents) plus one judgement per test query:
    the first non-relevant document of ``run``, judged 0. RBP + residual is then below 1."""
    folder.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (folder / name).symlink_to(scifact_dir / name)
    lines = (scifact_dir / "qrels" / "test.tsv").read_text().splitlines()
    relevant: dict[str, set[str]] = defaultdict(set)
    for line in lines[1:]:
        qid, docno, _grade = line.split("\t")
        relevant[qid].add(docno)
    ranked = run.to_dict()
    for qid in sorted(set(relevant) & set(ranked)):
        order = sorted(ranked[qid].items(), key=lambda item: (item[1], item[0]), reverse=True)
        first = next(doc for doc, _score in order if doc not in relevant[qid])
        lines.append(f"{qid}\t{first}\t0")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize(
    ("command", "options", "k", "p", "name"),
    [
        ("console script", ["--depth", "10"], 10, 0.8, "rbp-example@10"),
        ("python -m rankarena.cli", ["--persistence", "0.5"], None, 0.5, "rbp-example(p=0.5)"),
    ],
)
def test_rbp_verb_prints_rbp_and_residual(
    installed, workdir, scifact_dir, scifact_tfidf_run, tmp_path, command, options, k, p, name
):
    """The plugin's verb ``rankarena rbp``, from the installed package, in a new process."""
    dataset = _with_judged_non_relevant(scifact_dir, scifact_tfidf_run, tmp_path / "judged")
    run_file = tmp_path / "tfidf.trec"
    write_trec_run(scifact_tfidf_run, run_file)
    program = (
        [str(RANKARENA)] if command == "console script" else [sys.executable, "-m", "rankarena.cli"]
    )
    args = [*program, "rbp", "--dataset", str(dataset), "--run", str(run_file), *options]
    out = _run(args, workdir).stdout
    shown = re.fullmatch(
        rf"{re.escape(name)} on judged/test \((\d+) queries\): ([0-9.]+), residual ([0-9.]+)\n",
        out,
    )
    assert shown, out
    base, residual = _naive_rbp(run_file, dataset / "qrels" / "test.tsv", k, p)
    assert 0.05 < base < 0.95 and base + residual < 0.99  # real values, non-trivial bounds
    assert shown.groups() == ("300", f"{base:.4f}", f"{residual:.4f}")


def test_rbp_verb_is_listed_and_says_bad_input_in_one_line(installed, workdir, tmp_path):
    out = _run([str(RANKARENA), "--help"], workdir).stdout
    assert re.search(r"^\s+rbp\s+mean rank-biased precision of a run", out, re.MULTILINE), out
    bad = subprocess.run(
        [str(RANKARENA), "rbp", "--dataset", str(tmp_path), "--run", "x", "--persistence", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=_env(),
    )
    assert (bad.returncode, bad.stdout) == (2, "")
    assert (
        bad.stderr
        == "rankarena: error: metric 'rbp-example': persistence p must be in (0, 1), got 1.0\n"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tsv_and_beir(scifact_dir: Path, root: Path, qrels_file: Path | None = None) -> tuple:
    """The same collection twice, from scifact: ``root/tsv/scifact`` in the example's tsv
    layout and ``root/beir/scifact`` as a BEIR folder, with tabs and newlines of the texts
    made spaces in both (a tsv field cannot hold them)."""
    tsv, beir = root / "tsv" / "scifact", root / "beir" / "scifact"
    (tsv / "qrels").mkdir(parents=True)
    (beir / "qrels").mkdir(parents=True)
    docs = [json.loads(line) for line in (scifact_dir / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (scifact_dir / "queries.jsonl").open(encoding="utf-8")]
    with open(tsv / "collection.tsv", "w", encoding="utf-8") as out:
        for d in docs:
            out.write(f"{d['_id']}\t{_one_line(d['title'])}\t{_one_line(d['text'])}\n")
    with open(beir / "corpus.jsonl", "w", encoding="utf-8") as out:
        for d in docs:
            row = {"_id": d["_id"], "title": _one_line(d["title"]), "text": _one_line(d["text"])}
            out.write(json.dumps(row) + "\n")
    with open(tsv / "queries.tsv", "w", encoding="utf-8") as out:
        for q in queries:
            out.write(f"{q['_id']}\t{_one_line(q['text'])}\n")
    with open(beir / "queries.jsonl", "w", encoding="utf-8") as out:
        for q in queries:
            out.write(json.dumps({"_id": q["_id"], "text": _one_line(q["text"])}) + "\n")
    lines = (qrels_file or scifact_dir / "qrels" / "test.tsv").read_text().splitlines()
    (beir / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    trec = [f"{q} 0 {d} {g}" for q, d, g in (line.split("\t") for line in lines[1:])]
    (tsv / "qrels" / "test.txt").write_text("\n".join(trec) + "\n")
    return tsv, beir


def test_tsv_dataset_source_serves_retrieve_and_run(installed, workdir, scifact_dir, tmp_path):
    """The plugin's dataset source ``tsv`` opened by the built-in commands, by reference
    ``tsv:FOLDER``: the numbers equal those of the same collection as a BEIR folder."""
    tsv, beir = _tsv_and_beir(scifact_dir, tmp_path)
    means = {}
    for name, dataset in (("tsv", f"tsv:{tsv}"), ("beir", str(beir))):
        args = [str(RANKARENA), "retrieve", "--dataset", dataset, "--retriever", "bm25"]
        args += ["--output", str(tmp_path / f"{name}.trec"), "--metrics", "ndcg@10,recall@100"]
        out = _run(args, workdir).stdout
        means[name] = dict(re.findall(r"│ (ndcg@10|recall@100)\s*│\s*([0-9.]+) │", out))
    assert set(means["tsv"]) == {"ndcg@10", "recall@100"}, means
    assert means["tsv"] == means["beir"]
    assert 0.5 < float(means["tsv"]["ndcg@10"]) < 0.8  # BM25 on SciFact: a real value

    config = tmp_path / "tsv.toml"
    config.write_text(
        f'[run]\nname = "tsv"\ndatasets = ["tsv:{tsv}"]\nmetrics = ["ndcg@10"]\n'
        f'output = "{tmp_path / "out"}"\n\n[systems.bm25]\nretriever = "bm25"\n'
    )
    first = _run([str(RANKARENA), "run", str(config)], workdir)
    shown = re.search(r"│ bm25\s*│\s*([0-9.]+) │", first.stdout)
    assert shown and shown.group(1) == means["tsv"]["ndcg@10"], first.stdout
    cached = sorted((tmp_path / "out" / "runs").rglob("*.parquet"))
    assert len(cached) == 1
    again = _run([str(RANKARENA), "run", str(config)], workdir)
    assert sorted((tmp_path / "out" / "runs").rglob("*.parquet")) == cached, again.stdout
    with open(tsv / "collection.tsv", "a", encoding="utf-8") as out:
        out.write("new-doc\tA title\tan added document changes the collection\n")
    _run([str(RANKARENA), "run", str(config)], workdir)
    after = sorted((tmp_path / "out" / "runs").rglob("*.parquet"))
    assert len(after) == 2, "an edited tsv collection must not be served from the old run"


def test_tsv_dataset_with_a_bad_line_is_one_line(installed, workdir, tmp_path):
    folder = tmp_path / "bad"
    (folder / "qrels").mkdir(parents=True)
    (folder / "collection.tsv").write_text("d1\tfine text\nd2 has no tab\n")
    (folder / "queries.tsv").write_text("q1\ttext\n")
    (folder / "qrels" / "test.txt").write_text("q1 0 d1 1\n")
    args = ["retrieve", "--dataset", f"tsv:{folder}", "--retriever", "bm25"]
    bad = subprocess.run(
        [str(RANKARENA), *args, "--output", str(tmp_path / "x.trec")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=_env(),
    )
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr == (
        f"rankarena: error: {folder / 'collection.tsv'}:2: expected 2 or 3 tab-separated "
        "fields, got 1\n"
    )


AGGREGATE = """
import json, math, sys

import numpy as np
import rankarena
import rankarena_example

table = rankarena.ScoreTable(
    systems=("a", "b", "c", "d"),
    tasks=("t1", "t2", "t3"),
    scores=np.array(json.loads(sys.argv[1]), dtype=float),
)
host = rankarena.plugin_manager()
out = {"module": rankarena_example.__file__, "rankings": []}
for params in json.loads(sys.argv[2]):
    ranking = host.aggregators.create("geometric-mean", **params).aggregate(table)
    out["rankings"].append({
        "method": ranking.method,
        "systems": list(ranking.systems),
        "scores": [None if math.isnan(s) else float(s) for s in ranking.scores],
        "ranks": ranking.ranks.tolist(),
        "coverage": list(ranking.extras["coverage"]),
    })
print(json.dumps(out))
"""


def test_aggregator_ranks_by_hand(installed, workdir):
    scores = [
        [0.4, 0.9, 0.1],  # a: (0.4 · 0.9 · 0.1)^(1/3) = 0.036^(1/3) ≈ 0.330
        [0.5, 0.5, 0.5],  # b: 0.5
        [0.9, 0.9, 0.0],  # c: a zero: (0.81 · ε)^(1/3) ≈ 0.00093
        [0.6, math.nan, 0.6],  # d: one task missing; 0.6 on the two it has
    ]
    params = [{}, {"min_coverage": 0.5}, {"epsilon": 0.0}]
    args = [sys.executable, "-c", AGGREGATE, json.dumps(scores), json.dumps(params)]
    result = _run(args, workdir)
    out = json.loads(result.stdout)
    # the installed copy answered, not a source tree
    assert (
        Path(out["module"]).resolve().is_relative_to(Path(sysconfig.get_path("purelib")).resolve())
    )
    default, lenient, no_epsilon = out["rankings"]

    assert default["method"] == "geometric-mean"
    assert default["systems"] == ["a", "b", "c", "d"]
    assert default["coverage"] == pytest.approx([1, 1, 1, 2 / 3])
    a, b, c, d = default["scores"]
    assert a == pytest.approx(0.036 ** (1 / 3), rel=1e-7)
    assert b == pytest.approx(0.5, rel=1e-7)
    assert c == pytest.approx((0.81 * EPS) ** (1 / 3), rel=1e-7)
    assert d is None  # coverage 2/3 < min_coverage 1: NaN, ranked last
    assert default["ranks"] == [2, 1, 3, 4]

    assert lenient["scores"][3] == pytest.approx(0.6, rel=1e-7)
    assert lenient["ranks"] == [3, 2, 4, 1]

    assert no_epsilon["scores"][2] == 0.0  # ln 0 = -inf: the geometric mean is exactly 0
    assert no_epsilon["scores"][0] == pytest.approx(0.036 ** (1 / 3), rel=1e-12)
    assert no_epsilon["ranks"] == [2, 1, 3, 4]


def test_package_own_tests_pass(installed, workdir):
    run_own_tests(installed, workdir)


def test_example_imports_only_the_plugin_api():
    """As the import-linter contract holds built-in plugins to: rankarena, rankarena.api.*."""
    assert rankarena_imports_outside_the_plugin_api(PACKAGE / "rankarena_example") == []
