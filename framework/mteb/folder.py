"""Walking an MTEB results folder: ``results/<model>/<revision>/<Task>.json`` (the public
results repository's layout, and what ``mteb`` writes), each file read with
``mteb.results.TaskResult.from_disk``. Needs the ``mteb`` extra; callers check for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..data.jsonl import parse_json
from ..errors import DataFormatError


def results_root(folder: Path) -> Path:
    """``folder/results`` when it exists (a checkout of the results repository), else
    ``folder``."""
    return folder / "results" if (folder / "results").is_dir() else folder


def meta_name(revision_dir: Path) -> str | None:
    """The model name in ``revision_dir/model_meta.json`` (None when the file or its
    ``name`` is absent); a file that is not a JSON object is a ``DataFormatError``."""
    meta = revision_dir / "model_meta.json"
    if not meta.is_file():
        return None
    try:
        text = meta.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(meta, f"cannot read ({exc})") from None
    document = parse_json(text, meta)
    if not isinstance(document, dict):
        raise DataFormatError(meta, f"expected a JSON object, got {type(document).__name__}")
    name = document.get("name")
    return str(name) if name else None


def revision_results(root: Path) -> Iterator[tuple[Path, Path, list[Any]]]:
    """``(model folder, revision folder, task results)`` for every revision folder below
    ``root``, in name order; ``model_meta.json`` is not a task result. A file mteb cannot
    read is a one-line ``DataFormatError`` naming it."""
    from mteb.results import TaskResult

    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for revision_dir in sorted(p for p in model_dir.iterdir() if p.is_dir()):
            results = []
            for file in sorted(revision_dir.glob("*.json")):
                if file.name == "model_meta.json":
                    continue
                try:
                    results.append(TaskResult.from_disk(file))
                except Exception as exc:  # mteb raises several types for a bad file
                    text = str(exc).strip()
                    first = text.splitlines()[0] if text else type(exc).__name__
                    raise DataFormatError(file, f"not an MTEB task result ({first})") from None
            yield model_dir, revision_dir, results


class LeaderboardScores:
    """Per-task scores of an MTEB results folder as mteb's leaderboard computes them:
    ``rows`` of (model, task, score or None), the ``tasks`` in order with their ``types``,
    the files mteb could not read (``skipped``: path and first line of the error), the
    model folders left out because mteb's model registry does not know them, and ``borda``,
    what mteb ranks Borda on (``borda_basis``; None without a benchmark)."""

    def __init__(self, rows, tasks, types, skipped, unlisted, borda=None) -> None:
        self.rows: list[tuple[str, str, float | None]] = rows
        self.tasks: list[str] = tasks
        self.types: dict[str, str] = types
        self.skipped: list[tuple[Path, str]] = skipped
        self.unlisted: list[str] = unlisted
        self.borda: dict[str, Any] | None = borda


def borda_basis(frame: Any, table_models: dict[str, str], n_models: int) -> dict[str, Any]:
    """What mteb's summary table ranks Borda on (``_borda_rank_from_long(pl_df,
    n_models=per_task.height)`` in ``mteb/benchmarks/_create_table.py``): per model of the
    results frame and task, the mean of the scored cells (mteb's ``group_by(model_name,
    task_name).agg(score.mean())``, nulls skipped: a task missing a split still has one),
    every model of the frame taking ranks; ``n`` is the table's model count. ``rows`` maps
    each table system to its model (``table_models``: system → model name)."""
    import polars as pl

    means = frame.group_by(["model_name", "task_name"]).agg(pl.col("score").mean())
    models = sorted(str(m) for m in means.get_column("model_name").unique().to_list())
    tasks = sorted(str(t) for t in means.get_column("task_name").unique().to_list())
    at_model = {m: i for i, m in enumerate(models)}
    at_task = {t: j for j, t in enumerate(tasks)}
    scores: list[list[float | None]] = [[None] * len(tasks) for _ in models]
    for model, task, score in means.iter_rows():
        if score is not None:
            scores[at_model[str(model)]][at_task[str(task)]] = float(score)
    return {
        "systems": models,
        "tasks": tasks,
        "scores": scores,
        "n": n_models,
        "models": table_models,
    }


def leaderboard_scores(root: Path, benchmark: str | None = None) -> LeaderboardScores:
    """Read ``root`` (``<model>/<revision>/<Task>.json``) with mteb's own leaderboard code.

    As mteb's leaderboard does: ``ResultCache.load_results`` over the model registry's names
    (main scores only, experiments matched by name, no ``model_meta.json`` required);
    ``BenchmarkResults.select_tasks(benchmark.tasks)`` (only the benchmark's splits and
    language subsets count), ``join_revisions`` (one file per model and task) and the
    benchmark's per-task pivot (the mean over the counted cells, missing when one is
    missing; models without any score dropped). A folder in which no model folder is named
    after a registry model (your own results) keeps all its models. A file mteb cannot
    read is left out and listed in ``skipped``. The folder is not copied: mteb reads it
    through a temporary tree of links."""
    import logging
    import tempfile
    import warnings

    import mteb
    from mteb.cache.result_cache import LoadExperimentEnum

    bench = _mteb_benchmark(benchmark) if benchmark else None
    folders = {p.name for p in root.iterdir() if p.is_dir()}
    registry = {
        m.name.replace("/", "__").replace(" ", "_"): m.name
        for m in mteb.get_model_metas()
        if m.name
    }
    listed = sorted(registry[f] for f in folders if f in registry)
    unlisted = sorted(f for f in folders if f not in registry) if listed else []
    load = {
        "models": listed or None,
        "only_main_score": True,
        "require_model_meta": False,
        "include_remote": True,
        "load_experiments": LoadExperimentEnum.MATCH_NAME,
    }
    quiet = logging.getLogger("mteb")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
            warnings.simplefilter("ignore")
            cache = _linked_cache(Path(tmp) / "whole", root, None)
            skipped: list[tuple[Path, str]] = []
            try:
                frame = _results_frame(cache, load, bench)
            except Exception:  # a file mteb cannot read: find it, leave it out, retry
                paths = cache.get_cache_paths(**{k: load[k] for k in _PATH_ARGS})
                skipped = _unreadable(paths, cache.remote_results_path, root)
                bad = {path for path, _ in skipped}
                cache = _linked_cache(Path(tmp) / "filtered", root, bad)
                try:
                    frame = _results_frame(cache, load, bench)
                except Exception as exc:
                    raise DataFormatError(
                        root, f"mteb cannot build the leaderboard table ({_first_line(exc)})"
                    ) from None
            return _scores_from_frame(frame, bench, skipped, unlisted)
    finally:
        quiet.setLevel(level)


_PATH_ARGS = ("models", "require_model_meta", "include_remote", "load_experiments")


def _mteb_benchmark(name: str) -> Any:
    import mteb

    from ..errors import ParameterError

    try:
        return mteb.get_benchmark(name)
    except (KeyError, ValueError):
        raise ParameterError(f"unknown MTEB benchmark {name!r}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _linked_cache(cache_dir: Path, root: Path, leave_out: set[Path] | None) -> Any:
    """A ``mteb.ResultCache`` at ``cache_dir`` whose ``remote/results`` is ``root``: one link
    to it, or with ``leave_out``, a tree of links to every other file."""
    import mteb

    results = cache_dir / "remote" / "results"
    results.parent.mkdir(parents=True)
    if leave_out is None:
        results.symlink_to(root.resolve(), target_is_directory=True)
    else:
        for file in root.rglob("*"):
            if file.is_file() and file not in leave_out:
                link = results / file.relative_to(root)
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(file.resolve())
    return mteb.ResultCache(cache_dir)


def _unreadable(paths: list[Path], linked: Path, root: Path) -> list[tuple[Path, str]]:
    from mteb.results import TaskResult

    bad = []
    for path in sorted(paths):
        try:
            TaskResult.from_disk(path).only_main_score()
        except Exception as exc:  # mteb raises several types for a file it cannot read
            bad.append((root / path.relative_to(linked), _first_line(exc)))
    return bad


def _results_frame(cache: Any, load: dict[str, Any], bench: Any) -> Any:
    results = cache.load_results(**load)
    return results._to_results_df(bench.tasks if bench is not None else None)


def _scores_from_frame(frame: Any, bench: Any, skipped, unlisted) -> LeaderboardScores:
    import math

    from mteb.benchmarks._create_table import _build_per_task_pivot

    pivot = (
        bench._build_per_task_pivot(frame) if bench is not None else _build_per_task_pivot(frame)
    )
    if pivot is None:
        return LeaderboardScores([], [], {}, skipped, unlisted)
    table, columns = pivot
    if bench is not None:
        types = {t.metadata.name: str(t.metadata.type) for t in bench.tasks}
        order = [t.metadata.name for t in bench.tasks]
        tasks = [t for t in dict.fromkeys(order) if t in columns]
    else:
        tasks = sorted(columns)
        types = {t: _task_type(t) for t in tasks}
    experiment = "_experiment_id" if "_experiment_id" in table.columns else None
    rows: list[tuple[str, str, float | None]] = []
    table_models: dict[str, str] = {}
    for record in table.iter_rows(named=True):
        model = system = str(record["model_name"])
        if experiment and record[experiment]:
            system = f"{model} [{record[experiment]}]"
        table_models[system] = model
        for task in tasks:
            value = record[task]
            rows.append((system, task, None if value is None or math.isnan(value) else value))
    borda = borda_basis(frame, table_models, table.height) if bench is not None else None
    return LeaderboardScores(rows, tasks, {t: types[t] for t in tasks}, skipped, unlisted, borda)


def _task_type(name: str) -> str:
    import mteb

    try:
        return str(mteb.get_task(name).metadata.type)
    except Exception:  # a task mteb does not know (e.g. a local BEIR folder)
        return "Retrieval"
