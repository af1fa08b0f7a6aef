"""Executors: ``local`` and ``ray`` give the same results for run and robustness grids; Ray
retries dead workers; corpus encoding sharded over actors (also from inside a Ray cell)
equals one encode."""

from __future__ import annotations

import operator
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import rankarena
from rankarena import DataFormatError, RankarenaError
from rankarena.cli.main import main
from rankarena.data import Corpus, Qrels, Results, Run, write_beir
from rankarena.retrieval.executors import (
    EncoderSpec,
    LocalExecutor,
    Resources,
    encode_sharded,
    make_executor,
    shard_bounds,
)
from rankarena.robustness.runner import RobustnessRunner, load_robustness_config
from rankarena.runs.pipeline import CellWork, Runner, load_config

RAY_MISSING = "Ray is not installed: pip install 'rankarena[ray]'"

GRID = """
[run]
name = "grid"
datasets = ["{a}", "{b}"]
metrics = ["ndcg@10", "recall@100"]
k = 100
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.robertson]
retriever = "bm25"
params = {{ method = "robertson", k1 = 1.2, b = 0.75 }}

[systems.fused]
inputs = ["bm25", "robertson"]
fusion = "rrf"
"""


@pytest.fixture(scope="module")
def grid_data(tmp_path_factory, scifact):
    """Two small BEIR folders cut from SciFact test: 20 queries each, their judged documents
    and 150 other documents (different ones for each folder)."""
    root = tmp_path_factory.mktemp("grid")
    judged = scifact.qrels("test").to_dict()
    queries = scifact.queries("test")
    ids = [q for q in queries.ids if q in judged]
    all_judged = {d for q in ids for d in judged[q]}
    others = [d for d in scifact.corpus.ids if d not in all_judged]
    folders = []
    for part, name in enumerate("ab"):
        chosen = ids[20 * part : 20 * (part + 1)]
        keep = {d for q in chosen for d in judged[q]} | set(others[150 * part : 150 * (part + 1)])
        table = scifact.corpus.table
        corpus = Corpus(table.filter(pa.array([d in keep for d in table["_id"].to_pylist()])))
        qrels = Qrels.from_dict({q: judged[q] for q in chosen})
        folders.append(write_beir(root / name, corpus, queries.select(chosen), {"test": qrels}))
    return folders


def grid_config(tmp_path: Path, folders, output: str) -> Path:
    path = tmp_path / f"{output}.toml"
    a, b = folders
    path.write_text(GRID.format(a=a, b=b, output=tmp_path / output))
    return path


def values(results: Results) -> dict[tuple[str, str, str], float]:
    return {(r["system"], r["dataset"], r["metric"]): r["value"] for r in results.table.to_pylist()}


def stored_once(store: Path) -> list[tuple[str, str]]:
    rows = Results.from_parquet(store).table.to_pylist()
    pairs = [(r["run_id"], r["metric"]) for r in rows]
    assert len(pairs) == len(set(pairs)), "a cell was stored twice"
    return pairs


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason=RAY_MISSING)
    # the test module's classes travel by value: Ray workers cannot import tests/
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


# ---------------------------------------------------------------- local executor


def test_local_executor_is_sequential_in_process():
    seen = []

    def fn(cell):
        seen.append(cell)
        return cell * 10

    executor = LocalExecutor()
    assert not executor.remote
    assert list(executor.map(fn, [3, 1, 2])) == [(3, 30), (1, 10), (2, 20)]
    assert seen == [3, 1, 2]
    executor.close()


def test_local_process_pool_streams_every_cell():
    with pytest.raises(RankarenaError):
        LocalExecutor(processes=-1)
    executor = LocalExecutor(processes=2)
    try:
        assert executor.remote
        assert sorted(executor.map(operator.neg, range(5))) == [(i, -i) for i in range(5)]
    finally:
        executor.close()


def test_shard_bounds_are_contiguous():
    assert shard_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert shard_bounds(2, 5) == [(0, 1), (1, 2)]
    assert shard_bounds(0, 4) == [(0, 0)]


