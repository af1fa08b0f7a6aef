"""Where leaderboard score tables come from: files in four layouts, read into a ``ScoreTable``.

``read_scores(source)`` recognises:

1. **A long table** (Parquet or CSV) with columns ``system, task, score`` and optionally
   ``task_type``: one row per (system, task); NaN or empty scores are missing cells (on
   purpose: a leaderboard has holes). A CSV file is UTF-8 and its scores are numbers as
   every rankarena reader writes them (``rankarena.data.jsonl``: ``1_0`` is not one).
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
   github.com/embeddings-benchmark/results), read with mteb's own leaderboard code
   (``rankarena.mteb.folder.leaderboard_scores``; needs ``pip install 'rankarena[mteb]'``):
   the models, revisions, splits and language subsets mteb's leaderboard uses for
   ``benchmark``, so the table equals mteb's per-task table; unreadable files are left out
   with one warning line (``strict``: an error).

In every layout a row without a system (model) or task name, a score that is infinite or
not a number, and a table without any score are ``DataFormatError``s naming the file and
the row (the line, in a CSV file), never a system called "None" or an empty leaderboard.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..data import Results, store_exists
from ..data.jsonl import parse_json, parse_score
from ..data.score_table import BordaBasis, RowSource, ScoreTable
from ..errors import DataFormatError, ParameterError, UnknownNameError
from ..mteb.folder import results_root
from ..mteb.leaderboard_cache import cached_leaderboard_scores
from .uncertainty import QueryValues

MTEB_EXPORT_COLUMNS = {"model", "task", "main_score", "lb_selected"}
RESULTS_COLUMNS = {"system", "dataset", "split", "metric", "value", "run_id"}
SCORE_COLUMNS = {"score", "value", "main_score"}  # read as numbers from a CSV file
DEFAULT_BENCHMARK = "MTEB(eng, v2)"


def read_scores(
    source: str | Path,
    *,
    benchmark: str | None = None,
    metric: str | None = None,
    strict: bool = False,
) -> ScoreTable:
    """The systems × tasks table in ``source`` (see the module docstring for the layouts).

    :param benchmark: for the MTEB export: a benchmark of its ``benchmarks.json``
        (default ``MTEB(eng, v2)``); for an MTEB results folder: only its tasks.
    :param metric: for a results store: which metric (default ``ndcg@10`` if present).
    :param strict: for an MTEB results folder: a file mteb cannot read is a
        ``DataFormatError`` instead of a skipped file with one warning line.
    """
    path = Path(source)
    if path.suffix == ".parquet" and store_exists(path):  # a file, or a results store folder
        table = _read_scores_file(path, benchmark, metric)
    elif path.is_dir():
        table = read_mteb_results_folder(path, benchmark=benchmark, strict=strict)
    elif path.is_file():
        table = _read_scores_file(path, benchmark, metric)
    else:
        raise DataFormatError(path, "no such file or folder")
    return _require_scores(table, path)


def _read_scores_file(path: Path, benchmark: str | None, metric: str | None) -> ScoreTable:
    table, lines = _read_table(path)
    columns = set(table.column_names)
    if columns >= MTEB_EXPORT_COLUMNS:
        return read_mteb_export(table, path, benchmark or DEFAULT_BENCHMARK)
    if columns >= RESULTS_COLUMNS:
        return read_results_store(table, path, metric)
    if columns >= {"system", "task", "score"}:
        return _from_long(table, path, lines)
    raise DataFormatError(
        path,
        "not a score table: need columns system, task, score[, task_type] (long), a "
        "rankarena results store, or the MTEB export (model, task, main_score, lb_selected)",
    )


def _require_scores(table: ScoreTable, path: Path) -> ScoreTable:
    """``table``, unless it holds no score at all (no rows, or every cell missing)."""
    if not table.systems or not table.tasks:
        raise DataFormatError(path, "no scores (the table has no rows)")
    if np.isnan(table.scores).all():
        raise DataFormatError(path, "no scores (every score is empty or NaN)")
    return table


def _read_table(path: Path) -> tuple[pa.Table, list[int] | None]:
    """The file's table, and for a CSV file the line of each row (for errors)."""
    if path.suffix == ".parquet":
        if not path.is_file():  # a results store's parts folder
            return Results.from_store(path).table, None
        try:
            return pq.read_table(path), None
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(
                path, f"not a readable Parquet file ({_first_line(exc)})"
            ) from None
    if path.suffix in (".csv", ".tsv"):
        return _read_csv(path, "\t" if path.suffix == ".tsv" else ",")
    raise DataFormatError(path, "expected a .parquet, .csv or .tsv file, or an MTEB results folder")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_csv(path: Path, delimiter: str) -> tuple[pa.Table, list[int]]:
    """A CSV (or TSV) file with a header row; the score columns are read as numbers
    (empty: missing) with the number syntax of every rankarena reader."""
    header, rows, lines = _csv_rows(path, _decoded(path), delimiter)
    columns: dict[str, list] = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    for name in SCORE_COLUMNS & columns.keys():
        columns[name] = [
            _csv_number(v, path, n, name) for v, n in zip(columns[name], lines, strict=True)
        ]
    return (pa.table(columns) if columns else pa.table({})), lines


