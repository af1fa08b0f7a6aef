"""Per-query values of several systems on one dataset and metric, paired by query: what
``rankarena compare`` tests. Read from a results store's per-query rows, or computed from
run files and qrels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..data import Qrels, Results, Run, read_trec_run, store_exists
from ..errors import DataFormatError, ParameterError, UnknownNameError


@dataclass(frozen=True)
class QueryMatrix:
    """``values[s, q]``: system ``systems[s]``'s ``metric`` on query ``query_ids[q]`` of
    ``dataset`` (``split``). Every system has a value on every query: ``dropped`` queries
    some system lacked were left out, and ``notes`` say so (and name systems with no
    per-query values)."""

    dataset: str
    split: str
    metric: str
    systems: tuple[str, ...]
    query_ids: tuple[str, ...]
    values: np.ndarray
    notes: tuple[str, ...] = field(default_factory=tuple)
    dropped: int = 0

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (len(self.systems), len(self.query_ids)):
            raise ParameterError(
                f"values of shape {values.shape} do not match "
                f"{len(self.systems)} systems x {len(self.query_ids)} queries"
            )
        if not np.all(np.isfinite(values)):
            s, q = (int(i[0]) for i in np.nonzero(~np.isfinite(values)))
            raise ParameterError(
                f"{self.dataset} {self.metric}: {self.systems[s]} has a NaN or infinite value "
                f"on query {self.query_ids[q]}"
            )
        object.__setattr__(self, "values", values)

    @property
    def label(self) -> str:
        """``dataset`` or ``dataset/split``, and the metric."""
        where = f"{self.dataset}/{self.split}" if self.split else self.dataset
        return f"{where} {self.metric}"


def paired_matrix(
    dataset: str,
    split: str,
    metric: str,
    per_system: Mapping[str, Mapping[str, float]],
    notes: list[str] | None = None,
) -> QueryMatrix:
    """The matrix of ``per_system`` (system → {query id: value}) over the queries every
    system has; the others counted in ``dropped`` and named in a note (appended to
    ``notes``)."""
    notes = [] if notes is None else notes
    systems = tuple(per_system)
    shared = set.intersection(*(set(v) for v in per_system.values()))
    union = set().union(*(set(v) for v in per_system.values()))
    if len(union) > len(shared):
        notes.append(
            f"{dataset} {metric}: {len(union) - len(shared)} of {len(union)} queries left out "
            "(not every system has a value on them)"
        )
    query_ids = tuple(sorted(shared))
    values = np.array([[per_system[s][q] for q in query_ids] for s in systems])
    matrix = values.reshape(len(systems), -1)
    dropped = len(union) - len(shared)
    return QueryMatrix(dataset, split, metric, systems, query_ids, matrix, tuple(notes), dropped)


def _store_table(store: str | os.PathLike[str] | Results | pa.Table) -> tuple[pa.Table, str]:
    if isinstance(store, Results):
        return store.table, "the results"
    if isinstance(store, pa.Table):
        return store, "the results"
    path = Path(store)
    if not store_exists(path):
        raise ParameterError(f"{path}: no such results store")
    return Results.from_store(path).table, str(path)


def matrices_from_store(
    store: str | os.PathLike[str] | Results | pa.Table,
    metrics: Sequence[str],
    *,
    datasets: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    min_systems: int = 2,
) -> list[QueryMatrix]:
    """One ``QueryMatrix`` per (dataset, split, metric) of a results store's per-query rows
    (``rankarena eval --per-query``, ``rankarena run``), unperturbed variant only.

    Per system, dataset, split and metric the rows of one run are used: the run of the
    newest per-query row (an append-only store: a re-evaluation replaces the older one).
    A dataset where fewer than ``min_systems`` systems have per-query values is left out;
    no per-query row at all is an error.
    """
    table, source = _store_table(store)
    if not metrics:
        raise ParameterError("give at least one metric")
    rows = table.filter(table["query_id"].is_valid())
    variant = rows["variant"]
    rows = rows.filter(pc.or_kleene(variant.is_null(), pc.equal(variant, "")))
    stored_metrics = sorted(set(rows["metric"].to_pylist()))
    if not stored_metrics:
        raise DataFormatError(
            source,
            "no per-query rows to compare; store them with `rankarena eval --per-query` "
            "(or compare run files with --qrels)",
        )
    for metric in metrics:
        if metric not in stored_metrics:
            raise UnknownNameError("metric with per-query rows", metric, stored_metrics)
    stored_datasets = sorted(set(rows["dataset"].to_pylist()))
    for dataset in datasets or ():
        if dataset not in stored_datasets:
            raise UnknownNameError("dataset with per-query rows", dataset, stored_datasets)
    stored_systems = sorted(set(rows["system"].to_pylist()))
    for system in systems or ():
        if system not in stored_systems:
            raise UnknownNameError("system with per-query rows", system, stored_systems)
    rows = rows.filter(pc.is_in(rows["metric"], pa.array(list(metrics))))
    if datasets:
        rows = rows.filter(pc.is_in(rows["dataset"], pa.array(list(datasets))))
    if systems:
        rows = rows.filter(pc.is_in(rows["system"], pa.array(list(systems))))
    order = pc.sort_indices(rows, sort_keys=[("created_at", "ascending")])
    newest_run: dict[tuple[str, str, str, str], str] = {}
    records = rows.take(order).select(
        ["system", "dataset", "split", "metric", "query_id", "value", "run_id"]
    )
    records_list: list[dict[str, Any]] = records.to_pylist()
    for row in records_list:
        newest_run[(row["dataset"], row["split"], row["metric"], row["system"])] = row["run_id"]
    groups: dict[tuple[str, str, str], dict[str, dict[str, float]]] = {}
    for row in records_list:
        key = (row["dataset"], row["split"], row["metric"], row["system"])
        if newest_run[key] == row["run_id"]:
            groups.setdefault(key[:3], {}).setdefault(key[3], {})[row["query_id"]] = row["value"]
    wanted = list(systems) if systems else None
    out = []
    for (dataset, split, metric), per_system in sorted(groups.items()):
        notes: list[str] = []
        if wanted is not None:
            missing = [s for s in wanted if s not in per_system]
            if missing:
                notes.append(f"{dataset} {metric}: no per-query values of {', '.join(missing)}")
            per_system = {s: per_system[s] for s in wanted if s in per_system}
        else:
            per_system = dict(sorted(per_system.items()))
        if len(per_system) < min_systems:
            continue
        out.append(paired_matrix(dataset, split, metric, per_system, notes))
    if not out:
        raise DataFormatError(
            source, f"no dataset and metric with per-query values of {min_systems} systems"
        )
    return out


def read_run(path: str | os.PathLike[str]) -> Run:
    """A run file: a ``.parquet`` Run, else TREC run text."""
    path = Path(path)
    return Run.from_parquet(path) if path.suffix == ".parquet" else read_trec_run(path)


def matrices_from_runs(
    runs: Mapping[str, Run | str | os.PathLike[str]],
    qrels: Qrels,
    metrics: Sequence[str],
    *,
    dataset: str = "qrels",
    host: Any = None,
    relevance_level: int = 1,
) -> list[QueryMatrix]:
    """One ``QueryMatrix`` per metric: each run evaluated against ``qrels``
    (``rankarena.evaluate``) over every qrels query, a query missing from a run scoring 0
    (trec_eval ``-c``): the systems are compared on the same queries, and a system that
    skipped a query is not spared it."""
    from ..evaluate import evaluate

    if len(runs) < 2:
        raise ParameterError(f"compare needs at least two runs; got {len(runs)}")
    if not metrics:
        raise ParameterError("give at least one metric")
    per_metric: dict[str, dict[str, dict[str, float]]] = {}
    for name, run in runs.items():
        loaded = run if isinstance(run, Run) else read_run(run)
        evaluation = evaluate(
            loaded, qrels, list(metrics), complete=True, relevance_level=relevance_level, host=host
        )
        for metric in evaluation.metrics:  # the canonical names; a metric set expanded
            per_metric.setdefault(metric, {})[name] = dict(
                zip(evaluation.query_ids, evaluation.per_query[metric].tolist(), strict=True)
            )
    return [paired_matrix(dataset, "", metric, values, []) for metric, values in per_metric.items()]
