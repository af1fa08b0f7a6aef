"""The conformance kit fails a component that breaks a rule, and names the rule.

Each component here is a real built-in (BM25, ``retriever-topk``, ``infonce``, ``borda``,
``ndcg``, ``typos``) with one typical fault added; ``tests/test_plugin_new.py`` does the
same to scaffolded packages installed with pip.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rankarena
from rankarena import Ranking, Run
from rankarena.data.training_examples import TrainingExamples
from rankarena.testing import (
    ConformanceError,
    check_aggregator,
    check_command,
    check_dataset_source,
    check_loss,
    check_metric,
    check_perturbation,
    check_retriever,
    check_sampler,
)
from rankarena.testing.sample import write_beir_folder

HOST = rankarena.plugin_manager()


def broken_rules(check, component, params=None) -> list[str]:
    with pytest.raises(ConformanceError) as caught:
        check(component, params)
    message = str(caught.value)
    for rule in caught.value.rules:
        assert f"[{rule}]" in message
    return caught.value.rules


# ----------------------------------------------------------------------------- retrievers


class BM25:
    """The built-in BM25, with a fault chosen by the subclass."""

    def __init__(self):
        self.inner = HOST.retrievers.create("bm25")

    def index(self, corpus):
        self.inner.index(corpus)
        return self

    def search(self, queries, k):
        return self.inner.search(queries, k)


class OneTooMany(BM25):
    def search(self, queries, k):
        return self.inner.search(queries, k + 1)


class Invents(BM25):
    def search(self, queries, k):
        rows = self.inner.search(queries, k).to_dict()
        return Run.from_dict({q: {**docs, "not-a-doc": -1.0} for q, docs in rows.items()})


class Jitters(BM25):
    def search(self, queries, k):
        rows = self.inner.search(queries, k).to_dict()
        rng = np.random.default_rng()
        return Run.from_dict(
            {q: {d: s + rng.random() for d, s in docs.items()} for q, docs in rows.items()}
        )


class ChokesOnEmpty(BM25):
    def search(self, queries, k):
        if any(not text.strip() for text in queries.to_dict().values()):
            raise ValueError("empty query")
        return self.inner.search(queries, k)


class BatchNormalised(BM25):
    def search(self, queries, k):
        run = self.inner.search(queries, k).to_dict()
        n = len(queries.ids)
        return Run.from_dict({q: {d: s / n for d, s in docs.items()} for q, docs in run.items()})


class ReturnsNone(BM25):
    def index(self, corpus):
        self.inner.index(corpus)


class IgnoresIndex(BM25):
    def __init__(self):
        super().__init__()
        from rankarena.testing.sample import corpus

        self.inner.index(corpus())

    def index(self, corpus):
        return self


@pytest.mark.parametrize(
    ("factory", "rule"),
    [
        (OneTooMany, "at-most-k"),
        (Invents, "ids-from-corpus"),
        (Jitters, "deterministic"),
        (ChokesOnEmpty, "empty-and-non-ascii-queries"),
        (BatchNormalised, "queries-independent"),
        (ReturnsNone, "index-returns-self"),
        (IgnoresIndex, "index-search-split"),
    ],
)
def test_broken_retriever_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_retriever, factory)


def test_sound_retriever_passes():
    assert "at-most-k" in check_retriever(BM25)


# ------------------------------------------------------------------------------- samplers


class TopK:
    def __init__(self):
        self.inner = HOST.samplers.create("retriever-topk")

    def sample(self, context, num_negatives):
        return self.inner.sample(context, num_negatives)


def _rewrite(examples, change):
    rows = examples.table.to_pylist()
    return TrainingExamples.from_rows([change(row) for row in rows])


class OtherPositive(TopK):
    """Mines the query's other shown positives as negatives (a multi-positive query)."""

    def sample(self, context, num_negatives):
        def change(row):
            others = [p for p in context.positives[row["query_id"]] if p != row["positive_id"]]
            row["negative_ids"] = others[:1] + row["negative_ids"][: num_negatives - 1]
            row["negative_scores"] = row["negative_scores"][: len(row["negative_ids"])]
            row["negative_scores"] += [0.0] * (
                len(row["negative_ids"]) - len(row["negative_scores"])
            )
            return row

        return _rewrite(self.inner.sample(context, num_negatives), change)


