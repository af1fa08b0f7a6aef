"""``rankarena report``: one static HTML file that summarises a run folder.

``build_report(source, output)`` reads a ``rankarena run`` output folder (``results.parquet``,
optionally ``runs/`` and ``robustness/``) or a bare results store (``.parquet``) and writes
one HTML file with everything inline (CSS, PNG figures as ``data:`` URIs; no scripts, no
fonts or images from elsewhere), in five sections:

1. **Leaderboard** — the systems ranked under every registered aggregation rule (or those
   asked for) over the datasets, robustness variants included as tasks ``dataset[variant]``,
   for one metric (``rankarena.leaderboard.board.build_leaderboard``), and Kendall's τ-b between
   the rules' rankings.
2. **Per-dataset metrics** — systems × metrics means per dataset, systems significantly
   worse than the dataset's best system marked: two-sided paired t-test on per-query values
   (``scipy.stats.ttest_rel``), Holm-corrected over the comparisons with the best system of
   that dataset and metric, α = 0.05 (``rankarena.compare``'s engine with the best system as
   baseline). Per-query values come from the store's per-query rows,
   else from evaluating the cached runs (``runs/<run_id>.parquet``) against the dataset's
   qrels (the folder found with ``rankarena.data.catalog.resolve_dataset``; never downloaded).
3. **Robustness** — the metric against perturbation intensity, one line per system
   (``rankarena.robustness.plot.plot_robustness``), from ``robustness/drops.csv`` or from the
   store's ``PERTURBATION@INTENSITY`` variant rows.
4. **Score distributions and ROC** — per dataset and system, the pooled ROC of
   Sheikholeslami et al. (arXiv:2510.00137): each query's positives and its top ``depth``
   non-positives (``JudgedRun.score_pool``), all queries pooled; histograms of the two sets'
   scores, the ROC curve and its AUC (the Mann–Whitney U over n_pos·n_neg: ``auc@depth``).
5. **Swiss failure sensitivity** — the ``swiss`` aggregator's ``sensitivity`` on the leaderboard
   table: each system's rank under harsher and harsher elimination schedules.

A section whose inputs are missing says why instead of failing; bad input (no such path,
not a results store, an unknown metric) is a one-line ``RankarenaError``. The file is written
atomically.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..data import Qrels, Results, Run, atomic_write, store_exists
from ..errors import DataFormatError, ParameterError, RankarenaError, UnknownNameError
from ..leaderboard.score_sources import RESULTS_COLUMNS, read_query_values, read_results_store

SECTIONS = {
    "leaderboard": "1. Leaderboard",
    "metrics": "2. Per-dataset metrics",
    "robustness": "3. Robustness",
    "scores": "4. Score distributions and ROC",
    "swiss": "5. Swiss failure sensitivity",
}
"""Section id → heading; every section is in every report (skipped ones with a note)."""

DEFAULT_TOURNAMENTS = 2_000
DEFAULT_DEPTH = 500
DEFAULT_ALPHA = 0.05
_VARIANT = re.compile(r"^(?P<perturbation>.+)@(?P<intensity>[0-9.eE+-]+)$")


@dataclass
class ReportSummary:
    """What ``build_report`` wrote: the file, the seconds it took and the notes it made."""

    path: Path
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass
class _Source:
    path: Path
    store: Path
    table: pa.Table
    run_dirs: list[Path]
    drops: Path | None


@dataclass(frozen=True)
class _Cell:
    system: str
    dataset: str
    split: str
    metric: str
    value: float
    run_id: str


# --------------------------------------------------------------------------------- inputs


def open_source(path: str | Path) -> _Source:
    """The results store (and the run and robustness folders beside it) at ``path``."""
    path = Path(path)
    if path.suffix == ".parquet" and store_exists(path):  # the store itself
        store, folder = path, path.parent
    elif path.is_dir():
        store = path / "results.parquet"
        if not store_exists(store):
            raise DataFormatError(path, "no results.parquet: not a `rankarena run` output folder")
        folder = path
    elif path.is_file():
        store, folder = path, path.parent
    else:
        raise DataFormatError(path, "no such file or folder")
    try:
        table = Results.from_store(store).table if not store.is_file() else pq.read_table(store)
    except (pa.ArrowInvalid, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFormatError(store, f"not a readable Parquet file ({first})") from None
    missing = RESULTS_COLUMNS - set(table.column_names)
    if missing:
        raise DataFormatError(
            store, f"not a rankarena results store: no column(s) {', '.join(sorted(missing))}"
        )
    for name, kind in (("variant", pa.string()), ("query_id", pa.string())):
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, kind))
    if "created_at" not in table.column_names:
        table = table.append_column("created_at", pa.array(np.arange(table.num_rows)))
    if table.filter(table["query_id"].is_null()).num_rows == 0:
        raise DataFormatError(store, "the results store holds no mean results")
    run_dirs = [d for d in (folder / "runs", folder / "robustness" / "runs") if d.is_dir()]
    drops = folder / "robustness" / "drops.csv"
    return _Source(path, store, table, run_dirs, drops if drops.is_file() else None)


def _unperturbed(table: pa.Table) -> pa.Table:
    variant = table["variant"]
    return table.filter(pc.or_kleene(variant.is_null(), pc.equal(variant, "")))


def _newest_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows sorted oldest first (an append-only store: later rows win)."""
    order = pc.sort_indices(table, sort_keys=[("created_at", "ascending")])
    return table.take(order).to_pylist()


