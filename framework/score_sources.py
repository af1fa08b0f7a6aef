"""Where leaderboard score tables come from: files in four layouts, read into a ``ScoreTable``.

``read_scores(source)`` recognises:

1. **A long table** (Parquet or CSV) with columns ``system, task, score`` and optionally
   ``task_type``: one row per (system, task); NaN or empty scores are missing cells.
2. **A rankarena results store** (``results.parquet`` of ``rankarena run`` / ``eval``):
   systems × datasets, the mean over queries of one ``metric`` (default: ``ndcg@10`` when
   present, else the only metric). A dataset evaluated on several splits becomes
   ``dataset/split`` tasks; a robustness variant (``rankarena robustness``) becomes
   ``dataset[variant]``, e.g. ``scifact[typos@0.3]``, so systems rank by robustness too.
3. **The MTEB leaderboard export** (``../shared/data/mteb/scores.parquet`` with its
   ``benchmarks.json``): the rows mteb's leaderboard uses (``lb_selected``) of the tasks,
   splits and subsets that count for ``benchmark`` (its ``membership_column``); the task score
   is the mean of ``main_score`` over the counted cells, missing when any counted cell is;
   systems without any score are dropped, as mteb's pivot drops them.
4. **An MTEB results folder** (``results/<model>/<revision>/<Task>.json``, the layout of
   github.com/embeddings-benchmark/results), read with mteb's own ``TaskResult.from_disk``
   (needs ``pip install 'rankarena[mteb]'``); a model with several revisions keeps the one
   with most tasks, ties to the name sorted last.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rankarena.errors import DataFormatError, ParameterError, UnknownNameError
from rankarena.mteb_folder import results_root, revision_results
from rankarena.scoretable import ScoreTable

MTEB_EXPORT_COLUMNS = {"model", "task", "main_score", "lb_selected"}
RESULTS_COLUMNS = {"system", "dataset", "split", "metric", "value", "run_id"}
DEFAULT_BENCHMARK = "MTEB(eng, v2)"


def read_scores(
    source: str | Path,
    *,
    benchmark: str | None = None,
    metric: str | None = None,
) -> ScoreTable:
    """The systems × tasks table in ``source`` (see the module docstring for the layouts).

    :param benchmark: for the MTEB export: a benchmark of its ``benchmarks.json``
        (default ``MTEB(eng, v2)``); for an MTEB results folder: only its tasks.
    :param metric: for a results store: which metric (default ``ndcg@10`` if present).
    """
    path = Path(source)
    if path.is_dir():
        return read_mteb_results_folder(path, benchmark=benchmark)
    if not path.is_file():
        raise DataFormatError(path, "no such file or folder")
    table = _read_table(path)
    columns = set(table.column_names)
    if columns >= MTEB_EXPORT_COLUMNS:
        return read_mteb_export(table, path, benchmark or DEFAULT_BENCHMARK)
    if columns >= RESULTS_COLUMNS:
        return read_results_store(table, path, metric)
    if columns >= {"system", "task", "score"}:
        return _from_long(table, path)
    raise DataFormatError(
        path,
        "not a score table: need columns system, task, score[, task_type] (long), a "
        "rankarena results store, or the MTEB export (model, task, main_score, lb_selected)",
    )


def _read_table(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        try:
            return pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataFormatError(path, f"not a readable Parquet file ({exc})") from None
    if path.suffix in (".csv", ".tsv"):
        delimiter = "\t" if path.suffix == ".tsv" else ","
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            rows = list(reader)
            header = reader.fieldnames or []
        for number, row in enumerate(rows, start=2):
            if None in row or any(v is None for v in row.values()):
                raise DataFormatError(path, f"expected {len(header)} fields", number)
        columns = {name: [row[name] for row in rows] for name in header}
        if "score" in columns:
            columns["score"] = [_csv_number(v, path, n) for n, v in enumerate(columns["score"], 2)]
        return pa.table(columns) if columns else pa.table({})
    raise DataFormatError(path, "expected a .parquet, .csv or .tsv file, or an MTEB results folder")


def _csv_number(text: str, path: Path, line: int) -> float:
    if text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DataFormatError(path, f"score {text!r} is not a number", line) from None


def _from_long(table: pa.Table, path: Path) -> ScoreTable:
    try:
        scores = ScoreTable.from_long(table)
    except DataFormatError as exc:
        raise DataFormatError(path, str(exc).removeprefix("None: ")) from None
    if "task_type" in table.column_names:
        types = dict(zip(table["task"].to_pylist(), table["task_type"].to_pylist(), strict=True))
        scores = ScoreTable(scores.systems, scores.tasks, scores.scores, types)
    return scores


def read_results_store(table: pa.Table, path: Path, metric: str | None = None) -> ScoreTable:
    """Systems × datasets of one metric from a rankarena results store (means only)."""
    table = table.filter(table["query_id"].is_null()) if "query_id" in table.column_names else table
    metrics = sorted(set(table["metric"].to_pylist()))
    if not metrics:
        raise DataFormatError(path, "the results store holds no mean results")
    if metric is None:
        if "ndcg@10" in metrics or len(metrics) == 1:
            metric = "ndcg@10" if "ndcg@10" in metrics else metrics[0]
        else:
            raise ParameterError(
                f"{path}: which metric? pass --metric; stored: {', '.join(metrics)}"
            )
    if metric not in metrics:
        raise UnknownNameError("metric", metric, metrics)
    rows = table.filter(pc.equal(table["metric"], metric)).to_pylist()
    splits: dict[str, set[str]] = {}
    for row in rows:
        splits.setdefault(row["dataset"], set()).add(row["split"])
    cells: dict[tuple[str, str], float] = {}
    for row in rows:  # the newest row of a (system, task) wins: the store is append-only
        task = (
            row["dataset"]
            if len(splits[row["dataset"]]) == 1
            else f"{row['dataset']}/{row['split']}"
        )
        if row.get("variant"):  # a robustness variant is a task of its own
            task = f"{task}[{row['variant']}]"
        cells[(row["system"], task)] = row["value"]
    return ScoreTable.from_long(
        [{"system": s, "task": t, "score": v} for (s, t), v in cells.items()]
    )


def mteb_benchmarks(path: Path) -> dict:
    """``benchmarks.json`` beside an MTEB export: benchmark name → definition."""
    folder_file = path.parent / "benchmarks.json"
    if not folder_file.is_file():
        raise DataFormatError(folder_file, "missing: the MTEB export needs its benchmarks.json")
    benchmarks = json.loads(folder_file.read_text(encoding="utf-8"))["benchmarks"]
    for definition in list(benchmarks.values()):
        for alias in definition.get("aliases", []):
            benchmarks.setdefault(alias, definition)
    return benchmarks


def read_mteb_export(table: pa.Table, path: Path, benchmark: str) -> ScoreTable:
    """One benchmark's leaderboard table from the MTEB export, as mteb computes it."""
    benchmarks = mteb_benchmarks(path)
    if benchmark not in benchmarks:
        raise UnknownNameError("benchmark", benchmark, benchmarks)
    # a derived view names an expression ("in_mteb_eng_v2 & task_type == ..."): its column,
    # then the task list below does the rest
    membership = benchmarks[benchmark]["membership_column"].split()[0]
    names = [t["name"] if isinstance(t, dict) else t for t in benchmarks[benchmark]["tasks"]]
    keep = pc.and_(table["lb_selected"], table[membership])
    keep = pc.and_(keep, pc.is_in(table["task"], pa.array(names, table["task"].type)))
    rows = table.filter(keep)
    task_types = dict(zip(rows["task"].to_pylist(), rows["task_type"].to_pylist(), strict=True))
    cells: dict[tuple[str, str], list[float | None]] = {}
    experiments = rows["experiment"].to_pylist() if "experiment" in rows.column_names else None
    for index, (model, task, score) in enumerate(
        zip(
            rows["model"].to_pylist(),
            rows["task"].to_pylist(),
            rows["main_score"].to_pylist(),
            strict=True,
        )
    ):
        name = (
            model
            if not experiments or not experiments[index]
            else f"{model} [{experiments[index]}]"
        )
        cells.setdefault((name, task), []).append(score)
    long = [
        {
            "system": system,
            "task": task,
            "score": math.nan if any(v is None for v in values) else float(np.mean(values)),
        }
        for (system, task), values in cells.items()
    ]
    full = ScoreTable.from_long(long)
    keep_rows = ~np.all(np.isnan(full.scores), axis=1)  # mteb's pivot drops all-null models
    return ScoreTable(
        tuple(s for s, k in zip(full.systems, keep_rows, strict=True) if k),
        full.tasks,
        full.scores[keep_rows],
        task_types,
    )


