"""The MTEB leaderboard of a real slice of the public MTEB results repository
(``../shared/data/mteb-results``): ``read_scores(folder, benchmark=B)`` gives the models, the
per-task scores and the Borda, mean and mean-by-task-type ranks that mteb's own leaderboard
code computes from the same folder (``ResultCache`` full-repository load, ``BenchmarkResults``
restricted to the benchmark's tasks, the benchmark's summary and per-task table builders)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from conftest import _data_folder

import rankarena

BENCHMARKS = ["MTEB(eng, v2)", "MTEB(eng, v1)", "BEIR"]
HOST = rankarena.plugin_manager()


@pytest.fixture(scope="module")
def results_repository() -> Path:
    pytest.importorskip("mteb", reason="the reference is mteb's own leaderboard code")
    return _data_folder("mteb-results")


@pytest.fixture(scope="module")
def mteb_results(results_repository):
    """mteb's full-repository load of the folder, as its leaderboard does it."""
    import mteb
    from mteb.cache.result_cache import LoadExperimentEnum

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "remote").symlink_to(results_repository.resolve())
        cache = mteb.ResultCache(tmp)
        names = [m.name for m in mteb.get_model_metas() if m.name is not None]
        return cache.load_results(
            models=names,
            only_main_score=True,
            require_model_meta=False,
            include_remote=True,
            load_experiments=LoadExperimentEnum.MATCH_NAME,
        )


def mteb_tables(results, benchmark: str):
    import mteb

    bench = mteb.get_benchmark(benchmark)
    frame = results._to_results_df(bench.tasks)
    return bench._create_summary_table(frame).df, bench._create_per_task_table(frame)


def ranks_by_value(values: dict[str, float | None]) -> dict[str, int]:
    """Competition ranks, higher is better, missing last (as rankarena ranks a NaN mean)."""
    present = sorted(v for v in values.values() if v is not None)[::-1]
    n = len(present)
    return {
        m: (1 + sum(1 for w in present if w > v)) if v is not None else n + 1
        for m, v in values.items()
    }


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_leaderboard_equals_mtebs(results_repository, mteb_results, benchmark, capsys):
    from rankarena.leaderboard.score_sources import read_scores

    summary, per_task = mteb_tables(mteb_results, benchmark)
    table = read_scores(results_repository, benchmark=benchmark)
    assert "Traceback" not in capsys.readouterr().err

    models = per_task["Model"].to_list()
    assert sorted(table.systems) == sorted(models) == sorted(summary["Model"].to_list())
    task_cols = [c for c in per_task.columns if c not in ("Model", "_experiment_id")]
    assert sorted(table.tasks) == sorted(task_cols)
    for record in per_task.iter_rows(named=True):
        row = table.systems.index(record["Model"])
        for task in task_cols:
            got, want = table.scores[row, table.tasks.index(task)], record[task]
            if want is None or math.isnan(want):
                assert math.isnan(got), (record["Model"], task)
            else:
                assert abs(got - want) <= 1e-9, (record["Model"], task, got, want)

    borda = HOST.aggregators.create("borda").aggregate(table)
    theirs = dict(zip(summary["Model"].to_list(), summary["Rank (Borda)"].to_list(), strict=True))
    assert dict(zip(borda.systems, borda.ranks.tolist(), strict=True)) == theirs

    for method, column in [("mean", "Mean (Task)"), ("mean-by-task-type", "Mean (TaskType)")]:
        ours = HOST.aggregators.create(method).aggregate(table)
        values = dict(zip(summary["Model"].to_list(), summary[column].to_list(), strict=True))
        mine = dict(zip(ours.systems, ours.scores.tolist(), strict=True))
        for model, value in values.items():
            if value is None:
                assert math.isnan(mine[model]), (method, model)
            else:
                assert mine[model] == pytest.approx(value, abs=1e-12), (method, model)
        ranks = dict(zip(ours.systems, ours.ranks.tolist(), strict=True))
        assert ranks == ranks_by_value(values), method


def test_unreadable_file_is_one_warning_line_or_strict_error(results_repository, tmp_path, capsys):
    """A file mteb cannot read is left out with one warning line naming it; ``strict`` makes
    it a one-line error."""
    from rankarena import DataFormatError
    from rankarena.leaderboard.score_sources import read_mteb_results_folder

    model = "sentence-transformers__all-MiniLM-L6-v2"
    source = results_repository / "results" / model
    copy = tmp_path / "results" / model
    for file in source.rglob("*.json"):
        target = copy / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    bad = next(p for p in sorted(copy.rglob("*.json")) if p.name != "model_meta.json")
    bad.write_text("{ not json")
    table = read_mteb_results_folder(tmp_path, "BEIR")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "1 file(s)" in lines[0] and bad.name in lines[0], err
    assert table.systems == ("sentence-transformers/all-MiniLM-L6-v2",)
    with pytest.raises(DataFormatError, match="not an MTEB task result") as info:
        read_mteb_results_folder(tmp_path, "BEIR", strict=True)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
