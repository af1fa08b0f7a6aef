"""The example plugin package (docs/plugin-example), installed for real with pip.

The module fixture pip-installs a copy of the package into the running environment
(offline: ``--no-index --no-build-isolation --no-deps``) and uninstalls it at teardown.
Every check then runs in a new process, so that the ``rankarena`` entry points are read
afresh, exactly as a user's ``rankarena`` command reads them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from rankarena.data import Results, write_trec_run

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "docs" / "plugin-example"
DIST = "rankarena-example"
RANKARENA = Path(sysconfig.get_path("scripts")) / "rankarena"
EPS = 1e-9  # the aggregator's default epsilon


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANKARENA_DISABLE_PLUGINS", "RANKARENA_TRACE_PLUGINS")
    }
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=300, cwd=cwd, env=_env(**env)
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Path]:
    """Install a copy of docs/plugin-example (its build files stay out of the checkout)."""
    if _pip("show", "--quiet", DIST).returncode == 0:
        pytest.fail(
            f"{DIST} is already installed in {sys.prefix}; this test installs and removes "
            f"it itself: run `{sys.executable} -m pip uninstall -y {DIST}` first"
        )
    source = tmp_path_factory.mktemp("plugin-example") / DIST
    shutil.copytree(
        PACKAGE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    try:
        result = _pip(
            "install", "--no-index", "--no-build-isolation", "--no-deps", "--quiet", str(source)
        )
        assert result.returncode == 0, f"pip install failed:\n{result.stdout}{result.stderr}"
        yield source
    finally:
        removed = _pip("uninstall", "--yes", DIST)
        assert removed.returncode == 0, f"pip uninstall failed:\n{removed.stderr}"


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
        "hooks": ["register_aggregators", "register_metrics"],
    }
    metrics = {c["name"]: c for c in payload["components"]["metrics"]}
    assert metrics["rbp"]["plugin"] == "example"
    assert metrics["rbp"]["parameters"] == ["k: int | None = None", "p: float = 0.8"]
    assert "Moffat & Zobel" in metrics["rbp"]["description"]
    aggregators = {c["name"]: c for c in payload["components"]["aggregators"]}
    assert aggregators["geometric-mean"]["plugin"] == "example"
    assert aggregators["geometric-mean"]["parameters"] == [
        "epsilon: float = 1e-09",
        "min_coverage: float = 1.0",
    ]
    assert payload["failures"] == []


def test_plugins_table_mentions_the_example(installed, workdir):
    out = _run([str(RANKARENA), "plugins"], workdir).stdout
    rows = [line for line in out.splitlines() if re.search(r"\bexample\b", line)]
    assert any(f"{DIST} 0.1.0" in row for row in rows), out
    assert "rbp" in out
    assert "geometric-mean" in out


def test_disabled_plugin_is_not_loaded(installed, workdir):
    payload = _plugins_json(workdir, RANKARENA_DISABLE_PLUGINS="example")
    assert "example" not in {p["name"] for p in payload["plugins"]}
    metrics = {c["name"] for c in payload["components"]["metrics"]}
    assert "rbp" not in metrics
    assert "ndcg" in metrics  # the built-ins still load
    aggregators = {c["name"] for c in payload["components"]["aggregators"]}
    assert "geometric-mean" not in aggregators and "borda" in aggregators
    assert payload["failures"] == []


def test_trace_shows_the_example_hooks(installed, workdir):
    result = _run([str(RANKARENA), "plugins", "--json"], workdir, RANKARENA_TRACE_PLUGINS="1")
    assert re.search(r"register_metrics\(register\) -> example \[[0-9.]+ ms\]", result.stderr)
    assert re.search(r"register_aggregators\(register\) -> example \[", result.stderr)


def _naive_rbp_at_k(run_file: Path, qrels_file: Path, k: int, p: float = 0.8) -> float:
    """Mean RBP@k read straight from the files, one query and one rank at a time."""
    relevant: dict[str, set[str]] = defaultdict(set)
    judged_queries: set[str] = set()
    with open(qrels_file) as lines:
        next(lines)  # header: query-id, corpus-id, score
        for line in lines:
            qid, docno, grade = line.rstrip("\r\n").split("\t")  # the file has CRLF ends
            judged_queries.add(qid)
            if int(grade) >= 1:
                relevant[qid].add(docno)
    ranked: dict[str, list[tuple[float, str]]] = defaultdict(list)
    with open(run_file) as lines:
        for line in lines:
            qid, _q0, docno, _rank, score, _tag = line.split()
            ranked[qid].append((float(score), docno))
    values = []
    for qid in sorted(judged_queries & set(ranked)):
        # trec_eval order: score descending, ties by doc id descending
        docs = sorted(ranked[qid], reverse=True)[:k]
        total = 0.0
        for i, (_score, docno) in enumerate(docs, start=1):
            if docno in relevant[qid]:
                total += p ** (i - 1)
        values.append((1 - p) * total)
    return sum(values) / len(values)


def test_eval_prints_rbp(installed, workdir, scifact_dir, scifact_tfidf_run, tmp_path):
    run_file = tmp_path / "tfidf.trec"
    write_trec_run(scifact_tfidf_run, run_file)
    store = tmp_path / "results.parquet"
    args = [str(RANKARENA), "eval", "--dataset", str(scifact_dir), "--split", "test"]
    args += ["--run", str(run_file), "--metrics", "rbp@10,ndcg@10", "--output", str(store)]
    out = _run(args, workdir).stdout
    printed = dict(re.findall(r"│ (rbp@10|ndcg@10)\s*│\s*([0-9.]+) │", out))
    assert set(printed) == {"rbp@10", "ndcg@10"}, out
    assert re.search(r"\(300\s+queries\)", out), out

    expected = _naive_rbp_at_k(run_file, scifact_dir / "qrels" / "test.tsv", k=10)
    assert 0.05 < expected < 0.95  # a real, non-degenerate value
    assert printed["rbp@10"] == f"{expected:.4f}"
    stored = {
        row["metric"]: row["value"] for row in Results.from_parquet(store).means().table.to_pylist()
    }
    assert stored["rbp@10"] == pytest.approx(expected, rel=1e-12)


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
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(installed / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=_env(PYTHONDONTWRITEBYTECODE="1"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [0-9.]+s", summary), summary