def read_mteb_results_folder(folder: Path, benchmark: str | None = None) -> ScoreTable:
    """Models × tasks from an MTEB results folder, read with ``mteb.TaskResult.from_disk``."""
    try:
        import mteb  # noqa: F401 (the folder is read with mteb)
    except ImportError:
        raise ParameterError(
            f"{folder}: reading an MTEB results folder needs mteb: pip install 'rankarena[mteb]'"
        ) from None
    root = results_root(folder)
    wanted = _benchmark_tasks(benchmark) if benchmark else None
    chosen: dict[str, tuple[int, str, dict]] = {}
    for model_dir, revision_dir, results in revision_results(root):
        scores, types = {}, {}
        for result in results:
            if wanted is not None and result.task_name not in wanted:
                continue
            scores[result.task_name] = result.get_score()
            try:
                types[result.task_name] = str(result.task_type)
            except KeyError:  # a task mteb does not know (e.g. a local BEIR folder)
                types[result.task_name] = "Retrieval"
        name = _model_name(model_dir, revision_dir)
        candidate = (len(scores), revision_dir.name, {"scores": scores, "types": types})
        if scores and (name not in chosen or candidate[:2] > chosen[name][:2]):
            chosen[name] = candidate
    if not chosen:
        raise DataFormatError(
            folder, "no MTEB task results (results/<model>/<revision>/<Task>.json)"
        )
    long, task_types = [], {}
    for name, (_, _, found) in sorted(chosen.items()):
        task_types.update(found["types"])
        long.extend({"system": name, "task": t, "score": s} for t, s in found["scores"].items())
    table = ScoreTable.from_long(long)
    return ScoreTable(table.systems, table.tasks, table.scores, task_types)


def _model_name(model_dir: Path, revision_dir: Path) -> str:
    meta = revision_dir / "model_meta.json"
    if meta.is_file():
        name = json.loads(meta.read_text(encoding="utf-8")).get("name")
        if name:
            return str(name)
    return model_dir.name.replace("__", "/")


def _benchmark_tasks(benchmark: str) -> set[str]:
    import mteb

    try:
        return {task.metadata.name for task in mteb.get_benchmark(benchmark).tasks}
    except (KeyError, ValueError):
        raise ParameterError(f"unknown MTEB benchmark {benchmark!r}") from None


def subset_tasks(table: ScoreTable, tasks: Iterable[str]) -> ScoreTable:
    """``table`` restricted to ``tasks`` (in that order)."""
    index = [table.tasks.index(t) for t in tasks]
    types = {t: table.task_types[t] for t in tasks if t in table.task_types}
    return ScoreTable(table.systems, tuple(tasks), table.scores[:, index], types)