def mean_cells(table: pa.Table) -> dict[tuple[str, str], dict[tuple[str, str], _Cell]]:
    """(dataset, split) → (system, metric) → the newest unperturbed mean."""
    means = _unperturbed(table.filter(table["query_id"].is_null()))
    cells: dict[tuple[str, str], dict[tuple[str, str], _Cell]] = {}
    for row in _newest_rows(means):
        cell = _Cell(
            row["system"], row["dataset"], row["split"], row["metric"], row["value"], row["run_id"]
        )
        cells.setdefault((cell.dataset, cell.split), {})[(cell.system, cell.metric)] = cell
    return cells


def _labels(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    splits: dict[str, int] = {}
    for dataset, _ in keys:
        splits[dataset] = splits.get(dataset, 0) + 1
    return {(d, s): d if splits[d] == 1 else f"{d}/{s}" for d, s in keys}


class _Datasets:
    """Dataset folders and qrels, found locally only (``--data-dir``, then
    ``$RANKARENA_DATA_DIR``, then ``resolve_dataset`` without downloading)."""

    def __init__(self, data_dir: str | Path | None):
        self.bases = [Path(p) for p in (data_dir, os.environ.get("RANKARENA_DATA_DIR")) if p]
        self._qrels: dict[tuple[str, str], Qrels | str] = {}

    def folder(self, name: str) -> Path:
        from ..data.catalog import resolve_dataset

        for base in self.bases:
            if (base / name / "corpus.jsonl").is_file() or (base / name / "qrels").is_dir():
                return base / name
        return resolve_dataset(name, download=False, show_progress=False)

    def qrels(self, dataset: str, split: str) -> Qrels | str:
        """The qrels, or why there are none (a one-line reason)."""
        key = (dataset, split)
        if key not in self._qrels:
            from ..data import BeirFolder

            try:
                self._qrels[key] = BeirFolder(self.folder(dataset)).qrels(split)
            except RankarenaError as exc:
                self._qrels[key] = f"no qrels for {dataset}/{split} ({exc})"
        return self._qrels[key]


class _Runs:
    """Cached runs by run id, in the ``runs/`` folders beside the results store."""

    def __init__(self, run_dirs: Sequence[Path]):
        self.run_dirs = list(run_dirs)

    def path(self, run_id: str) -> Path | None:
        for folder in self.run_dirs:
            candidate = folder / f"{run_id}.parquet"
            if candidate.is_file():
                return candidate
        return None

    def read(self, run_id: str, cutoff: int | None) -> pa.Table | None:
        """The run's rows of rank <= ``cutoff`` (all when None), in trec_eval order."""
        path = self.path(run_id)
        if path is None:
            return None
        try:
            if cutoff is not None and "rank" in pq.read_schema(path).names:
                table = pq.read_table(path, filters=[("rank", "<=", cutoff)])
            else:
                table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError):
            return None
        if "rank" not in table.column_names:
            table = Run(table, source=path).table
        return table if cutoff is None else table.filter(pc.less_equal(table["rank"], cutoff))


# ------------------------------------------------------------------------- per-query values


def _cutoff(metrics: Sequence[str]) -> int | None:
    """The deepest rank the metrics look at; None when one has no cutoff."""
    from ..evaluate import parse_metric_name

    deepest = 0
    for metric in metrics:
        _, params = parse_metric_name(metric)
        if "k" not in params:
            return None
        deepest = max(deepest, params["k"])
    return deepest or None