def _decoded(path: Path) -> str:
    """The file's text: UTF-8 (a leading BOM is dropped); other bytes are an error naming the
    line and byte offset."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(path, f"cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1]
        raise DataFormatError(
            path, f"not valid UTF-8 (byte {exc.start}: {bad!r}); save it as UTF-8", line
        ) from None


def _csv_rows(
    path: Path, text: str, delimiter: str
) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and each row's line; a row with the wrong number of fields, a repeated
    column name or a malformed or too long field (``csv.field_size_limit``) is an error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines = [], []
    try:
        header = next(reader, [])
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    path, f"expected {len(header)} fields, got {len(row)}", reader.line_num
                )
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataFormatError(path, f"not a readable CSV file ({exc})", reader.line_num) from None
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataFormatError(path, f"column {repeated[0]!r} appears twice in the header", 1)
    return header, rows, lines


def _csv_number(text: str, path: Path, line: int, column: str) -> float:
    """A CSV score: empty is missing (NaN); otherwise a number as every reader parses it."""
    text = text.strip()
    if text == "":
        return math.nan
    return parse_score(text, path, line, column)


def _from_long(table: pa.Table, path: Path, lines: list[int] | None) -> ScoreTable:
    _require_numbers(table, "score", path, lines)
    scores = ScoreTable.from_long(table, source=str(path), lines=lines)
    if "task_type" in table.column_names:
        types = _task_types(table, path, lines)
        scores = ScoreTable(scores.systems, scores.tasks, scores.scores, types)
    return scores


def _task_types(table: pa.Table, path: Path, lines: list[int] | None) -> dict[str, str]:
    """Task → type from a long table's ``task_type`` column (an empty type: none); a task
    given two different types is an error."""
    types: dict[str, str] = {}
    first: dict[str, int] = {}
    rows = zip(table["task"].to_pylist(), table["task_type"].to_pylist(), strict=True)
    for number, (task, kind) in enumerate(rows, start=1):
        if kind is None or not str(kind).strip():
            continue
        task, kind = str(task), str(kind)
        first.setdefault(task, number)
        if types.setdefault(task, kind) != kind:
            earlier = RowSource(str(path), first[task], lines)
            raise RowSource(str(path), number, lines).error(
                f"task {task!r} has task_type {kind!r} here but {types[task]!r} at {earlier}"
            )
    return types


def _require_numbers(table: pa.Table, column: str, path: Path, lines: list[int] | None) -> None:
    """``column`` must hold numbers (nulls and NaN are missing cells), none of them infinite."""
    values = table[column]
    kind = values.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
        if not pa.types.is_decimal(kind):
            raise DataFormatError(path, f"column {column!r} holds {kind}, not numbers")
        return
    if pa.types.is_floating(kind):
        infinite = pc.is_inf(values)
        if pc.any(infinite).as_py():
            row = int(pc.index(infinite, True).as_py())
            value = values[row].as_py()
            raise RowSource(str(path), row + 1, lines).error(
                f"{column} {value!r} is not a finite number"
            )


def _require_names(table: pa.Table, columns: tuple[str, ...], path: Path) -> None:
    """Each of ``columns`` holds a name on every row (no null, no empty string)."""
    for name in columns:
        values = table[name]
        missing = pc.is_null(values)
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            missing = pc.or_(missing, pc.equal(pc.utf8_trim_whitespace(values), ""))
        if pc.any(missing).as_py():
            row = int(pc.index(missing, True).as_py()) + 1
            raise DataFormatError(path, f"row {row}: {name} is missing")


def _require_columns(table: pa.Table, columns: Iterable[str], path: Path, what: str) -> None:
    missing = [name for name in columns if name not in table.column_names]
    if missing:
        raise DataFormatError(path, f"{what} needs column(s) {', '.join(missing)}")


def _require_booleans(table: pa.Table, columns: Iterable[str], path: Path) -> None:
    for name in columns:
        if not pa.types.is_boolean(table[name].type):
            raise DataFormatError(path, f"column {name!r} holds {table[name].type}, not booleans")


def read_results_store(table: pa.Table, path: Path, metric: str | None = None) -> ScoreTable:
    """Systems × datasets of one metric from a rankarena results store (means only)."""
    rows, name = _store_means(table, path, metric)
    cells: dict[tuple[str, str], float] = {}
    for row in rows:  # the newest row of a (system, task) wins: the store is append-only
        cells[(row["system"], name(row))] = row["value"]
    return ScoreTable.from_long(
        [{"system": s, "task": t, "score": v} for (s, t), v in cells.items()], source=str(path)
    )


def read_query_values(table: pa.Table, path: Path, metric: str | None = None) -> QueryValues:
    """The per-query values (``query_id`` not null) of a results store's ``metric``, for the
    tasks ``read_results_store`` builds (same metric choice, same task names): per task a
    systems × queries matrix, NaN where a system lacks a query. Robustness variants are
    left out (their tasks stay task-level); the newest row of a (system, task, query)
    wins, as for the means. Empty (no task) when the store holds no per-query rows."""
    rows, name = _store_means(table, path, metric)
    tasks = {name(row) for row in rows}
    metric = rows[0]["metric"] if rows else metric
    if "query_id" not in table.column_names or not rows:
        return QueryValues((), {}, {})
    keep = pc.and_(pc.invert(table["query_id"].is_null()), pc.equal(table["metric"], metric))
    if "variant" in table.column_names:
        keep = pc.and_(keep, pc.equal(pc.fill_null(table["variant"], ""), ""))
    found = table.filter(keep).select(["system", "dataset", "split", "query_id", "value"])
    cells: dict[str, dict[tuple[str, str], float]] = {}
    for row in found.to_pylist():  # newest last: it wins
        task = name(row)
        if task in tasks:
            value = math.nan if row["value"] is None else float(row["value"])
            cells.setdefault(task, {})[(row["system"], str(row["query_id"]))] = value
    systems = sorted({s for task_cells in cells.values() for s, _ in task_cells})
    at = {s: i for i, s in enumerate(systems)}
    values, queries = {}, {}
    for task, task_cells in cells.items():
        ids = sorted({q for _, q in task_cells})
        column = {q: j for j, q in enumerate(ids)}
        matrix = np.full((len(systems), len(ids)), np.nan)
        for (system, query), value in task_cells.items():
            matrix[at[system], column[query]] = value
        values[task], queries[task] = matrix, tuple(ids)
    return QueryValues(tuple(systems), values, queries)


def query_values_of(source: str | Path, metric: str | None = None) -> QueryValues | None:
    """The per-query values of ``source`` when it is a results store file with per-query
    rows (``read_query_values``), else None (other layouts have task scores only)."""
    path = Path(source)
    if not path.is_file() or path.suffix not in (".parquet", ".csv", ".tsv"):
        return None
    table, _ = _read_table(path)
    if not set(table.column_names) >= RESULTS_COLUMNS | {"query_id"}:
        return None
    if set(table.column_names) >= MTEB_EXPORT_COLUMNS:
        return None
    found = read_query_values(table, path, metric)
    return found if found.values else None


def _store_means(
    table: pa.Table, path: Path, metric: str | None
) -> tuple[list[dict], Callable[[dict], str]]:
    """The mean rows of the chosen metric of a results store (row order kept), and the task
    name of a row: ``dataset``, ``dataset/split`` when the dataset has several splits,
    ``...[variant]`` for a robustness variant."""
    _require_names(table, ("system", "dataset", "split", "metric"), path)
    _require_numbers(table, "value", path, None)
    means = table.filter(table["query_id"].is_null()) if "query_id" in table.column_names else table
    metrics = sorted(set(means["metric"].to_pylist()))
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
    rows = means.filter(pc.equal(means["metric"], metric)).to_pylist()
    splits: dict[str, set[str]] = {}
    for row in rows:
        splits.setdefault(row["dataset"], set()).add(row["split"])

    def name(row: dict) -> str:
        dataset = row["dataset"]
        task = dataset if len(splits.get(dataset, ())) == 1 else f"{dataset}/{row['split']}"
        if row.get("variant"):  # a robustness variant is a task of its own
            task = f"{task}[{row['variant']}]"
        return task

    return rows, name


def mteb_benchmarks(path: Path) -> dict:
    """``benchmarks.json`` beside an MTEB export: benchmark name → definition."""
    folder_file = path.parent / "benchmarks.json"
    if not folder_file.is_file():
        raise DataFormatError(folder_file, "missing: the MTEB export needs its benchmarks.json")
    try:
        text = folder_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(folder_file, f"cannot read ({_first_line(exc)})") from None
    document = parse_json(text, folder_file)
    benchmarks = document.get("benchmarks") if isinstance(document, dict) else None
    if not isinstance(benchmarks, dict) or not all(
        isinstance(d, dict) for d in benchmarks.values()
    ):
        raise DataFormatError(folder_file, "expected an object 'benchmarks': name → definition")
    for name, definition in list(benchmarks.items()):
        aliases = definition.get("aliases", [])
        if not isinstance(aliases, list):
            raise DataFormatError(folder_file, f"benchmark {name!r}: 'aliases' is not a list")
        for alias in aliases:
            benchmarks.setdefault(str(alias), definition)
    return benchmarks


def _benchmark_definition(definition: dict, path: Path, benchmark: str) -> tuple[str, list[str]]:
    """``(membership column, task names)`` of one benchmark of ``benchmarks.json``."""
    try:
        # a derived view names an expression ("in_mteb_eng_v2 & task_type == ..."): its
        # column, then the task list does the rest
        membership = definition["membership_column"].split()[0]
        names = [t["name"] if isinstance(t, dict) else t for t in definition["tasks"]]
    except (KeyError, TypeError, AttributeError, IndexError):
        raise DataFormatError(
            path.parent / "benchmarks.json",
            f"benchmark {benchmark!r} needs a 'membership_column' and a list of 'tasks'",
        ) from None
    return membership, [str(name) for name in names]


def read_mteb_export(table: pa.Table, path: Path, benchmark: str) -> ScoreTable:
    """One benchmark's leaderboard table from the MTEB export, as mteb computes it."""
    benchmarks = mteb_benchmarks(path)
    if benchmark not in benchmarks:
        raise UnknownNameError("benchmark", benchmark, benchmarks)
    membership, names = _benchmark_definition(benchmarks[benchmark], path, benchmark)
    _require_columns(table, ("task_type", membership), path, f"benchmark {benchmark!r}")
    _require_booleans(table, ("lb_selected", membership), path)
    _require_names(table, ("model", "task"), path)
    _require_numbers(table, "main_score", path, None)
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
    full = ScoreTable.from_long(long, source=str(path))
    keep_rows = ~np.all(np.isnan(full.scores), axis=1)  # mteb's pivot drops all-null models
    return ScoreTable(
        tuple(s for s, k in zip(full.systems, keep_rows, strict=True) if k),
        full.tasks,
        full.scores[keep_rows],
        task_types,
    )