def test_executor_config_and_errors(tmp_path, monkeypatch, scifact_dir):
    path = tmp_path / "run.toml"
    body = f'datasets = ["{scifact_dir}"]\nmetrics = ["ndcg@10"]\n'
    systems = '[systems.bm25]\nretriever = "bm25"\n'
    path.write_text(
        f'[run]\n{body}executor = "ray"\n[run.ray]\naddress = "auto"\nmax_retries = 5\n{systems}'
    )
    config = load_config(path)
    assert (config.executor, config.ray) == ("ray", {"address": "auto", "max_retries": 5})
    assert load_config(grid_config(tmp_path, [scifact_dir] * 2, "x")).executor == "local"
    for extra, message in [
        ('executor = "dask"\n', "[run] executor must be one of local, ray"),
        ("[run.ray]\nmax_retry = 1\n", "[run.ray] unknown key 'max_retry'"),
        ('[run.ray]\nnum_cpus = "two"\n', "[run.ray] num_cpus has the wrong type"),
    ]:
        path.write_text(f"[run]\n{body}{extra}{systems}")
        with pytest.raises(DataFormatError, match=r"run\.toml: ") as info:
            load_config(path)
        assert message in str(info.value)
    with pytest.raises(RankarenaError, match="unknown executor 'dask'"):
        make_executor("dask")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(RankarenaError) as info:
        make_executor("ray")
    assert "pip install 'rankarena[ray]'" in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------- Ray


class DyingWork(CellWork):
    """Kills its own worker process the first time it meets the cell ``(system, dataset)``
    named by ``victim`` (a marker file records the attempt)."""

    victim: tuple[str, str] = ("", "")
    marker: str = ""

    def __call__(self, cell):
        if (cell.system, Path(cell.dataset).name) == self.victim and not os.path.exists(
            self.marker
        ):
            Path(self.marker).touch()
            os._exit(1)  # the worker dies mid-cell, as on a lost node
        return super().__call__(cell)


def test_ray_grid_equals_local_and_survives_a_dead_worker(
    ray_cluster, grid_data, tmp_path, capsys, monkeypatch
):
    host = rankarena.plugin_manager()
    local = Runner(load_config(grid_config(tmp_path, grid_data, "local")), host, log=print)
    expected = values(local.execute())
    assert local.computed == 6 and len(expected) == 3 * 2 * 2

    # through the CLI flag: a fresh store, every cell a Ray task
    ray_config = grid_config(tmp_path, grid_data, "ray")
    capsys.readouterr()
    assert main(["run", str(ray_config), "--executor", "ray"]) == 0
    assert "6 runs computed, 0 reused" in capsys.readouterr().out
    store = tmp_path / "ray" / "results.parquet"
    assert len(stored_once(store)) == 12
    assert values(Results.from_parquet(store)) == expected
    for name in ("bm25", "robertson", "fused"):  # the run files are the same too
        for folder in grid_data:
            key = local.key(name, str(folder))
            assert Run.from_parquet(tmp_path / "ray" / "runs" / f"{key}.parquet") == (
                Run.from_parquet(local.run_dir / f"{key}.parquet")
            )

    # a worker killed in the middle of a cell: Ray retries the cell, stored once
    marker = tmp_path / "died-once"
    DyingWork.victim, DyingWork.marker = ("robertson", "b"), str(marker)
    config = load_config(grid_config(tmp_path, grid_data, "dying"))
    runner = Runner(config, host, log=print, executor=make_executor("ray", {"max_retries": 2}))
    monkeypatch.setattr("rankarena.runs.cells.CellWork", DyingWork)
    results = runner.execute()
    monkeypatch.undo()
    assert marker.exists()  # the worker did die once
    assert runner.computed == 6
    assert len(stored_once(runner.store)) == 12
    assert values(results) == expected

    # and a second Ray execution reuses everything
    again = Runner(config, host, log=print, executor="ray")
    assert values(again.execute()) == expected
    assert (again.computed, again.reused) == (0, 6)


