"""``rankarena run CONFIG.toml``: cached, resumable runs evaluated into a results store."""

from __future__ import annotations

import pytest

import rankarena
from rankarena import DataFormatError
from rankarena.cli import main
from rankarena.fusion import fuse
from rankarena.pipeline import Runner, load_config, system_key

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
            first.run_dir / f"{system_key(config, name, config.datasets[0])}.parquet"
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
    (first.run_dir / f"{system_key(config, 'robertson', config.datasets[0])}.parquet").unlink()
    first.store.unlink()
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
    assert "retriever 'bm25' has no parameter 'k2'" in err and "(in the run config)" in err


def test_cli_prints_a_leaderboard(config_file, capsys):
    assert main(["run", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "3 runs computed, 0 reused" in out and "t: ndcg@10" in out