def read_mteb_results_folder(
    folder: Path, benchmark: str | None = None, *, strict: bool = False
) -> ScoreTable:
    """Models × tasks of an MTEB results folder, as mteb's own leaderboard computes them
    (``rankarena.mteb.folder.leaderboard_scores``): the models it lists, one revision per
    model and task, and with ``benchmark`` only that benchmark's tasks, splits and language
    subsets. A file mteb cannot read is left out with one warning line on stderr that
    counts such files and names the first few (with ``strict``, a ``DataFormatError``)."""
    if importlib.util.find_spec("mteb") is None:  # (not imported: a cache hit needs no mteb)
        raise ParameterError(
            f"{folder}: reading an MTEB results folder needs mteb: pip install 'rankarena[mteb]'"
        )
    root = results_root(folder)
    if not root.is_dir() or not any(root.glob("*/*/*.json")):
        raise DataFormatError(
            folder, "no MTEB task results (results/<model>/<revision>/<Task>.json)"
        )
    found = cached_leaderboard_scores(root, benchmark)
    if found.skipped:
        first_path, first_error = found.skipped[0]
        if strict:
            raise DataFormatError(first_path, f"not an MTEB task result ({first_error})")
        names = ", ".join(str(path.relative_to(root)) for path, _ in found.skipped[:3])
        more = ", …" if len(found.skipped) > 3 else ""
        print(
            f"warning: {folder}: left out {len(found.skipped)} file(s) mteb cannot read: "
            f"{names}{more} (first: {first_error})",
            file=sys.stderr,
        )
    if found.unlisted:
        shown = ", ".join(found.unlisted[:3]) + (", …" if len(found.unlisted) > 3 else "")
        print(
            f"note: {folder}: {len(found.unlisted)} model folder(s) not in mteb's model "
            f"registry left out, as mteb's leaderboard leaves them out: {shown}",
            file=sys.stderr,
        )
    if not found.rows:
        raise DataFormatError(
            folder,
            "no MTEB task results"
            + (f" for benchmark {benchmark!r}" if benchmark else "")
            + " (results/<model>/<revision>/<Task>.json)",
        )
    long = [
        {"system": model, "task": task, "score": math.nan if score is None else score}
        for model, task, score in found.rows
    ]
    table = ScoreTable.from_long(long)
    index = [table.tasks.index(t) for t in found.tasks]
    basis = None
    if found.borda is not None:
        borda = found.borda
        at = {model: i for i, model in enumerate(borda["systems"])}
        values = [[math.nan if v is None else v for v in row] for row in borda["scores"]]
        basis = BordaBasis(
            tuple(borda["systems"]),
            tuple(borda["tasks"]),
            np.array(values, dtype=np.float64).reshape(len(borda["systems"]), -1),
            int(borda["n"]),
            tuple(at[borda["models"][system]] for system in table.systems),
        )
    result = ScoreTable(
        table.systems, tuple(found.tasks), table.scores[:, index], found.types, basis
    )
    if basis is not None:
        _note_borda_basis(folder, result, basis)
    return result