def test_dead_worker_without_retries_is_one_error(ray_cluster, tmp_path):
    from rankarena.retrieval.ray_executor import RayExecutor

    marker = tmp_path / "died"

    def die(cell):
        if not marker.exists():
            marker.touch()
            os._exit(1)
        return cell

    executor = RayExecutor(max_retries=0)
    with pytest.raises(RankarenaError, match="worker of 7 died"):
        list(executor.map(die, [7], Resources(num_cpus=1)))
    retried = RayExecutor(max_retries=1)
    marker.unlink()
    assert list(retried.map(die, [7])) == [(7, 7)]
    assert ray_cluster.is_initialized()  # close() leaves a cluster it did not start
    retried.close()
    assert ray_cluster.is_initialized()


def test_encode_sharded_equals_one_encode(ray_cluster, scifact):
    from rankarena.retrieval.ray_executor import RayExecutor

    texts = scifact.corpus.texts()[:40]
    spec = EncoderSpec("minilm", "cpu", max_length=64, batch_size=8)
    expected = spec.build().encode(texts)
    local = encode_sharded(spec, texts, 3, LocalExecutor())
    np.testing.assert_allclose(local, expected, rtol=0, atol=1e-6)
    sharded = encode_sharded(spec, texts, 2, RayExecutor())
    assert sharded.shape == expected.shape and sharded.dtype == np.float32
    np.testing.assert_allclose(sharded, expected, rtol=0, atol=1e-6)


ROBUST = """
[run]
name = "robust"
datasets = ["{a}"]
metrics = ["ndcg@10", "recall@100"]
k = 100
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.minilm]
retriever = "dense"
params = {{ model = "minilm", max_length = 64, cache_dir = "{cache}" }}

[systems.hybrid]
inputs = ["bm25", "minilm"]
fusion = "rrf"

[robustness]
seed = 1
bootstrap = 50
tau_k = 20

[[robustness.perturbations]]
name = "typos"
intensities = [0.3]

[[robustness.perturbations]]
name = "truncation"
intensities = [0.5]

[[robustness.perturbations]]
name = "term-stuffing"
intensities = [0.2]
reference = "bm25"
depth = 3
"""


def robust_config(tmp_path: Path, folder: Path, output: str) -> Path:
    path = tmp_path / f"{output}.toml"
    text = ROBUST.format(a=folder, output=tmp_path / output, cache=tmp_path / "embeddings")
    path.write_text(text)
    return path


def drop_values(report) -> dict[tuple, float]:
    return {
        (r["system"], r["perturbation"], r["metric"], field): r[field]
        for r in report.drops
        for field in ("original", "perturbed", "kendall_tau")
    }


def test_robustness_grid_on_ray_equals_local(ray_cluster, grid_data, tmp_path, monkeypatch, capsys):
    """Every (system, dataset, variant) cell a Ray task: the same tables and store as local,
    a killed worker's cell retried, and a rerun reuses every cached run."""
    host = rankarena.plugin_manager()
    local = RobustnessRunner(
        load_robustness_config(robust_config(tmp_path, grid_data[0], "local")), host
    )
    expected = local.execute()
    assert local.computed == 3 * 4  # 3 systems x (original + 3 variants)

    marker = tmp_path / "died-once"
    DyingWork.victim, DyingWork.marker = ("minilm", "a"), str(marker)
    monkeypatch.setattr("rankarena.runs.cells.CellWork", DyingWork)
    config = load_robustness_config(robust_config(tmp_path, grid_data[0], "ray"))
    remote = RobustnessRunner(config, host, executor=make_executor("ray", {"max_retries": 2}))
    report = remote.execute()
    monkeypatch.undo()
    assert marker.exists()  # a worker died in a minilm cell and the cell was retried
    assert remote.computed == 12
    assert [(r["system"], r["perturbation"]) for r in report.drops] == [
        (r["system"], r["perturbation"]) for r in expected.drops
    ]
    got, want = drop_values(report), drop_values(expected)
    assert got.keys() == want.keys()
    for key, value in want.items():  # Kendall τ: Ray's one-thread torch may swap near ties
        assert got[key] == pytest.approx(value, abs=1e-4 if "kendall" in key[3] else 1e-9), key
    assert report.iid == expected.iid
    stored = [
        [
            (r["run_id"], r["metric"], r["query_id"])
            for r in Results.from_parquet(x).table.to_pylist()
        ]
        for x in (remote.store, local.store)
    ]
    assert len(set(stored[0])) == len(stored[0])  # each row once: the retried cell too
    assert sorted(stored[0], key=str) == sorted(stored[1], key=str)

    capsys.readouterr()
    assert main(["robustness", str(tmp_path / "ray.toml"), "--executor", "ray"]) == 0
    assert "0 runs computed, 12 reused" in capsys.readouterr().out