class OneMore(TopK):
    def sample(self, context, num_negatives):
        return self.inner.sample(context, num_negatives + 1)


class Unseeded(TopK):
    def sample(self, context, num_negatives):
        rng = np.random.default_rng()

        def change(row):
            order = rng.permutation(len(row["negative_ids"]))
            row["negative_ids"] = [row["negative_ids"][i] for i in order]
            row["negative_scores"] = [row["negative_scores"][i] for i in order]
            return row

        return _rewrite(self.inner.sample(context, num_negatives + 5), change)


@pytest.mark.parametrize(
    ("factory", "rule"),
    [
        (OtherPositive, "no-shown-positive"),
        (OneMore, "requested-count-or-fewer"),
        (Unseeded, "seeded"),
    ],
)
def test_broken_sampler_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_sampler, factory)


# --------------------------------------------------------------------------------- losses


class InfoNCE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = HOST.losses.create("infonce")

    def forward(self, scores, targets, mask=None):
        return self.inner(scores, targets, mask)


class IgnoresMask(InfoNCE):
    def forward(self, scores, targets, mask=None):
        return self.inner(scores, targets)


class HalfDetached(InfoNCE):
    def forward(self, scores, targets, mask=None):
        return self.inner(scores, targets, mask) + (scores.detach() ** 2).mean()


class PerQuery(InfoNCE):
    def forward(self, scores, targets, mask=None):
        return torch.stack(
            [self.inner(s[None], t[None]) for s, t in zip(scores, targets, strict=True)]
        )


class Standardised(InfoNCE):
    def forward(self, scores, targets, mask=None):
        spread = scores.std(dim=1, keepdim=True)
        return self.inner((scores - scores.mean(dim=1, keepdim=True)) / spread, targets, mask)


@pytest.mark.parametrize(
    ("factory", "rule"),
    [
        (IgnoresMask, "mask-honoured"),
        (HalfDetached, "gradient"),
        (PerQuery, "scalar"),
        (Standardised, "finite-on-ties"),
    ],
)
def test_broken_loss_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_loss, factory)


# ---------------------------------------------------------------------------- aggregators


class Borda:
    missing_cells = "skip"

    def __init__(self):
        self.inner = HOST.aggregators.create("borda")

    def aggregate(self, scores):
        return self.inner.aggregate(scores)


class FirstListedWins(Borda):
    def aggregate(self, scores):
        ranking = self.inner.aggregate(scores)
        bonus = np.zeros(len(ranking.scores))
        bonus[0] = 1000.0
        return Ranking.from_scores("first", ranking.systems, ranking.scores + bonus)


class Undeclared(Borda):
    missing_cells = None


class ClaimsStrict(Borda):
    missing_cells = "strict"


class Contrarian(Borda):
    def aggregate(self, scores):
        ranking = self.inner.aggregate(scores)
        return Ranking.from_scores("contrarian", ranking.systems, -ranking.scores)


@pytest.mark.parametrize(
    ("factory", "rule"),
    [
        (FirstListedWins, "system-order"),
        (Undeclared, "missing-cells"),
        (ClaimsStrict, "missing-cells"),
        (Contrarian, "unanimity"),
    ],
)
def test_broken_aggregator_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_aggregator, factory)


# -------------------------------------------------------------------------------- metrics


class NDCG:
    name = "ndcg-variant"
    bounds = (0.0, 1.0)

    def __init__(self):
        self.inner = HOST.metrics.create("ndcg", k=10)

    def per_query(self, judged):
        return self.inner.per_query(judged)


class Unbounded(NDCG):
    def per_query(self, judged):
        return 2.0 * self.inner.per_query(judged)


class Inverted(NDCG):
    def per_query(self, judged):
        return 1.0 - self.inner.per_query(judged)