def per_query_values(
    source: _Source,
    cells: dict[tuple[str, str], dict[tuple[str, str], _Cell]],
    datasets: _Datasets,
    runs: _Runs,
    host,
    notes: list[str],
) -> dict[tuple[str, str, str, str], tuple[dict[str, float], str]]:
    """(dataset, split, system, metric) → ({query_id: value}, where from)."""
    from ..evaluate import evaluate, resolve_metrics

    table = source.table
    stored = _unperturbed(table.filter(table["query_id"].is_valid()))
    by_run: dict[tuple[str, str], dict[str, float]] = {}
    for row in _newest_rows(stored.select(["run_id", "metric", "query_id", "value", "created_at"])):
        by_run.setdefault((row["run_id"], row["metric"]), {})[row["query_id"]] = row["value"]
    out: dict[tuple[str, str, str, str], tuple[dict[str, float], str]] = {}
    evaluable: dict[str, bool] = {}
    for (dataset, split), group in cells.items():
        runs_needed: dict[str, dict[str, _Cell]] = {}
        for (system, metric), cell in group.items():
            values = by_run.get((cell.run_id, metric))
            if values:
                out[(dataset, split, system, metric)] = (values, "store")
            else:
                runs_needed.setdefault(system, {})[metric] = cell
        for system, wanted in runs_needed.items():
            for metric in wanted:
                if metric not in evaluable:
                    try:
                        resolve_metrics([metric], host)
                        evaluable[metric] = True
                    except RankarenaError:
                        evaluable[metric] = False
            metrics = [m for m in wanted if evaluable[m]]
            run_id = next(iter(wanted.values())).run_id
            if not metrics:
                continue
            if runs.path(run_id) is None:
                notes.append(
                    f"{system} on {dataset}: no per-query values (no stored per-query "
                    f"rows, no cached run {run_id}.parquet)"
                )
                continue
            qrels = datasets.qrels(dataset, split)
            if isinstance(qrels, str):
                notes.append(f"{system} on {dataset}: no per-query values: {qrels}")
                continue
            cutoff = _cutoff(metrics)
            evaluation = None
            for depth in dict.fromkeys((cutoff, None)):  # the top is enough; check the means
                rows = runs.read(run_id, depth)
                if rows is None:
                    break
                evaluation = evaluate(Run(rows), qrels, metrics, host=host)
                if all(
                    abs(evaluation.mean[m] - wanted[m].value)
                    <= 1e-6 * max(1.0, abs(wanted[m].value))
                    for m in metrics
                ):
                    break
            if evaluation is None:
                notes.append(f"{system} on {dataset}: cached run {run_id} is unreadable")
                continue
            for metric in metrics:
                mean = evaluation.mean[metric]
                if abs(mean - wanted[metric].value) > 1e-6 * max(1.0, abs(wanted[metric].value)):
                    notes.append(
                        f"{system} on {dataset}: {metric} of the cached run against the qrels "
                        f"({mean:.4f}) differs from the stored mean ({wanted[metric].value:.4f}); "
                        "no significance test for it"
                    )
                    continue
                values = dict(
                    zip(evaluation.query_ids, evaluation.per_query[metric].tolist(), strict=True)
                )
                out[(dataset, split, system, metric)] = (values, "runs")
    return out


@dataclass(frozen=True)
class Comparison:
    """A system against the best one on one dataset and metric: the paired t-test's raw and
    Holm-adjusted p-values, the mean difference (system minus best) with its 95% interval."""

    system: str
    queries: int
    p: float
    p_holm: float
    worse: bool
    difference: float = math.nan
    interval: tuple[float, float] = (math.nan, math.nan)


def compare_to_best(
    values: dict[str, dict[str, float]], means: dict[str, float], alpha: float = DEFAULT_ALPHA
) -> tuple[str, dict[str, Comparison]]:
    """The best system (highest mean) and, for every other system with per-query values,
    a two-sided paired t-test against it, Holm-corrected: ``rankarena.compare``'s family
    with the best system as baseline (``rankarena.significance.compare_family``), on the
    queries every one of these systems answered.

    A system is ``worse`` when its Holm-adjusted p < ``alpha`` and its mean is below the best.
    Identical per-query values (no variance of the differences) give p = 1.
    """
    from ..significance import CompareSettings, compare_family, paired_matrix

    best = max(sorted(means), key=lambda s: means[s])  # ties: the first by name
    if best not in values or len(values) < 2:
        return best, {}
    matrix = paired_matrix("", "", "", values)
    if len(matrix.query_ids) < 2:
        return best, {}
    settings = CompareSettings(test="t-test", correction="holm", alpha=alpha, baseline=best)
    comparisons = {}
    for row in compare_family(matrix, settings):
        comparisons[row["system"]] = Comparison(
            row["system"],
            row["queries"],
            row["p_value"],
            row["p_adjusted"],
            bool(row["significant"] and means[row["system"]] < means[best]),
            row["difference"],
            (row["difference_low"], row["difference_high"]),
        )
    return best, comparisons


# ------------------------------------------------------------------------------ the report


