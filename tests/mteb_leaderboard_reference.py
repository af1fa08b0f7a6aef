"""mteb's own leaderboard tables for an MTEB results-repository folder, and a comparison of
rankarena's leaderboard with them: used by ``tests/test_mteb_results_repository.py`` and by
``benchmarks/check_mteb_leaderboard.py`` (every benchmark, any folder, outside the suite).

The reference is what mteb's leaderboard computes: ``mteb.ResultCache`` on a folder holding
the repository layout, its full-repository load (``load_results`` over the model registry's
names, main scores only, experiments matched by name), ``BenchmarkResults`` restricted to
the benchmark's task objects, and the benchmark's summary and per-task table builders.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any


def load_mteb_results(folder: Path) -> Any:
    """mteb's full-repository load of ``folder`` (a results-repository checkout)."""
    import mteb
    from mteb.cache.result_cache import LoadExperimentEnum

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "remote").symlink_to(Path(folder).resolve())
        cache = mteb.ResultCache(tmp)
        names = [m.name for m in mteb.get_model_metas() if m.name is not None]
        return cache.load_results(
            models=names,
            only_main_score=True,
            require_model_meta=False,
            include_remote=True,
            load_experiments=LoadExperimentEnum.MATCH_NAME,
        )


def mteb_tables(results: Any, benchmark: str) -> tuple[Any, Any]:
    """mteb's summary table (ranks, means) and per-task table for ``benchmark``."""
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


def leaderboard_differences(
    results: Any, folder: Path, benchmark: str, host: Any
) -> tuple[int, int, list[str]]:
    """(models, model × task cells, differences) between mteb's tables of ``benchmark``
    and rankarena's (``read_scores`` of the folder, then the ``borda``, ``mean`` and
    ``mean-by-task-type`` aggregators of ``host``): the same models, every per-task score
    to 1e-9, every Borda rank equal, the means to 1e-12 and their ranks equal."""
    from rankarena.leaderboard.score_sources import read_scores

    summary, per_task = mteb_tables(results, benchmark)
    table = read_scores(folder, benchmark=benchmark)
    problems: list[str] = []
    models = per_task["Model"].to_list()
    if sorted(table.systems) != sorted(models) or sorted(models) != sorted(
        summary["Model"].to_list()
    ):
        extra = sorted(set(table.systems) - set(models))[:3]
        missing = sorted(set(models) - set(table.systems))[:3]
        return len(models), 0, [f"models differ: ours only {extra}, mteb's only {missing}"]
    task_cols = [c for c in per_task.columns if c not in ("Model", "_experiment_id")]
    if sorted(table.tasks) != sorted(task_cols):
        return len(models), 0, [f"tasks differ: {sorted(set(table.tasks) ^ set(task_cols))}"]
    for record in per_task.iter_rows(named=True):
        row = table.systems.index(record["Model"])
        for task in task_cols:
            got, want = table.scores[row, table.tasks.index(task)], record[task]
            if want is None or math.isnan(want):
                if not math.isnan(got):
                    problems.append(f"{record['Model']} {task}: {got} where mteb has none")
            elif not abs(got - want) <= 1e-9:
                problems.append(f"{record['Model']} {task}: {got} != {want}")
    if not len(models):
        return 0, 0, problems
    borda = host.aggregators.create("borda").aggregate(table)
    theirs = dict(zip(summary["Model"].to_list(), summary["Rank (Borda)"].to_list(), strict=True))
    mine = dict(zip(borda.systems, borda.ranks.tolist(), strict=True))
    problems += [f"Borda rank of {m}: {mine[m]} != {r}" for m, r in theirs.items() if mine[m] != r]
    for method, column in [("mean", "Mean (Task)"), ("mean-by-task-type", "Mean (TaskType)")]:
        ours = host.aggregators.create(method).aggregate(table)
        values = dict(zip(summary["Model"].to_list(), summary[column].to_list(), strict=True))
        scores = dict(zip(ours.systems, ours.scores.tolist(), strict=True))
        for model, value in values.items():
            same = (
                math.isnan(scores[model])
                if value is None
                else (abs(scores[model] - value) <= 1e-12)
            )
            if not same:
                problems.append(f"{method} of {model}: {scores[model]} != {value}")
        ranks = dict(zip(ours.systems, ours.ranks.tolist(), strict=True))
        if ranks != ranks_by_value(values):
            problems.append(f"{method} ranks differ")
    return len(models), len(models) * len(task_cols), problems
