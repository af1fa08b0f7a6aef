"""rankarena-example: a third-party rankarena plugin to copy when writing your own.

It adds three components and a command through four hooks:

* metric ``rbp-example`` (hook ``register_metrics``): rank-biased precision, A. Moffat
  and J. Zobel, "Rank-biased precision for measurement of retrieval effectiveness", ACM
  Transactions on Information Systems 27(1), 2008. rankarena has a built-in ``rbp``
  (``rankarena.plugins.metrics.ir_measures``) and a name belongs to one plugin only (the
  host refuses a second registration), hence the plugin's own name;
* aggregator ``geometric-mean`` (hook ``register_aggregators``): systems ranked by the
  geometric mean of their scores over tasks;
* dataset source ``tsv`` (hook ``register_datasets``): a folder of MS MARCO-style
  tab-separated files, opened as ``tsv:FOLDER`` by every command (``tsv_folder.py``);
* verb ``rankarena rbp`` (hook ``register_commands``): a run's mean RBP on a dataset, with
  its residual, the most that the documents below the cutoff and the unjudged ones could
  still add.

rankarena finds it through the entry point ``example = "rankarena_example"`` in the group
``rankarena`` (see ``pyproject.toml``): the host imports this module and registers it as
plugin ``example``; its functions marked with the ``rankarena.hookimpl`` decorator are the
hook implementations.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import rankarena
from rankarena import DataFormatError, JudgedRun, Metric, ParameterError, Ranking, ScoreTable
from rankarena.api.datasets import open_dataset, read_trec_run

from .tsv_folder import TsvFolder

__version__ = "0.1.0"

__all__ = [
    "GeometricMean",
    "RankBiasedPrecision",
    "RankBiasedPrecisionResidual",
    "TsvFolder",
    "rbp_command",
]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class RankBiasedPrecision(Metric):
    """Rank-biased precision: RBP = (1 - p) Σ_{i≤k} r_i p^(i-1) (Moffat & Zobel, 2008).

    For one query: ranks i = 1, 2, ... of the ranking (cut at k when given), binary
    relevance r_i (grade >= the relevance level; unjudged documents count as non-relevant)
    and persistence p, the probability that the user goes on from one document to the
    next. Reference: A. Moffat and J. Zobel, "Rank-biased precision for measurement of
    retrieval effectiveness", ACM Transactions on Information Systems 27(1), 2008.

    This is the paper's base value; its residual (what the documents below the cutoff, or
    unjudged ones, could still add) is ``RankBiasedPrecisionResidual``.

    :param k: rank cutoff (``rbp-example@10``); ``None`` scores the whole ranking.
    :param p: persistence, 0 < p < 1 (0.8 by default; the paper also uses 0.5 and 0.95).
    """

    key = "rbp-example"
    DEFAULT_P = 0.8

    def __init__(self, k: int | None = None, p: float = 0.8):
        super().__init__(k)  # Metric.__init__ checks k
        if not _is_number(p) or not 0.0 < p < 1.0:
            raise ParameterError(f"metric {self.key!r}: persistence p must be in (0, 1), got {p!r}")
        self.p = float(p)

    @property
    def name(self) -> str:
        """``rbp-example@k`` with the default p, ``rbp-example(p=0.95)@k`` with another
        (names stay unique)."""
        base = self.key if self.p == self.DEFAULT_P else f"{self.key}(p={self.p:g})"
        return base if self.k is None else f"{base}@{self.k}"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        # judged.position is the 0-based rank, so p ** position is p^(i-1); one weighted
        # bincount over the relevant rows within the top k sums every query at once.
        weight = np.power(self.p, judged.position.astype(np.float64))
        mask = judged.relevant & judged.top(self.k)
        return (1.0 - self.p) * judged.per_query_sum(weight, mask)


class RankBiasedPrecisionResidual(RankBiasedPrecision):
    """The residual of RBP: the most that unknown relevance could still add to it.

    For one query whose ranking is cut at depth d = min(k, retrieved documents):
    residual = (1 - p) Σ_{i≤d, i unjudged} p^(i-1) + p^d, the unjudged documents within the
    cutoff and everything below it counted as relevant (Moffat & Zobel, 2008, section 5).
    The true RBP lies between the base value and base + residual. Its name is
    ``rbp-example-residual@k`` (``rbp-example-residual(p=0.95)@k`` with another
    persistence).
    """

    key = "rbp-example-residual"

    def per_query(self, judged: JudgedRun) -> np.ndarray:
        weight = np.power(self.p, judged.position.astype(np.float64))
        unjudged = ~judged.judged & judged.top(self.k)
        depth = judged.num_retrieved if self.k is None else np.minimum(judged.num_retrieved, self.k)
        return (1.0 - self.p) * judged.per_query_sum(weight, unjudged) + np.power(self.p, depth)


class GeometricMean:
    """Rank systems by the geometric mean of their scores over the tasks they have.

    For system s with scored (non-NaN) tasks T_s out of n tasks:
    GM(s) = exp( (1/|T_s|) Σ_{t∈T_s} ln(x_{s,t} + ε) ) and coverage(s) = |T_s| / n.
    A system with coverage below ``min_coverage``, or with no score at all, gets NaN and
    ranks last. Scores must be >= 0 (higher is better); ε keeps a zero from sending the
    mean to -inf, while the zero still weighs heavily (ln 1e-9 ≈ -20.7).

    :param epsilon: added to every score before the logarithm (>= 0).
    :param min_coverage: fraction of tasks a system must have scores for (0 to 1).
    """

    def __init__(self, epsilon: float = 1e-9, min_coverage: float = 1.0):
        if not _is_number(epsilon) or not 0.0 <= epsilon < math.inf:
            raise ParameterError(
                f"aggregator 'geometric-mean': epsilon must be >= 0, got {epsilon!r}"
            )
        if not _is_number(min_coverage) or not 0.0 <= min_coverage <= 1.0:
            raise ParameterError(
                f"aggregator 'geometric-mean': min_coverage must be in [0, 1], got {min_coverage!r}"
            )
        self.epsilon = float(epsilon)
        self.min_coverage = float(min_coverage)

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """Rank ``scores.systems`` by GM, highest first; ``extras["coverage"]`` per system."""
        values = scores.scores  # systems × tasks, float64, NaN = missing
        present = ~np.isnan(values)
        if np.any(values[present] < 0):
            lowest = float(values[present].min())
            raise DataFormatError(None, f"geometric-mean needs scores >= 0, got {lowest}")
        count = present.sum(axis=1)
        coverage = count / max(len(scores.tasks), 1)
        with np.errstate(divide="ignore"):  # a zero with epsilon = 0: ln 0 = -inf, GM = 0
            logs = np.log(np.where(present, values, 1.0) + self.epsilon)
        total = np.where(present, logs, 0.0).sum(axis=1)
        mean_log = np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)
        result = np.exp(mean_log)
        result[coverage < self.min_coverage] = np.nan
        return Ranking.from_scores(
            "geometric-mean", scores.systems, result, coverage=coverage.tolist()
        )


@rankarena.hookimpl
def register_metrics(register) -> None:
    """Register ``rbp-example`` (users write ``rbp-example`` or ``rbp-example@K``)."""
    register("rbp-example", RankBiasedPrecision)


@rankarena.hookimpl
def register_aggregators(register) -> None:
    """Register ``geometric-mean``."""
    register("geometric-mean", GeometricMean)


@rankarena.hookimpl
def register_datasets(register) -> None:
    """Register the dataset source ``tsv`` (users write ``tsv:FOLDER``)."""
    register("tsv", TsvFolder)


@rankarena.hookimpl
def register_commands(subparsers) -> None:
    """Add the verb ``rankarena rbp``."""
    parser = subparsers.add_parser(
        "rbp", help="mean rank-biased precision of a run, with its residual"
    )
    parser.add_argument(
        "--dataset", required=True, help="a dataset: BEIR folder, catalog name, tsv:FOLDER"
    )
    parser.add_argument("--split", default="test", help="qrels split (default: test)")
    parser.add_argument("--run", required=True, help="a TREC run file, or a .parquet Run")
    parser.add_argument(
        "--persistence", type=float, default=0.8, help="p, in (0, 1) (default: 0.8)"
    )
    parser.add_argument("--depth", type=int, help="rank cutoff k (default: the whole ranking)")
    parser.set_defaults(handler=rbp_command)


def rbp_command(args: argparse.Namespace) -> int:
    """``rankarena rbp``: print the run's mean RBP over the evaluated queries and its mean
    residual, as ``rbp-example@10 on scifact/test (300 queries): 0.1234, residual 0.5678``."""
    metrics = [
        RankBiasedPrecision(args.depth, args.persistence),  # checks k and p, in one line
        RankBiasedPrecisionResidual(args.depth, args.persistence),
    ]
    dataset = open_dataset(rankarena.plugin_manager(), args.dataset)
    path = Path(args.run)
    run = rankarena.Run.from_parquet(path) if path.suffix == ".parquet" else read_trec_run(path)
    evaluation = rankarena.evaluate(run, dataset.qrels(args.split), metrics)
    base, residual = (evaluation.mean[metric.name] for metric in metrics)
    print(
        f"{metrics[0].name} on {dataset.name}/{args.split} "
        f"({len(evaluation.query_ids)} queries): {base:.4f}, residual {residual:.4f}"
    )
    return 0