def build_report(
    source: str | Path,
    output: str | Path | None = None,
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    tournaments: int = DEFAULT_TOURNAMENTS,
    depth: int = DEFAULT_DEPTH,
    alpha: float = DEFAULT_ALPHA,
    data_dir: str | Path | None = None,
    seed: int = 0,
    host=None,
    log: Callable[[str], None] | None = None,
    uncertainty: int = 0,
) -> ReportSummary:
    """Write the HTML report of ``source`` to ``output`` (default: ``report.html`` beside the
    results store). See the module docstring for the sections.

    :param metric: the leaderboard's metric (default: ``ndcg@10`` when stored, else the only
        one).
    :param methods: aggregation rules (default: every registered aggregator).
    :param tournaments: Monte Carlo tournaments of ``swiss`` and of the sensitivity sweep.
    :param depth: non-positives per query in the pooled ROC and its AUC (``auc@depth``;
        the paper's 500).
    :param alpha: the significance level of the Holm-corrected paired t-tests.
    :param data_dir: a folder holding the dataset folders (for the qrels).
    :param uncertainty: resamples of the leaderboard's two-level bootstrap (tasks, and the
        queries of stored per-query rows): rank intervals and tied groups (0: none).
    """
    started = time.perf_counter()
    if tournaments < 1 or depth < 1 or not 0.0 < alpha < 1.0:
        raise ParameterError(
            f"report: need tournaments >= 1, depth >= 1 and 0 < alpha < 1; got {tournaments}, "
            f"{depth}, {alpha}"
        )
    say = log or (lambda _text: None)
    if host is None:
        from ..core.host import plugin_manager

        host = plugin_manager()
    src = open_source(source)
    output = Path(output) if output else src.store.parent / "report.html"
    metric = _choose_metric(src)(metric)
    notes: list[str] = []
    parts: dict[str, str] = {}

    say("leaderboard")
    table = read_results_store(src.table, src.store, metric)
    query_values = read_query_values(src.table, src.store, metric) if uncertainty else None
    parts["leaderboard"] = _leaderboard_section(
        table, metric, methods, tournaments, seed, host, uncertainty, query_values
    )

    say("per-dataset metrics")
    cells = mean_cells(src.table)
    datasets, runs = _Datasets(data_dir), _Runs(src.run_dirs)
    values = per_query_values(src, cells, datasets, runs, host, notes)
    parts["metrics"] = _metrics_section(cells, values, metric, alpha, notes)

    say("robustness")
    parts["robustness"] = _robustness_section(src, metric, notes)

    say("score distributions")
    parts["scores"] = _scores_section(cells, metric, datasets, runs, depth, notes)

    say("swiss sensitivity")
    parts["swiss"] = _swiss_section(table, tournaments, seed, host)

    seconds = time.perf_counter() - started
    page = _page(src, metric, table, parts, notes, seconds)
    with atomic_write(output) as handle:
        handle.write(page)
    return ReportSummary(output, time.perf_counter() - started, notes)


def _choose_metric(src: _Source) -> Callable[[str | None], str]:
    means = src.table.filter(src.table["query_id"].is_null())
    stored = sorted(set(means["metric"].to_pylist()))

    def choose(metric: str | None) -> str:
        if metric is None:
            if "ndcg@10" in stored or len(stored) == 1:
                return "ndcg@10" if "ndcg@10" in stored else stored[0]
            raise ParameterError(
                f"{src.store}: which metric? pass --metric; stored: {', '.join(stored)}"
            )
        if metric not in stored:
            raise UnknownNameError("metric", metric, stored)
        return metric

    return choose


# -------------------------------------------------------------------------------- sections


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float, digits: int = 4) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def _what(text: str) -> str:
    return f'<p class="what">{text}</p>\n'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>\n'


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}">\n'


