"""``rankarena run CONFIG.toml``: cached, resumable runs evaluated into a results store."""

from __future__ import annotations

import shutil

import pytest

import rankarena
from rankarena import DataFormatError
from rankarena.cli.main import main
from rankarena.retrieval.fusion import fuse
from rankarena.runs.pipeline import Runner, load_config, system_key

CONFIG = """
[run]
name = "t"
datasets = ["{data}"]
metrics = ["ndcg@10", "recall@100"]
k = 100
output = "out"

[systems.bm25]
retriever = "bm25"

[systems.robertson]
retriever = "bm25"
params = {{ method = "robertson", k1 = 1.2, b = 0.75 }}

[systems.fused]
inputs = ["bm25", "robertson"]
fusion = "combsum"
fusion_params = {{ norm = "z-score" }}
"""


@pytest.fixture
def config_file(tmp_path, scifact_dir):
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(data=scifact_dir))
    return path


def test_run_caches_evaluates_and_resumes(config_file, scifact):
    config = load_config(config_file)
    host = rankarena.plugin_manager()
    first = Runner(config, host, log=lambda *a: None)
    results = first.execute()
    assert (first.computed, first.reused) == (3, 0)
    assert results.table.num_rows == 3 * 2
    # the stored numbers are the evaluation of the cached runs; the fused run is the fusion
    runs = {
        name: rankarena.Run.from_parquet(
            first.run_dir / f"{first.key(name, config.datasets[0])}.parquet"
        )
        for name in config.systems
    }
    assert runs["fused"] == fuse([runs["bm25"], runs["robertson"]], "combsum", norm="z-score").top(
        100
    )
    stored = {(r["system"], r["metric"]): r["value"] for r in results.table.to_pylist()}
    for name, run in runs.items():
        expected = rankarena.evaluate(run, scifact.qrels("test"), config.metrics).mean
        for metric, value in expected.items():
            assert stored[(name, metric)] == pytest.approx(value, abs=1e-12)
    # a second execution computes nothing and stores nothing twice
    second = Runner(config, host, log=lambda *a: None)
    assert second.execute().table.num_rows == 6
    assert (second.computed, second.reused) == (0, 3)
    # an interrupted run (one run file and the store lost) resumes with only what is missing
    (first.run_dir / f"{first.key('robertson', config.datasets[0])}.parquet").unlink()
    shutil.rmtree(first.store)
    third = Runner(config, host, log=lambda *a: None)
    assert third.execute().table.num_rows == 6
    assert third.computed == 1


