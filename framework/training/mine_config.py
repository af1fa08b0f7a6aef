"""Several samplers from one TOML file: ``rankarena mine --config mining.toml``.

::

    [mine]
    dataset = "scifact"            # a BEIR folder (relative to this file), a catalog name
                                   # or SOURCE:ARGUMENT of a dataset source plugin
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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.datasets import BEIR_SOURCE, check_reference, open_dataset
from ..core.registry import check_parameters
from ..core.toml_config import read_toml, table, typed
from ..data.catalog import resolve_dataset
from ..errors import DataFormatError, RankarenaError, reject_unknown_keys

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
    raw = read_toml(path)
    reject_unknown_keys(path, "config:", raw, {"mine", "samplers"})
    mine = raw.get("mine")
    if not isinstance(mine, dict) or "dataset" not in mine:
        raise DataFormatError(path, "missing [mine] table with a dataset")
    reject_unknown_keys(path, "[mine]", mine, MINE_KEYS)
    samplers = raw.get("samplers")
    if not isinstance(samplers, dict) or not samplers:
        raise DataFormatError(path, "no [samplers.NAME] tables")
    for name, entry in samplers.items():
        where = f"[samplers.{name}]"
        if not isinstance(entry, dict) or set(entry) - {"sampler", "params"}:
            raise DataFormatError(path, f"{where} needs sampler (and optional params)")
        typed(path, where, entry, "sampler", str)
        try:
            check_parameters(
                host.samplers.get(entry["sampler"]), dict(table(path, where, entry, "params"))
            )
        except RankarenaError as exc:
            raise DataFormatError(path, f"{where} {exc}") from None
    base = path.parent
    try:
        reference = typed(path, "[mine]", mine, "dataset", str)
        source, argument = check_reference(host, reference, base)
        # a BEIR folder or name: the folder it resolves to, as before
        beir = source == BEIR_SOURCE
        dataset = str(resolve_dataset(argument, base=base)) if beir else reference
    except RankarenaError as exc:
        raise DataFormatError(path, f"[mine] dataset: {exc}") from None
    output = Path(typed(path, "[mine]", mine, "output", str, "negatives"))
    return MineConfig(
        path=path,
        dataset=dataset,
        split=typed(path, "[mine]", mine, "split", str, "train"),
        num_negatives=typed(path, "[mine]", mine, "num_negatives", int, 8, minimum=1),
        holdout=typed(path, "[mine]", mine, "holdout", float, 0.0, minimum=0.0, maximum=1.0),
        seed=typed(path, "[mine]", mine, "seed", int, 0),
        output=output if output.is_absolute() else base / output,
        scorer=typed(path, "[mine]", mine, "scorer", str, "dense"),
        scorer_params=dict(table(path, "[mine]", mine, "scorer_params")),
        histogram=typed(path, "[mine]", mine, "histogram", str, None),
        margin=typed(path, "[mine]", mine, "margin", float, 0.1),
        samplers=samplers,
    )


def run_mine_config(config: MineConfig, host, log=print) -> list[dict[str, Any]]:
    """Mine (or reuse) every set of ``config``, write the diagnostics; return their rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ..data import atomic_path
    from ..data.training_examples import TrainingExamples
    from .mining import MiningContext
    from .negative_stats import plot_histograms, score_set, set_stats

    dataset = open_dataset(host, config.dataset)
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