def _leaderboard_section(
    table, metric, methods, tournaments, seed, host, uncertainty=0, query_values=None
) -> str:
    from ..leaderboard.board import Leaderboard, build_leaderboard

    names = list(methods) if methods else [spec.name for spec in host.aggregators.specs()]
    for name in names:
        host.aggregators.get(name)  # unknown names fail as one line
    if "mean" in names:  # the plain mean first: the table is ordered by the first rule
        names.remove("mean")
        names.insert(0, "mean")
    params = {"swiss": {"tournaments": tournaments, "seed": seed}}
    rankings, skipped, found = {}, [], {}
    for name in names:
        try:
            board = build_leaderboard(
                table,
                [name],
                host,
                {name: params.get(name, {})},
                seed=seed,
                uncertainty=uncertainty,
                query_values=query_values,
            )
            rankings[name] = board.rankings[name]
            found.update(board.uncertainty)
        except RankarenaError as exc:
            skipped.append(f"{name}: {exc}")
    out = _what(
        f"The systems ranked by <b>{_e(metric)}</b> over {len(table.tasks)} task(s) "
        f"({_e(', '.join(table.tasks))}) under {len(rankings)} aggregation rules; rows follow "
        "the first rule, each cell is the system's rank under that rule (hover for the rule's "
        "score). Robustness variants, when stored, are tasks of their own (<code>dataset"
        "[variant]</code>)."
    )
    out += "".join(_note(f"rule skipped: {text}") for text in skipped)
    if not rankings:
        return out + _note("no aggregation rule could rank this table")
    board = Leaderboard(table, rankings, {m: (u.low, u.high) for m, u in found.items()}, found)
    if found:
        where = "tasks and their queries" if any(2 in u.levels for u in found.values()) else "tasks"
        level = next(iter(found.values())).level
        out += _what(
            f"Uncertainty: {uncertainty} two-level bootstrap resamples of the {where}; each "
            f"cell shows the {level:.0%} interval of the rank [low–high] and the tied group "
            "(g): neighbours in a rule's order are separated when one ranks above the other "
            f"in at least {1 - (1 - level) / 2:.1%} of the resamples. "
            + "; ".join(f"{_e(m)}: {_e(u.summary())}" for m, u in found.items())
            + "."
        )
    rows = board.to_table().to_pylist()
    first = board.methods[0]

    def _uncertain(row: dict[str, Any], method: str) -> str:
        """`` [low–high] (g)`` of a cell with uncertainty, else nothing."""
        if f"{method}:group" not in row:
            return ""
        low, high = row[f"{method}:rank_low"], row[f"{method}:rank_high"]
        return f' <span class="num">[{low}–{high}] ({row[f"{method}:group"]})</span>'

    head = "".join(f"<th>{_e(m)}</th>" for m in board.methods)
    out += (
        '<div class="wide"><table id="leaderboard"><thead><tr><th>system</th>'
        f"<th>{_e(first)} score</th>"
        f"{head}</tr></thead><tbody>\n"
    )
    for row in rows:
        cells = "".join(
            f'<td class="rank{" top" if row[f"{m}:rank"] == 1 else ""}" '
            f'title="{_e(m)} score {_num(row[f"{m}:score"])}">{row[f"{m}:rank"]}'
            f"{_uncertain(row, m)}</td>"
            for m in board.methods
        )
        out += (
            f'<tr><td>{_e(row["system"])}</td><td class="num">'
            f"{_num(row[f'{first}:score'])}</td>{cells}</tr>\n"
        )
    out += "</tbody></table></div>\n"
    if len(board.methods) > 1:
        tau = board.kendall()
        out += _what(
            "Disagreement between the rules: Kendall's τ-b between every two rules' rankings "
            "(1 = the same order, 0 = unrelated, −1 = reversed)."
        )
        out += '<div class="wide"><table id="rule-agreement"><thead><tr><th></th>'
        out += "".join(f"<th>{_e(m)}</th>" for m in board.methods) + "</tr></thead><tbody>\n"
        for i, method in enumerate(board.methods):
            out += f"<tr><th>{_e(method)}</th>"
            for j in range(len(board.methods)):
                value = float(tau[i, j])
                shade = (
                    ""
                    if math.isnan(value)
                    else (f' style="background:hsl({120 * (value + 1) / 2:.0f},60%,85%)"')
                )
                out += f'<td class="num"{shade}>{_num(value, 2)}</td>'
            out += "</tr>\n"
        out += "</tbody></table></div>\n"
    return out


