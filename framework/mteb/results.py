"""rankarena results ⇄ MTEB result folders (``results/<model>/<revision>/<Task>.json``).

``export_mteb_results(store, out_dir)`` writes the means of a rankarena results store as
mteb ``TaskResult`` files (built with mteb's own ``mteb.results.TaskResult``), in the layout
of github.com/embeddings-benchmark/results and of mteb's ``ResultCache``;
``import_mteb_results(folder)`` reads such a folder (also one mteb wrote) back into a
rankarena ``Results`` table. The mapping:

=====================  ==========================================================
rankarena              MTEB
=====================  ==========================================================
system                 model: ``ModelMeta.name`` in ``<revision>/model_meta.json``;
                       MTEB names are ``org/name``, so a system without ``/`` is
                       written as ``rankarena/<system>`` (the prefix is removed again
                       on import); the folder is the name with ``/`` → ``__``
(none)                 revision folder: ``revision=`` (default
                       ``no_revision_available``, mteb's own placeholder); on
                       import it becomes the rows' ``run_id`` (``mteb:<revision>``)
dataset                task: the MTEB task whose dataset is that BEIR dataset
                       (``scifact`` → ``SciFact``, ``trec-covid`` → ``TRECCOVID``,
                       ``nfcorpus`` → ``NFCorpus``), else the dataset name itself;
                       on import the reverse (other tasks keep their MTEB name)
split                  the scores' split (``test``, ``dev``, ...), subset ``default``
metric ``ndcg@10``     ``ndcg_at_10``; likewise ``map@k`` → ``map_at_k``,
                       ``recall@k`` → ``recall_at_k``, ``p@k`` → ``precision_at_k``,
                       ``mrr@k`` → ``mrr_at_k``, ``success@k`` → ``hit_rate_at_k``;
                       other names (``map``, ``bpref``) are written as they are
value                  the score, unrounded
(main metric)          ``main_score``: the task's own main score if mteb knows the
                       task, else ``main_metric`` (default ``ndcg@10``), or the only
                       metric
=====================  ==========================================================

Only means over queries (``query_id`` null) of unperturbed data (``variant`` empty) are
exported: MTEB results have neither per-query values nor robustness variants. When the
store holds a (system, dataset, split, metric) several times, the row stored last wins, as
in ``rankarena.leaderboard.score_sources``. mteb's ``TaskResult.to_disk`` rounds every score to 6
decimals; to keep the values exact the export writes the same JSON (``model_dump()``,
``date`` as a timestamp) without that rounding, and reads it back with
``TaskResult.from_disk``. On import, a task with several subsets (languages) gives one
dataset per subset, ``<task>/<subset>``; the ``default`` subset is the task itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..data import Results
from ..errors import DataFormatError, ParameterError
from .adapter import require_mteb
from .folder import meta_name, results_root, revision_results

NO_REVISION = "no_revision_available"
MODEL_PREFIX = "rankarena/"
FAMILIES = {  # rankarena metric family -> mteb's
    "ndcg": "ndcg",
    "map": "map",
    "recall": "recall",
    "p": "precision",
    "mrr": "mrr",
    "success": "hit_rate",
}
MTEB_FAMILIES = {mteb: ours for ours, mteb in FAMILIES.items()}
NOT_SCORES = {"main_score", "hf_subset", "languages", "mteb_version", "evaluation_time"}


def to_mteb_metric(name: str) -> str:
    """``ndcg@10`` → ``ndcg_at_10``, ``p@5`` → ``precision_at_5``; others unchanged."""
    family, sep, cutoff = name.partition("@")
    if sep and family in FAMILIES and cutoff.isdigit():
        return f"{FAMILIES[family]}_at_{cutoff}"
    return name


def from_mteb_metric(name: str) -> str:
    """``ndcg_at_10`` → ``ndcg@10``, ``precision_at_5`` → ``p@5``; others unchanged."""
    match = re.fullmatch(r"(ndcg|map|recall|precision|mrr|hit_rate)_at_(\d+)", name)
    if match:
        return f"{MTEB_FAMILIES[match.group(1)]}@{match.group(2)}"
    return name


@functools.cache
def _beir_names() -> tuple[dict[str, str], dict[str, str]]:
    """(BEIR dataset → MTEB task, MTEB task → BEIR dataset) for mteb's retrieval tasks whose
    Hugging Face dataset (``mteb/scifact``) names exactly one task."""
    mteb = require_mteb()
    by_base: dict[str, list[str]] = {}
    for task in mteb.get_tasks(task_types=["Retrieval"]):
        base = str(task.metadata.dataset["path"]).rsplit("/", 1)[-1].lower()
        by_base.setdefault(base, []).append(task.metadata.name)
    to_task = {base: names[0] for base, names in by_base.items() if len(names) == 1}
    return to_task, {task: base for base, task in to_task.items()}


def mteb_task_name(dataset: str) -> str:
    """The MTEB task of a rankarena dataset name (``scifact`` → ``SciFact``), else itself."""
    return _beir_names()[0].get(dataset, dataset)


def rankarena_dataset_name(task: str) -> str:
    """The BEIR dataset name of an MTEB task (``SciFact`` → ``scifact``), else the task name."""
    return _beir_names()[1].get(task, task)


def _known_task(name: str) -> Any:
    mteb = require_mteb()
    try:
        return mteb.get_task(name)
    except (KeyError, ValueError):
        return None


def export_mteb_results(
    results: str | os.PathLike[str] | Results,
    out_dir: str | os.PathLike[str],
    *,
    revision: str = NO_REVISION,
    main_metric: str = "ndcg@10",
    task_names: Mapping[str, str] | None = None,
    languages: list[str] | None = None,
) -> list[Path]:
    """Write a results store's means as ``out_dir/results/<model>/<revision>/<Task>.json``.

    :param results: a results store (``results.parquet``) or a ``Results`` table.
    :param revision: the revision folder (the model revision is not in the store).
    :param main_metric: ``main_score`` for tasks mteb does not know (rankarena naming).
    :param task_names: dataset → MTEB task name, overriding the automatic mapping.
    :param languages: the ``languages`` of tasks mteb does not know (default ``eng-Latn``).
    :returns: the task files written (one ``model_meta.json`` per model beside them).
    """
    mteb = require_mteb()
    from mteb.models.model_meta import ModelMeta
    from mteb.results import TaskResult

    if isinstance(results, Results):
        table = results
    else:
        table = Results.from_store(results, means_only=True)  # variants: left out below
    rows = table.table.to_pylist()
    cells: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    dates: dict[tuple[str, str], dt.datetime] = {}
    for row in rows:
        if row["query_id"] is not None or row["variant"]:
            continue
        key = (row["system"], row["dataset"])
        cells.setdefault(key, {}).setdefault(row["split"], {})[row["metric"]] = row["value"]
        if row["created_at"] is not None:
            dates[key] = max(dates.get(key, row["created_at"]), row["created_at"])
    if not cells:
        raise ParameterError("the results hold no means of unperturbed data to export")
    root = Path(out_dir) / "results"
    written: list[Path] = []
    for (system, dataset), splits in sorted(cells.items()):
        model_name = system if "/" in system else MODEL_PREFIX + system
        task_name = (task_names or {}).get(dataset) or mteb_task_name(dataset)
        task = _known_task(task_name)
        langs = list(languages or ["eng-Latn"])
        if task is not None:
            langs = _task_languages(task)
        scores: dict[str, list[dict[str, Any]]] = {}
        for split, metrics in sorted(splits.items()):
            main = _main_metric(metrics, task, main_metric, system, dataset, split)
            entry: dict[str, Any] = {
                to_mteb_metric(m): float(v) for m, v in sorted(metrics.items()) if math.isfinite(v)
            }
            entry.update(
                main_score=float(metrics[main]),
                hf_subset="default",
                languages=langs,
                mteb_version=mteb.__version__,
            )
            scores[split] = [entry]
        result = TaskResult(
            dataset_revision=task.metadata.revision if task is not None else "NA",
            task_name=task_name,
            mteb_version=mteb.__version__,
            scores=scores,
            evaluation_time=None,
            date=dates.get((system, dataset)),
        )
        meta = ModelMeta.create_empty(overwrites={"name": model_name, "revision": revision})
        folder = root / meta.model_name_as_path() / revision
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{task_name}.json"
        document = result.model_dump()
        document["date"] = result.date.timestamp() if result.date else None
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        (folder / "model_meta.json").write_text(
            json.dumps(meta.to_dict(), default=str, indent=4), encoding="utf-8"
        )
        written.append(path)
    return written


def _task_languages(task: Any) -> list[str]:
    return sorted({lang for ls in task.metadata.hf_subsets_to_langscripts.values() for lang in ls})


def _main_metric(
    metrics: dict[str, float], task: Any, default: str, system: str, dataset: str, split: str
) -> str:
    if task is not None:
        wanted = from_mteb_metric(task.metadata.main_score)
        if wanted in metrics:
            return wanted
    if default in metrics:
        return default
    if len(metrics) == 1:
        return next(iter(metrics))
    raise ParameterError(
        f"{system} on {dataset}/{split}: no {default} to be the MTEB main_score; pass "
        f"main_metric= one of {', '.join(sorted(metrics))}"
    )


def import_mteb_results(folder: str | os.PathLike[str], *, mteb_names: bool = False) -> Results:
    """An MTEB results folder as a rankarena ``Results`` table (means; see the module docstring).

    :param folder: ``results/<model>/<revision>/<Task>.json`` (or its ``results`` parent).
    :param mteb_names: keep MTEB task names as dataset names (``SciFact``) instead of
        mapping them to BEIR dataset names (``scifact``).
    """
    require_mteb()
    path = Path(folder)
    root = results_root(path)
    if not root.is_dir():
        raise DataFormatError(path, "not a folder (expected an MTEB results folder)")
    rows: list[dict[str, Any]] = []
    for model_dir, revision_dir, results in revision_results(root):
        system = _system_name(model_dir, revision_dir)
        for result in results:
            task = result.task_name if mteb_names else rankarena_dataset_name(result.task_name)
            created = result.date
            if created is not None and created.tzinfo is None:
                created = created.replace(tzinfo=dt.UTC)
            for split, entries in result.scores.items():
                for entry in entries:
                    subset = entry.get("hf_subset", "default")
                    dataset = task if subset == "default" else f"{task}/{subset}"
                    for key, value in entry.items():
                        if key in NOT_SCORES or not _is_number(value):
                            continue
                        rows.append(
                            {
                                "system": system,
                                "dataset": dataset,
                                "split": split,
                                "variant": "",
                                "metric": from_mteb_metric(key),
                                "value": float(value),
                                "query_id": None,
                                "run_id": f"mteb:{revision_dir.name}",
                                "created_at": created,
                            }
                        )
    if not rows:
        raise DataFormatError(path, "no MTEB task results (results/<model>/<revision>/<Task>.json)")
    return Results.from_rows(rows)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def _system_name(model_dir: Path, revision_dir: Path) -> str:
    name = meta_name(revision_dir) or model_dir.name.replace("__", "/")
    return name.removeprefix(MODEL_PREFIX)