def _note_borda_basis(folder: Path, table: ScoreTable, basis: BordaBasis) -> None:
    """One stderr line when mteb's Borda ranks more than the table shows: models it ranks
    but does not list, and cells the table shows missing that have a partial score."""
    listed = set(basis.rows)
    scored = ~np.isnan(basis.scores)
    unlisted = [name for i, name in enumerate(basis.systems) if i not in listed and scored[i].any()]
    column = {task: j for j, task in enumerate(table.tasks)}
    at = np.array([column.get(task, -1) for task in basis.tasks], dtype=np.int64)
    shown = np.zeros((len(table.systems), len(basis.tasks)), dtype=bool)
    shown[:, at >= 0] = ~np.isnan(table.scores[:, at[at >= 0]])
    partial = int((scored[list(basis.rows)] & ~shown).sum())
    if unlisted or partial:
        names = ", ".join(unlisted[:3]) + (", …" if len(unlisted) > 3 else "")
        print(
            f"note: {folder}: Borda ranks as mteb's leaderboard computes them: they also "
            f"count {partial} listed cell(s) scored on part of their splits and "
            f"{len(unlisted)} model(s) it leaves out of the table, scored only in part"
            f"{': ' + names if names else ''} (so ranks may skip numbers)",
            file=sys.stderr,
        )


def subset_tasks(table: ScoreTable, tasks: Iterable[str]) -> ScoreTable:
    """``table`` restricted to ``tasks`` (in that order)."""
    index = [table.tasks.index(t) for t in tasks]
    types = {t: table.task_types[t] for t in tasks if t in table.task_types}
    return ScoreTable(table.systems, tuple(tasks), table.scores[:, index], types)