class TiesByScoreOnly(NDCG):
    """Discounts by the rank of the score (a tie shares the better position)."""

    def per_query(self, judged):
        out = np.zeros(judged.n_queries)
        for q in range(judged.n_queries):
            rows = np.flatnonzero(judged.query_index == q)
            scores, grades = judged.score[rows], judged.grade[rows]
            position = np.array([(scores > s).sum() for s in scores])
            dcg = ((2.0**grades - 1) / np.log2(position + 2))[position < 10].sum()
            ideal = judged.ideal_grade[judged.ideal_query_index == q][:10]
            best = ((2.0**ideal - 1) / np.log2(np.arange(len(ideal)) + 2)).sum()
            out[q] = min(1.0, dcg / best) if best else 0.0
        return out


@pytest.mark.parametrize(
    ("factory", "rule"),
    [(Unbounded, "range"), (Inverted, "perfect-run"), (TiesByScoreOnly, "tie-order")],
)
def test_broken_metric_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_metric, factory)


def test_metric_without_bounds_is_told_to_declare_them():
    class NoBounds(NDCG):
        bounds = None

    with pytest.raises(ConformanceError, match=r"\[range\] declare bounds"):
        check_metric(NoBounds)


# -------------------------------------------------------------------------- perturbations


class Typos:
    target = "queries"

    def __init__(self, intensity: float = 0.5):
        self.inner = HOST.perturbations.create("typos", intensity=intensity)

    def apply(self, texts, rng):
        return self.inner.apply(texts, rng)


class AlwaysShouts(Typos):
    def apply(self, texts, rng):
        return {i: t.upper() for i, t in self.inner.apply(texts, rng).items()}


class Renames(Typos):
    def apply(self, texts, rng):
        return {f"{i}-noisy": t for i, t in self.inner.apply(texts, rng).items()}


class OwnRandomness(Typos):
    def apply(self, texts, rng):
        return self.inner.apply(texts, np.random.default_rng())


class NoTarget(Typos):
    target = None


@pytest.mark.parametrize(
    ("factory", "rule"),
    [
        (AlwaysShouts, "intensity-zero-identity"),
        (Renames, "ids-untouched"),
        (OwnRandomness, "seeded"),
        (NoTarget, "declares-target"),
    ],
)
def test_broken_perturbation_fails_the_rule(factory, rule):
    assert rule in broken_rules(check_perturbation, factory)


# ---------------------------------------------------------------- dataset sources, verbs


class LenientFolder:
    """The BEIR folder source, but an unknown split is silently an empty one."""

    def __init__(self, path: str):
        self.inner = HOST.datasets.create("beir", path=path)
        self.name, self.splits = self.inner.name, self.inner.splits

    @property
    def corpus(self):
        return self.inner.corpus

    def queries(self, split):
        return self.inner.queries(split)

    def qrels(self, split):
        if split not in self.splits:
            return rankarena.Qrels.from_dict({})
        return self.inner.qrels(split)

    def fingerprint(self, split):
        return self.inner.fingerprint(split)


class LenientPlugin:
    @rankarena.hookimpl
    def register_datasets(self, register):
        register("lenient", LenientFolder)

    @rankarena.hookimpl
    def register_commands(self, subparsers):
        parser = subparsers.add_parser("kit-fails", help="always exits 1")
        parser.set_defaults(handler=lambda args: 1)


@pytest.fixture
def lenient():
    HOST.register(LenientPlugin(), name="kit-lenient")
    yield
    HOST.unregister("kit-lenient")


def test_lenient_source_fails_unknown_split(lenient, tmp_path):
    write_beir_folder(tmp_path)
    with pytest.raises(ConformanceError) as caught:
        check_dataset_source("lenient", str(tmp_path))
    assert caught.value.rules == ["unknown-split"]


def test_failing_verb_fails_runs(lenient):
    with pytest.raises(ConformanceError) as caught:
        check_command("kit-fails")
    assert caught.value.rules == ["runs"]


def test_pytest_plugin_gives_the_kit(rankarena_conformance, rankarena_sample):
    """The fixtures of the kit's pytest plugin (entry point ``pytest11``), no import."""
    assert rankarena_conformance.check_metric("ndcg", {"k": 10})
    assert len(rankarena_sample.corpus()) == 32