def test_changing_a_system_changes_only_its_key(config_file, tmp_path, scifact_dir):
    config = load_config(config_file)
    before = {n: system_key(config, n, config.datasets[0]) for n in config.systems}
    config.systems["robertson"]["params"]["k1"] = 1.5
    after = {n: system_key(config, n, config.datasets[0]) for n in config.systems}
    assert before["bm25"] == after["bm25"]
    assert before["robertson"] != after["robertson"]
    assert before["fused"] != after["fused"]  # its input changed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\nmetrics = ['ndcg@10']\n", "[run] datasets must be a non-empty list"),
        ("[run\n", "invalid TOML"),
        (
            "[run]\ndatasets=['x']\nmetrics=['m']\n[systems.a]\nretriever='bm25'\nretriver='x'\n",
            "[systems.a] unknown key(s) retriver",
        ),
        (
            "[run]\ndatasets=['x']\nmetrics=['m']\n[systems.a]\ninputs=['b']\n",
            "[systems.a] input 'b' is not another system",
        ),
    ],
)
def test_bad_configs_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DataFormatError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_bad_component_parameter(config_file, capsys):
    config_file.write_text(config_file.read_text().replace("k1 = 1.2", "k2 = 1.2"))
    assert main(["run", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert (
        "retriever 'bm25' has no parameter 'k2'" in err
        and "(in [systems.robertson] of the run config)" in err
    )


def test_cli_prints_a_leaderboard(config_file, capsys):
    assert main(["run", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "3 runs computed, 0 reused" in out and "t: ndcg@10" in out


def test_defaults_are_part_of_the_key(config_file):
    host = rankarena.plugin_manager()
    config = load_config(config_file)
    implicit = Runner(config, host).key("bm25", config.datasets[0])
    config.systems["bm25"]["params"] = {"k1": 0.9, "stemmer": "porter"}  # the defaults
    assert Runner(config, host).key("bm25", config.datasets[0]) == implicit
    config.systems["bm25"]["params"] = {"stemmer": "english"}
    assert Runner(config, host).key("bm25", config.datasets[0]) != implicit


def test_dense_settings_that_keep_results_are_not_in_the_key(config_file):
    """``dense``'s ``cache_dir`` and ``shards`` (its ``not_in_run_key``), ``device`` and
    ``show_progress`` leave a run's cache key alone; ``max_length`` changes it."""
    host = rankarena.plugin_manager()
    config = load_config(config_file)

    def key(**params) -> str:
        config.systems["minilm"] = {"retriever": "dense", "params": {"model": "minilm", **params}}
        return Runner(config, host).key("minilm", config.datasets[0])

    plain = key()
    assert key(cache_dir="/tmp/x", shards=4, device="cpu", show_progress=True) == plain
    assert key(max_length=64) != plain


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (('retriever = "bm25"', 'retriever = "bm52"'), "unknown retriever 'bm52'"),
        (('fusion = "combsum"', 'fusion = "comsum"'), "unknown fusion 'comsum'"),
        (("norm = ", "nrom = "), "fusion 'combsum' has no parameter(s) nrom"),
        (('"{data}"', '"no-such-dataset"'), "unknown dataset 'no-such-dataset'"),
        (('"{data}"', '"./missing/folder"'), "not a folder"),
        (("k1 = 1.2", "k1 = 'high'"), "parameter 'k1' must be float"),
        # strict [run]: unknown keys are named with the valid ones, values are type-checked
        (
            ("k = 100", 'k = 100\nsplt = "train"'),
            "[run] unknown key(s) splt (did you mean 'split'?); valid: datasets, executor, k, "
            "metrics, name, output, ray, split",
        ),
        (('output = "out"', 'ouptut = "elsewhere"'), "unknown key(s) ouptut (did you mean"),
        (("k = 100", "k = 2.7"), "[run] k must be an integer >= 1, got 2.7"),
        (("k = 100", 'k = "abc"'), "[run] k must be an integer >= 1, got 'abc'"),
        (("k = 100", "k = 0"), "[run] k must be an integer >= 1, got 0"),
        (("k = 100", "k = true"), "[run] k must be an integer >= 1, got True"),
        (('name = "t"', "name = 3"), "[run] name must be a string, got 3"),
        (
            ('params = {{ method = "robertson", k1 = 1.2, b = 0.75 }}', 'params = "x"'),
            "[systems.robertson] params must be a table, got 'x'",
        ),
        (("[systems.bm25]", "[systems]\nx = 1\n[systems.bm25]"), "[systems.x] must be a table"),
        (("[run]", "[runn]\n[run]"), "config: unknown key(s) runn (did you mean 'run'?)"),
        (('fusion = "combsum"', "fusion = 3"), "[systems.fused] fusion must be a string"),
        (('inputs = ["bm25", "robertson"]', 'inputs = "bm25"'), "inputs must be a non-empty"),
    ],
)
def test_bad_config_is_one_line_and_runs_nothing(tmp_path, scifact_dir, capsys, replace, message):
    path = tmp_path / "run.toml"
    text = CONFIG.replace(*replace)
    assert text != CONFIG
    path.write_text(text.format(data=scifact_dir))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_config_files_that_cannot_be_read_are_one_line(tmp_path, capsys):
    folder = tmp_path / "a-folder.toml"
    folder.mkdir()
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[run]\nname = "caf\xe9"\n')
    for path, message in [
        (folder, f"{folder}: is a folder, not a TOML config file"),
        (latin1, f"{latin1}: not valid UTF-8 (byte 17: b'\\xe9')"),
        (tmp_path / "missing.toml", f"{tmp_path / 'missing.toml'}: no such file"),
    ]:
        assert main(["run", str(path)]) == 2
        assert capsys.readouterr().err == f"rankarena: error: {message}\n"


def test_an_output_that_is_a_file_is_refused(config_file, capsys):
    (config_file.parent / "out").write_text("not a folder")
    assert main(["run", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[run] output" in err and "is a file, not a folder" in err


def test_adaptive_rrf_system(tmp_path, scifact_dir, scifact):
    from rankarena.retrieval.adaptive_fusion import adaptive_weights

    path = tmp_path / "run.toml"
    text = CONFIG.replace('fusion = "combsum"', 'fusion = "adaptive-rrf"')
    path.write_text(text.replace('{{ norm = "z-score" }}', "{{ k = 30 }}").format(data=scifact_dir))
    config = load_config(path)
    runner = Runner(config, rankarena.plugin_manager(), log=lambda *a: None)
    runner.execute()
    runs = {
        name: rankarena.Run.from_parquet(
            runner.run_dir / f"{runner.key(name, config.datasets[0])}.parquet"
        )
        for name in config.systems
    }
    weights = adaptive_weights(scifact.corpus, scifact.queries("test"))
    expected = fuse([runs["bm25"], runs["robertson"]], "rrf", k=30, weights=weights).top(100)
    assert runs["fused"] == expected


KILL_CONFIG = """
[run]
datasets = ["{data}"]
metrics = ["ndcg@10", "recall@10"]
k = 50
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.minilm]
retriever = "dense"
params = {{ batch_size = 4 }}

[systems.hybrid]
inputs = ["bm25", "minilm"]
"""


def test_killed_run_resumes_to_the_same_results(tmp_path, scifact):
    import os
    import signal
    import subprocess
    import sys
    import time

    from rankarena.data import Corpus, Queries, Results, write_beir

    qrels = scifact.qrels("test")
    queries = Queries(scifact.queries("test").table.slice(0, 12))
    judged = set(qrels.table.column("doc_id").to_pylist())
    rows = [i for i, d in enumerate(scifact.corpus.ids) if d in judged][:60]
    rows += list(range(60, 160))
    corpus = Corpus(scifact.corpus.table.take(sorted(set(rows))))
    data = write_beir(tmp_path / "subset", corpus, queries, {"test": qrels})

    def config(output: str):
        path = tmp_path / f"{output}.toml"
        path.write_text(KILL_CONFIG.format(data=data, output=tmp_path / output))
        return path

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("RANKARENA_CACHE_DIR", None)  # no embedding cache: the dense run must be cut
    script = "import sys; from rankarena.cli.main import main; sys.exit(main(sys.argv[1:]))"
    child = subprocess.Popen(
        [sys.executable, "-c", script, "run", str(config("killed"))],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_dir = tmp_path / "killed" / "runs"
    deadline = time.monotonic() + 120
    while not list(run_dir.glob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # no chance to clean up: as a power cut
    child.wait()
    written = list(run_dir.glob("*.parquet"))
    assert len(written) == 1  # bm25 finished, the dense run was cut
    stamp = written[0].stat().st_mtime_ns

    host = rankarena.plugin_manager()
    resumed = Runner(load_config(config("killed")), host, log=lambda *a: None)
    resumed_results = resumed.execute()
    assert (resumed.computed, resumed.reused) == (2, 1)
    assert written[0].stat().st_mtime_ns == stamp  # bm25 was not recomputed
    # no temporary file left behind (lock files stay: deleting one would race a waiter)
    hidden = [p for p in (tmp_path / "killed").rglob("*") if p.name.startswith(".")]
    assert not [p for p in hidden if not p.name.endswith(".lock")]

    fresh = Runner(load_config(config("fresh")), host, log=lambda *a: None).execute()

    def values(results: Results):
        return sorted((r["system"], r["metric"], r["value"]) for r in results.table.to_pylist())

    assert values(resumed_results) == values(fresh)


@pytest.mark.parametrize("name", ["quickstart", "local"])
def test_shipped_configs_load_and_check(name, monkeypatch, scifact_dir):
    from pathlib import Path

    monkeypatch.setenv("RANKARENA_DATA_DIR", str(scifact_dir.parent))
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / f"{name}.toml"
    config = load_config(path)
    assert config.datasets[0] == str(scifact_dir.absolute())
    runner = Runner(config, rankarena.plugin_manager())  # checks every component
    assert {"bm25", "minilm"} <= set(runner.config.systems)


def test_unknown_config_keys_are_named_with_the_valid_ones():
    from rankarena.errors import DataFormatError, reject_unknown_keys

    reject_unknown_keys("c.toml", "[t]", {"a": 1}, ["a", "b"])  # all known: no error
    with pytest.raises(DataFormatError) as info:
        reject_unknown_keys("c.toml", "[t]", ["alpah", "a"], ["alpha", "a", "beta"])
    assert (
        str(info.value)
        == "c.toml: [t] unknown key(s) alpah (did you mean 'alpha'?); valid: a, alpha, beta"
    )
    with pytest.raises(DataFormatError) as info:
        reject_unknown_keys("c.toml", "[t]", ["x", "y"], ["alpha"])
    assert str(info.value) == "c.toml: [t] unknown key(s) x, y; valid: alpha"