class ShardSpyWork(CellWork):
    """Records, in a marker file, the shard counts of ``encode_sharded`` calls made while
    computing a cell (in whatever process the cell runs)."""

    marker: str = ""

    def __call__(self, cell):
        from rankarena.plugins.retrieval import dense

        original = dense.encode_sharded

        def spy(*args, **kwargs):
            with open(self.marker, "a") as handle:
                handle.write(f"{args[2]}\n")
            return original(*args, **kwargs)

        dense.encode_sharded = spy
        try:
            return super().__call__(cell)
        finally:
            dense.encode_sharded = original


def test_dense_shards_encode_over_ray_actors(ray_cluster, grid_data, tmp_path, monkeypatch):
    """``dense`` with ``shards = 2`` encodes its corpus over two actors: directly under an
    active Ray executor, and from inside a Ray cell of ``rankarena run`` (a nested task that
    waits for its actors); the embeddings and the run equal an unsharded encode."""
    from rankarena.plugins.retrieval import dense
    from rankarena.retrieval.executors import use_executor
    from rankarena.retrieval.ray_executor import RayExecutor

    # no embedding cache of the caller's: every index() below must encode
    monkeypatch.delenv("RANKARENA_CACHE_DIR", raising=False)
    calls = []
    sharded = dense.encode_sharded
    monkeypatch.setattr(
        dense, "encode_sharded", lambda *a, **k: calls.append(a[2]) or sharded(*a, **k)
    )
    host = rankarena.plugin_manager()
    corpus = host.datasets.create("beir", path=str(grid_data[1])).corpus
    plain = host.retrievers.create("dense", model="minilm", max_length=64).index(corpus)
    split = host.retrievers.create("dense", model="minilm", max_length=64, shards=2)
    split.index(corpus)  # no active executor: in this process
    assert calls == []
    with use_executor(RayExecutor()):
        split.index(corpus)
    assert calls == [2]
    np.testing.assert_allclose(split.embeddings, plain.embeddings, rtol=0, atol=1e-6)

    path = tmp_path / "shards.toml"
    systems = (
        '[systems.minilm]\nretriever = "dense"\n'
        'params = { model = "minilm", max_length = 64, shards = 2 }\n'
    )
    body = f'[run]\ndatasets = ["{grid_data[1]}"]\nmetrics = ["ndcg@10"]\nk = 50\n'
    path.write_text(body + f'output = "{tmp_path / "local"}"\n' + systems)
    expected = values(Runner(load_config(path), host, log=print).execute())
    path.write_text(body + f'output = "{tmp_path / "ray"}"\n' + systems)
    ShardSpyWork.marker = str(tmp_path / "shards-in-cell")
    monkeypatch.setattr("rankarena.runs.cells.CellWork", ShardSpyWork)
    remote = Runner(load_config(path), host, log=print, executor="ray")
    assert values(remote.execute()) == pytest.approx(expected, abs=1e-9)
    assert Path(ShardSpyWork.marker).read_text() == "2\n"  # the Ray cell sharded its encode
