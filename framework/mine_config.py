"""Several samplers from one TOML file: ``rankarena mine --config mining.toml``.

::

    [mine]
    dataset = "scifact"            # a BEIR folder (relative to this file) or catalog name
    split = "train"
    num_negatives = 8
    holdout = 1.0                  # hide extra positives to measure false negatives (0: none)
    seed = 0
    output = "negatives"           # folder: one <name>.parquet per sampler, stats.csv
    scorer = "dense"               # rescoring model of the diagnostics
    histogram = "histogram.png"    # optional, inside output

    [samplers.topk]
    sampler = "retriever-topk"
    params = { retriever = "dense", range_max = 80 }

    [samplers.aware]
    sampler = "positive-aware"
    params = { retriever = "dense", range_max = 80, relative_margin = 0.05 }

Every sampler shares one ``MiningContext``, so a retriever is indexed once. A set already
written is read back instead of mined again (delete it to re-mine): an interrupted run
resumes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankarena.catalog import resolve_dataset
from rankarena.errors import DataFormatError, RankarenaError, reject_unknown_keys
from rankarena.registry import check_parameters

MINE_KEYS = {
    "dataset",
    "split",
    "num_negatives",
    "holdout",
    "seed",
    "output",
    "scorer",
    "scorer_params",
    "histogram",
    "margin",
}


@dataclass
class MineConfig:
    """A parsed mining config (see the module docstring)."""

    path: Path
    dataset: str
    split: str = "train"
    num_negatives: int = 8
    holdout: float = 0.0
    seed: int = 0
    output: Path = Path("negatives")
    scorer: str = "dense"
    scorer_params: dict[str, Any] = field(default_factory=dict)
    histogram: str | None = None
    margin: float = 0.1
    samplers: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_mine_config(path: str | Path, host) -> MineConfig:
    """Read and check a mining config; errors name the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(path, "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"invalid TOML ({exc})") from None
    mine = raw.get("mine")
    if not isinstance(mine, dict) or "dataset" not in mine:
        raise DataFormatError(path, "missing [mine] table with a dataset")
    reject_unknown_keys(path, "[mine]", mine, MINE_KEYS)
    samplers = raw.get("samplers")
    if not isinstance(samplers, dict) or not samplers:
        raise DataFormatError(path, "no [samplers.NAME] tables")
    for name, entry in samplers.items():
        if set(entry) - {"sampler", "params"} or "sampler" not in entry:
            raise DataFormatError(path, f"[samplers.{name}] needs sampler (and optional params)")
        try:
            check_parameters(host.samplers.get(entry["sampler"]), dict(entry.get("params", {})))
        except RankarenaError as exc:
            raise DataFormatError(path, f"[samplers.{name}] {exc}") from None
    base = path.parent
    try:
        dataset = str(resolve_dataset(str(mine["dataset"]), base=base))
    except RankarenaError as exc:
        raise DataFormatError(path, f"[mine] dataset: {exc}") from None
    output = Path(mine.get("output", "negatives"))
    return MineConfig(
        path=path,
        dataset=dataset,
        split=str(mine.get("split", "train")),
        num_negatives=int(mine.get("num_negatives", 8)),
        holdout=float(mine.get("holdout", 0.0)),
        seed=int(mine.get("seed", 0)),
        output=output if output.is_absolute() else base / output,
        scorer=str(mine.get("scorer", "dense")),
        scorer_params=dict(mine.get("scorer_params", {})),
        histogram=mine.get("histogram"),
        margin=float(mine.get("margin", 0.1)),
        samplers=samplers,
    )


def run_mine_config(config: MineConfig, host, log=print) -> list[dict[str, Any]]:
    """Mine (or reuse) every set of ``config``, write the diagnostics; return their rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from rankarena.data import atomic_path
    from rankarena.mining import MiningContext
    from rankarena.negative_stats import plot_histograms, score_set, set_stats
    from rankarena.training_examples import TrainingExamples

    dataset = host.datasets.create("beir", path=config.dataset)
    context = MiningContext(
        dataset.corpus,
        dataset.queries(config.split),
        dataset.qrels(config.split),
        host=host,
        seed=config.seed,
        holdout=config.holdout,
    )
    config.output.mkdir(parents=True, exist_ok=True)
    rows, scored = [], {}
    for name, entry in config.samplers.items():
        path = config.output / f"{name}.parquet"
        if path.exists():
            examples = TrainingExamples.from_parquet(path)
            log(f"{name}: reused {path}")
        else:
            sampler = host.samplers.create(entry["sampler"], **dict(entry.get("params", {})))
            examples = sampler.sample(context, config.num_negatives)
            examples.check_against(context.positives)
            examples.to_parquet(path)
            log(f"{name}: {len(examples)} rows -> {path}")
        scored[name] = score_set(examples, context, config.scorer, config.scorer_params)
        rows.append(set_stats(name, examples, context, scored[name], config.margin).to_dict())
    with atomic_path(config.output / "stats.csv") as tmp:
        pacsv.write_csv(pa.Table.from_pylist(rows), tmp)
    if config.histogram:
        plot_histograms(scored, config.output / config.histogram)
    return rows