def _metrics_section(cells, values, metric, alpha, notes) -> str:
    out = _what(
        "Mean of every stored metric per system, one table per dataset (unperturbed runs). "
        f'<span class="sig">▼</span> marks a system significantly worse than the best one '
        "(<b>bold</b>) on that metric: two-sided paired t-test over the queries both systems "
        "answered (<code>scipy.stats.ttest_rel</code>), Holm-corrected over the comparisons "
        f"with the best system within each dataset and metric, α = {alpha:g}. Hover a cell "
        "for its raw and adjusted p-values."
    )
    if not cells:
        return out + _note("no unperturbed mean results in the store")
    labels = _labels(list(cells))
    any_tests = False
    for key in sorted(cells, key=lambda k: labels[k]):
        dataset, split = key
        group = cells[key]
        systems = sorted({s for s, _ in group})
        metrics = sorted({m for _, m in group}, key=lambda m: (m != metric, m))
        sort_metric = metrics[0]
        systems.sort(
            key=lambda s: (
                -(group[(s, sort_metric)].value if (s, sort_metric) in group else -math.inf)
            )
        )
        results = {}
        for name in metrics:
            means = {s: group[(s, name)].value for s in systems if (s, name) in group}
            have = {
                s: values[(dataset, split, s, name)][0]
                for s in means
                if (dataset, split, s, name) in values
            }
            results[name] = compare_to_best(have, means, alpha)
            any_tests = any_tests or bool(results[name][1])
        sources = {src for (d, sp, _, _), (_, src) in values.items() if (d, sp) == key}
        where = {"store": "the store's per-query rows", "runs": "the cached runs and the qrels"}
        origin = " and ".join(where[s] for s in sorted(sources)) or "nowhere (no markers)"
        out += (
            f'<h3>{_e(labels[key])} <span class="small">(split {_e(split)}; per-query '
            f"values from {_e(origin)})</span></h3>\n"
        )
        out += (
            f'<table class="metrics" data-dataset="{_e(labels[key])}"><thead><tr>'
            "<th>system</th>"
            + "".join(f"<th>{_e(m)}</th>" for m in metrics)
            + "</tr></thead><tbody>\n"
        )
        for system in systems:
            out += f"<tr><td>{_e(system)}</td>"
            for name in metrics:
                cell = group.get((system, name))
                if cell is None:
                    out += '<td class="num">–</td>'
                    continue
                best, comparisons = results[name]
                attrs = f'data-system="{_e(system)}" data-metric="{_e(name)}"'
                text = _num(cell.value)
                if system == best:
                    out += f'<td class="num best" {attrs} data-best="1"><b>{text}</b></td>'
                elif system in comparisons:
                    c = comparisons[system]
                    low, high = c.interval
                    title = (
                        f"p = {c.p:.3g}, Holm p = {c.p_holm:.3g} ({c.queries} queries); "
                        f"difference to the best {c.difference:+.4f} [{low:+.4f}, {high:+.4f}]"
                    )
                    mark = ' <span class="sig">▼</span>' if c.worse else ""
                    sig = ' data-sig="worse"' if c.worse else ""
                    out += f'<td class="num" {attrs}{sig} title="{_e(title)}">{text}{mark}</td>'
                else:
                    out += f'<td class="num" {attrs}>{text}</td>'
            out += "</tr>\n"
        out += "</tbody></table>\n"
    if not any_tests:
        out += _note(
            "no significance markers: no per-query values (the store has no per-query rows "
            "and no cached runs with local qrels were found)"
        )
    out += "".join(_note(n) for n in notes if "per-query" in n or "differs" in n)
    return out


def _drops_from_csv(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                rows.append(
                    {
                        "system": row["system"],
                        "dataset": row["dataset"],
                        "perturbation": row["perturbation"],
                        "intensity": float(row["intensity"]),
                        "metric": row["metric"],
                        "original": float(row["original"]),
                        "perturbed": float(row["perturbed"]),
                    }
                )
            except (KeyError, TypeError, ValueError):
                continue
    return rows


def _drops_from_store(table: pa.Table, metric: str) -> list[dict[str, Any]]:
    means = table.filter(pc.and_(table["query_id"].is_null(), pc.equal(table["metric"], metric)))
    original: dict[tuple[str, str], float] = {}
    perturbed: dict[tuple[str, str, str, float], float] = {}
    for row in _newest_rows(means):
        variant = row["variant"] or ""
        if not variant:
            original[(row["system"], row["dataset"])] = row["value"]
            continue
        match = _VARIANT.match(variant)
        if match:
            try:
                level = float(match["intensity"])
            except ValueError:
                continue
            key = (row["system"], row["dataset"], match["perturbation"], level)
            perturbed[key] = row["value"]
    return [
        {
            "system": s,
            "dataset": d,
            "perturbation": p,
            "intensity": level,
            "metric": metric,
            "original": original[(s, d)],
            "perturbed": value,
        }
        for (s, d, p, level), value in perturbed.items()
        if (s, d) in original
    ]


def _robustness_section(src: _Source, metric: str, notes: list[str]) -> str:
    from ..robustness.plot import plot_robustness
    from .figures import figures_available, file_data_uri

    out = _what(
        f"{_e(metric)} against perturbation intensity, one line per system and one panel per "
        "perturbation; intensity 0 is the unperturbed run. The table gives the relative drop "
        "(original − perturbed) / original per perturbation and intensity."
    )
    rows, origin = [], ""
    if src.drops is not None:
        rows = [r for r in _drops_from_csv(src.drops) if r["metric"] == metric]
        origin = "robustness/drops.csv"
    if not rows:
        rows = _drops_from_store(src.table, metric)
        origin = "the store's variant rows"
    if not rows:
        return out + _note(
            f"skipped: no robustness results for {metric} (no robustness/drops.csv and no "
            "PERTURBATION@INTENSITY variant rows; run `rankarena robustness`)"
        )
    out += _what(f"Source: {_e(origin)}.")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if figures_available():
        with tempfile.TemporaryDirectory() as folder:
            for dataset in datasets:
                path = Path(folder) / f"{len(out)}.png"
                plot_robustness(rows, metric, dataset, path)
                out += _img(file_data_uri(path), f"{dataset}: {metric} vs intensity")
    else:
        out += _note("no plot: matplotlib is not installed")
    for dataset in datasets:
        mine = [r for r in rows if r["dataset"] == dataset]
        variants = sorted({(r["perturbation"], r["intensity"]) for r in mine})
        systems = list(dict.fromkeys(r["system"] for r in mine))
        lookup = {(r["system"], r["perturbation"], r["intensity"]): r for r in mine}
        out += f"<h3>{_e(dataset)}: relative drop of {_e(metric)}</h3>\n"
        out += '<div class="wide"><table class="drops"><thead><tr><th>system</th>'
        out += "<th>original</th>"
        out += "".join(f"<th>{_e(p)}@{level:g}</th>" for p, level in variants)
        out += "</tr></thead><tbody>\n"
        for system in systems:
            first = next(r for r in mine if r["system"] == system)
            out += f'<tr><td>{_e(system)}</td><td class="num">{_num(first["original"])}</td>'
            for p, level in variants:
                r = lookup.get((system, p, level))
                if r is None or not r["original"]:
                    out += '<td class="num">–</td>'
                else:
                    drop = (r["original"] - r["perturbed"]) / r["original"]
                    out += f'<td class="num" title="{_num(r["perturbed"])}">{drop:+.1%}</td>'
            out += "</tr>\n"
        out += "</tbody></table></div>\n"
    return out


def pooled_score_labels(rows: pa.Table, qrels: Qrels, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The pooled AUC's pool of a run's ``rows`` (``JudgedRun.score_pool(n)``: each query's
    positives, at ``-inf`` where the rows lack them, and its top ``n`` non-positives), as
    scores, whether each is a positive (grade >= 1), and how many queries have fewer than
    ``n`` non-positives in ``rows`` (a run shallower than the pool)."""
    from ..evaluate import JudgedRun

    judged = JudgedRun(Run(rows), qrels)
    pool = judged.score_pool(n)
    scores = np.concatenate([pool.positives, pool.negatives])
    labels = np.r_[np.ones(len(pool.positives), bool), np.zeros(len(pool.negatives), bool)]
    short = int((np.bincount(pool.negative_query, minlength=judged.n_queries) < n).sum())
    return scores, labels, short


def _scores_section(cells, metric, datasets, runs, depth, notes) -> str:
    from .figures import auc_mann_whitney, figures_available, score_figure

    out = _what(
        "For each dataset and system, the pooled ROC of Sheikholeslami et al. (arXiv:2510.00137): "
        f"each query's positives (grade ≥ 1) and its top {depth} non-positives, all queries "
        "pooled; histograms (as densities) of the two sets' scores, the ROC curve, and AUC = "
        "Mann–Whitney U / (n<sub>pos</sub>·n<sub>neg</sub>), the metric "
        f"<code>auc@{depth}</code> (the paper's N is 500, the default of <code>--depth</code>). "
        "It measures "
        "how well one global threshold separates relevant from non-relevant documents across "
        "queries. A positive the run does not hold counts below every non-positive."
    )
    if not runs.run_dirs:
        return out + _note("skipped: no cached runs (no runs/ folder beside the results store)")
    if not figures_available():
        out += _note("no histograms: matplotlib is not installed; AUCs only")
    labels_of = _labels(list(cells))
    aucs_table: dict[str, dict[str, float]] = {}
    drawn = 0
    for key in sorted(cells, key=lambda k: labels_of[k]):
        dataset, split = key
        systems = sorted({s for s, _ in cells[key]})
        qrels = datasets.qrels(dataset, split)
        if isinstance(qrels, str):
            out += _note(f"{labels_of[key]}: skipped: {qrels}")
            continue
        scored, aucs = {}, {}
        most = qrels.most_positives()  # read as deep as the pool needs
        shallow: list[str] = []
        for system in systems:
            cell = next(c for (s, _), c in cells[key].items() if s == system)
            rows = runs.read(cell.run_id, depth + most)
            if rows is None:
                continue
            scores, labels, short = pooled_score_labels(rows, qrels, depth)
            if labels.all() or not labels.any():
                continue  # the AUC is undefined without a positive or a non-positive
            if short:
                shallow.append(f"{system} ({short:,} queries)")
            scored[system] = (scores, labels)
            aucs[system] = auc_mann_whitney(scores, labels)
            aucs_table.setdefault(system, {})[labels_of[key]] = aucs[system]
        if not scored:
            out += _note(f"{labels_of[key]}: skipped: none of its runs is cached")
            continue
        missing = [s for s in systems if s not in scored]
        if missing:
            out += _note(f"{labels_of[key]}: no cached run for {', '.join(missing)}")
        if shallow:
            out += _note(
                f"{labels_of[key]}: fewer than {depth} non-positives in the cached run of "
                f"{', '.join(shallow)}: their pools are smaller (a deeper run, or a smaller "
                "--depth, gives every query the same pool)"
            )
        out += f"<h3>{_e(labels_of[key])}</h3>\n"
        if figures_available():
            out += _img(score_figure(labels_of[key], scored, aucs, depth), f"{dataset} scores")
            drawn += 1
    if aucs_table:
        columns = sorted({d for row in aucs_table.values() for d in row})
        out += '<table id="auc"><thead><tr><th>system</th>'
        out += "".join(f"<th>AUC {_e(d)}</th>" for d in columns) + "</tr></thead><tbody>\n"
        for system in sorted(aucs_table):
            out += (
                f"<tr><td>{_e(system)}</td>"
                + "".join(
                    f'<td class="num" data-system="{_e(system)}" data-dataset="{_e(d)}">'
                    f"{_num(aucs_table[system].get(d, math.nan))}</td>"
                    for d in columns
                )
                + "</tr>\n"
            )
        out += "</tbody></table>\n"
    elif not drawn:
        out += _note("skipped: no cached run could be scored against local qrels")
    return out


def _swiss_section(table, tournaments: int, seed: int, host) -> str:
    from .figures import figures_available, sensitivity_figure

    out = _what(
        "How the Swiss-system leaderboard (expected win score over "
        f"{tournaments:,} simulated tournaments) changes when the lowest systems are "
        "eliminated after each round: rank of each system under each elimination schedule, "
        "mildest first. A large spread marks a specialist that fails early tasks; a flat line a "
        "robust generalist (Liu et al., arXiv:2512.21010)."
    )
    if "swiss" not in host.aggregators:
        return out + _note("skipped: no aggregator named 'swiss' is registered")
    if len(table.systems) < 2 or len(table.tasks) < 2:
        return out + _note("skipped: needs at least two systems and two tasks (rounds)")
    try:
        swiss = host.aggregators.create("swiss", tournaments=tournaments, seed=seed)
        schedules = getattr(swiss, "DEFAULT_SWEEP", None)
        if schedules is None or not callable(getattr(swiss, "sensitivity", None)):
            return out + _note(
                "skipped: the registered 'swiss' aggregator has no sensitivity(scores, "
                "schedules) and DEFAULT_SWEEP"
            )
        sweep = swiss.sensitivity(table, schedules)
    except RankarenaError as exc:
        return out + _note(f"skipped: {exc}")
    rows = sweep.to_pylist()
    labels = list(schedules)
    if figures_available():
        ranks = np.array([[row[f"rank:{label}"] for label in labels] for row in rows])
        out += _img(sensitivity_figure([r["system"] for r in rows], labels, ranks), "sensitivity")
    out += '<table id="swiss-sensitivity"><thead><tr><th>system</th>'
    out += "".join(f"<th>rank {_e(label)}</th>" for label in labels)
    out += "<th>spread</th><th>shift</th></tr></thead><tbody>\n"
    for row in rows:
        out += f"<tr><td>{_e(row['system'])}</td>" + "".join(
            f'<td class="num" title="E[S] {row[f"score:{label}"]:.3f}">{row[f"rank:{label}"]}</td>'
            for label in labels
        )
        out += f'<td class="num">{row["rank_spread"]}</td><td class="num">{row["rank_shift"]:+d}'
        out += "</td></tr>\n"
    return out + "</tbody></table>\n"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1200px;padding:0 16px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;
margin-top:2em}h3{font-size:1.05em;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:0.9em}
th,td{border:1px solid #ddd;padding:3px 8px}th{background:#f4f4f4;text-align:left}
td.num,td.rank{text-align:right;font-variant-numeric:tabular-nums}td.top{font-weight:bold;
background:#e8f4e8}.sig{color:#c0392b;font-weight:bold}.what{color:#333;max-width:70em}
.note{color:#8a5a00;background:#fff8e5;border-left:3px solid #e0a800;padding:4px 8px;
max-width:70em}.small,.meta{color:#666;font-size:0.85em;font-weight:normal}
img{max-width:100%;display:block;margin:8px 0}.wide{overflow-x:auto;max-width:100%}
#leaderboard,#rule-agreement{font-size:0.8em}nav a{margin-right:14px}
code{background:#f4f4f4;padding:0 3px}
"""


def _page(src: _Source, metric: str, table, parts: dict[str, str], notes, seconds) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in SECTIONS.items())
    body = "".join(
        f'<section id="{key}-section"><h2 id="{key}">{_e(title)}</h2>\n{parts[key]}</section>\n'
        for key, title in SECTIONS.items()
    )
    other = [n for n in notes if not ("per-query" in n or "differs" in n)]
    extra = "".join(_note(n) for n in other)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>rankarena report: {_e(src.path.name)}</title>"
        f"<style>{STYLE}</style></head><body>\n"
        f'<h1>rankarena report</h1>\n<p class="meta">{_e(src.path)} · {len(table.systems)} '
        f"systems × {len(table.tasks)} tasks · leaderboard metric {_e(metric)} · {now} · built "
        f"in {seconds:.1f} s</p>\n<nav>{nav}</nav>\n{extra}{body}</body></html>\n"
    )
