"""The ``curriculum`` and ``dynamic`` samplers on a real SciFact subset (train queries, their
judged documents and some others) with BM25 and the offline MiniLM encoder."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import ParameterError
from rankarena.data.training_examples import SCHEMA
from rankarena.errors import UnknownNameError
from rankarena.plugins.samplers.dynamic import Curriculum, DynamicNegatives, curriculum_weights
from rankarena.training.mining import MiningContext

N_QUERIES, N_OTHERS, NEGATIVES = 24, 120, 5


@pytest.fixture(scope="module")
def subset(scifact_subset):
    return scifact_subset(N_QUERIES, N_OTHERS)


@pytest.fixture(scope="module")
def context(subset):
    return MiningContext(*subset, seed=3, device="cpu")


PARAMS = {"max_length": 64}  # short inputs keep the CPU encoding quick


def create(name: str, **kwargs):
    return rankarena.plugin_manager().samplers.create(name, **kwargs)


def shown(context) -> dict[str, set[str]]:
    return {q: set(p) for q, p in context.positives.items()}


# --- curriculum ---------------------------------------------------------------------------


def normscore_difficulty(rows: list[dict]) -> list[float]:
    """The paper's normalised-score heuristic, written out independently."""
    by_query: dict[str, dict[str, float]] = {}
    for row in rows:
        docs = by_query.setdefault(row["query_id"], {})
        docs[row["positive_id"]] = row["positive_score"]
        docs.update(zip(row["negative_ids"], row["negative_scores"], strict=True))
    out = []
    for row in rows:
        docs = by_query[row["query_id"]]
        low, high = min(docs.values()), max(docs.values())

        def norm(doc, low=low, high=high, docs=docs):
            return (docs[doc] - low) / (high - low)

        hardest = max(norm(d) for d in row["negative_ids"])
        out.append(1 - min(1.0, max(0.0, (norm(row["positive_id"]) - hardest + 1) / 2)))
    return out


def test_curriculum_orders_the_inner_rows_easy_to_hard(context):
    inner = create("retriever-topk", retriever="bm25").sample(context, NEGATIVES)
    sampler = create("curriculum", sampler_params={"retriever": "bm25"})
    examples = sampler.sample(context, NEGATIVES)
    assert examples.table.schema == SCHEMA
    examples.check_against(shown(context))

    def key(row):
        return row["query_id"], row["positive_id"], tuple(row["negative_ids"])

    rows = examples.table.to_pylist()
    assert sorted(map(key, rows)) == sorted(map(key, inner.table.to_pylist()))
    # retriever-topk leaves positive_score null: filled with the inner retriever (bm25)
    expected = context.score_pairs(
        "bm25", {}, [r["query_id"] for r in rows], [r["positive_id"] for r in rows]
    )
    np.testing.assert_allclose([r["positive_score"] for r in rows], expected)
    difficulty = sampler.difficulty(examples)
    assert np.all(np.diff(difficulty) >= 0)  # easy first
    assert np.all((difficulty >= 0) & (difficulty <= 1))
    np.testing.assert_allclose(difficulty, normscore_difficulty(rows), atol=1e-12)
    assert difficulty[0] < difficulty[-1]


def test_curriculum_weights_on_sampled_rows(context):
    sampler = create("curriculum", sampler_params={"retriever": "bm25"}, heuristic="reciprank")
    examples = sampler.sample(context, NEGATIVES)
    total = 100
    early = sampler.weights(0, total)
    np.testing.assert_allclose(early, 1 - sampler.difficulty(examples))
    assert np.all(np.diff(early) <= 0)  # rows run easy → hard, so weights fall early on
    previous = early
    for step in range(1, total):
        current = sampler.weights(step, total)
        assert np.all(current >= previous - 1e-12)  # monotone in the step
        previous = current
    np.testing.assert_array_equal(sampler.weights(total - 1, total), 1.0)  # all 1 at the end
    half = create("curriculum", end_fraction=0.5)
    np.testing.assert_array_equal(half.weights(60, total, examples), 1.0)
    assert half.weights(10, total, examples).min() < 1


def test_curriculum_fills_unscored_negatives_with_the_scorer(context):
    sampler = create("curriculum", sampler="random", scorer="bm25", heuristic="reciprank")
    examples = sampler.sample(context, NEGATIVES)
    rows = examples.table.to_pylist()
    examples.check_against(shown(context))
    assert all(not np.isnan(s) for r in rows for s in r["negative_scores"])
    scored = context.score_pairs("bm25", {}, [rows[0]["query_id"]], [rows[0]["negative_ids"][0]])
    assert rows[0]["negative_scores"][0] == pytest.approx(float(scored[0]))
    assert np.all(np.diff(sampler.difficulty(examples)) >= 0)


def test_curriculum_over_in_batch_rows(context):
    sampler = create("curriculum", sampler="in-batch")
    examples = sampler.sample(context, NEGATIVES)
    assert examples.table.column("in_batch").to_pylist() == [True] * len(examples)
    np.testing.assert_array_equal(sampler.difficulty(examples), 0.0)
    np.testing.assert_array_equal(sampler.weights(0, 10), 1.0)


@settings(max_examples=200, deadline=None)
@given(
    ease=st.lists(st.floats(0, 1), min_size=1, max_size=20),
    steps=st.tuples(st.integers(0, 1000), st.integers(0, 1000)),
    end=st.integers(1, 1000),
)
def test_curriculum_weight_formula(ease, steps, end):
    ease = np.array(ease)
    early, late = sorted(steps)
    w_early, w_late = curriculum_weights(ease, early, end), curriculum_weights(ease, late, end)
    assert np.all(w_late >= w_early - 1e-12)  # non-decreasing in the step
    assert np.all((w_early >= ease - 1e-12) & (w_early <= 1))
    np.testing.assert_allclose(curriculum_weights(ease, 0, end), ease)  # W(D, 0) = D
    np.testing.assert_array_equal(curriculum_weights(ease, end, end), 1.0)  # W = 1 from m on
    order = np.argsort(-ease, kind="stable")  # easier rows never weigh less
    assert np.all(np.diff(w_early[order]) <= 1e-12)
    if early < end:
        np.testing.assert_allclose(w_early, ease + early / end * (1 - ease))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heuristic": "bm25"},
        {"end_fraction": 0.0},
        {"end_fraction": 1.5},
        {"sampler": "curriculum"},
        {"sampler_params": "top"},
        {"schedule": "linear"},
    ],
)
def test_curriculum_parameter_errors_are_one_line(kwargs):
    with pytest.raises(ParameterError) as error:
        create("curriculum", **kwargs)
    assert "\n" not in str(error.value)


def test_curriculum_call_errors(context):
    with pytest.raises(UnknownNameError, match="did you mean 'random'") as error:
        create("curriculum", sampler="randon").sample(context, 2)
    assert "\n" not in str(error.value)
    with pytest.raises(ParameterError, match="has no parameter 'depth'"):
        create("curriculum", sampler_params={"depth": 3}).sample(context, 2)
    with pytest.raises(ParameterError, match="before weights"):
        Curriculum().weights(0, 10)
    sampler = create("curriculum", sampler="in-batch")
    sampler.sample(context, 1)
    for step, total in ((-1, 10), (0, 0)):
        with pytest.raises(ParameterError, match="step"):
            sampler.weights(step, total)


# --- dynamic (ADORE) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dense(context):
    """The dense retriever indexed once on the subset (through the context)."""
    return context.retriever("dense", PARAMS)


@pytest.fixture(scope="module")
def perturbed(dense):
    """A different query encoder: the same model with noise added to every weight."""
    encoder = copy.copy(dense.encoder)
    encoder.network = copy.deepcopy(dense.encoder.network)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in encoder.network.parameters():
            noise = torch.randn(weight.shape, generator=generator, dtype=weight.dtype)
            weight.add_(noise * 0.5 * weight.std().nan_to_num(0.0))
    return encoder


@pytest.fixture
def forward_rows(dense):
    """Rows that pass through the retriever's (document) network while the test runs."""
    rows: list[int] = []
    handle = dense.encoder.network.register_forward_hook(
        lambda module, args, output: rows.append(output.last_hidden_state.shape[0])
    )
    yield rows
    handle.remove()


def test_sample_mines_with_the_retrievers_current_encoder(context, dense):
    sampler = create("dynamic", params=PARAMS)
    examples = sampler.sample(context, NEGATIVES)
    examples.check_against(shown(context))
    topk = create("retriever-topk", params=PARAMS).sample(context, NEGATIVES)
    assert (
        examples.table.column("negative_ids").to_pylist()
        == topk.table.column("negative_ids").to_pylist()
    )
    np.testing.assert_allclose(
        examples.table.column("negative_scores").combine_chunks().flatten().to_numpy(),
        topk.table.column("negative_scores").combine_chunks().flatten().to_numpy(),
        atol=1e-5,
    )
    rows = examples.table.to_pylist()
    expected = context.score_pairs(
        "dense", PARAMS, [r["query_id"] for r in rows], [r["positive_id"] for r in rows]
    )
    np.testing.assert_allclose([r["positive_score"] for r in rows], expected, atol=1e-5)
    assert sampler.document_index(context) is dense.embeddings


def test_refresh_uses_the_given_encoder_and_the_fixed_index(
    context, dense, perturbed, forward_rows, monkeypatch
):
    sampler = create("dynamic", params=PARAMS)
    before = sampler.sample(context, NEGATIVES)
    index = sampler.document_index(context)
    frozen = np.array(index, copy=True)
    reindexed = []
    monkeypatch.setattr(dense, "index", lambda corpus: reindexed.append(1))
    seen: list[list[str]] = []

    def current(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        return dense.encoder.encode(texts)

    forward_rows.clear()
    same = sampler.refresh(context, current, NEGATIVES)
    assert seen == [context.queries.table.column("text").to_pylist()]
    assert sum(forward_rows) == len(context.queries)  # only the queries were encoded
    assert same == before

    forward_rows.clear()
    changed = sampler.refresh(context, perturbed.encode, NEGATIVES)
    assert forward_rows == []  # the document encoder never ran: the index stayed fixed
    assert reindexed == [] and sampler.document_index(context) is index
    np.testing.assert_array_equal(index, frozen)
    changed.check_against(shown(context))
    old, new = before.table.to_pylist(), changed.table.to_pylist()
    differ = sum(a["negative_ids"] != b["negative_ids"] for a, b in zip(old, new, strict=True))
    assert differ >= len(old) // 4  # another query encoder, other negatives
    # the scores are the perturbed query embeddings against the fixed document embeddings
    texts = context.queries.to_dict()
    row = new[0]
    query = perturbed.encode([texts[row["query_id"]]])[0]
    docs = np.asarray(index)[[context.doc_index[d] for d in row["negative_ids"]]]
    np.testing.assert_allclose(row["negative_scores"], docs @ query, atol=1e-4)


def test_refresh_a_batch_of_queries_in_a_window(context, dense):
    sampler = create(
        "dynamic", params=PARAMS, range_min=2, range_max=12, sampling="random-in-window"
    )
    batch = context.queries.ids[:3]
    first = sampler.refresh(context, dense.encoder.encode, 4, query_ids=batch)
    assert set(first.table.column("query_id").to_pylist()) == set(batch)
    assert first == sampler.refresh(context, dense.encoder.encode, 4, query_ids=batch)
    full = create("dynamic", params=PARAMS, range_max=12).sample(context, 12).table.to_pylist()
    window = {(r["query_id"], r["positive_id"]): r["negative_ids"][2:12] for r in full}
    for row in first.table.to_pylist():
        assert len(row["negative_ids"]) == 4
        assert set(row["negative_ids"]) <= set(window[(row["query_id"], row["positive_id"])])


@pytest.mark.parametrize(("every", "due"), [(1, [0, 1, 2, 3, 4, 5, 6]), (3, [0, 3, 6])])
def test_due(every, due):
    sampler = DynamicNegatives(every=every)
    assert [step for step in range(7) if sampler.due(step)] == due


@settings(max_examples=100, deadline=None)
@given(every=st.integers(1, 50), total=st.integers(1, 500))
def test_due_counts(every, total):
    sampler = DynamicNegatives(every=every)
    steps = [s for s in range(total) if sampler.due(s)]
    assert steps[0] == 0 and len(steps) == -(-total // every)
    assert all(b - a == every for a, b in itertools.pairwise(steps))


def test_dynamic_errors_are_one_line(context, dense):
    problems = []
    for kwargs in (
        {"every": 0},
        {"every": 1.5},
        {"sampling": "best"},
        {"range_min": -1},
        {"params": "minilm"},
    ):
        with pytest.raises(ParameterError) as error:
            create("dynamic", **kwargs)
        problems.append(str(error.value))
    with pytest.raises(ParameterError, match="step must be >= 0") as error:
        DynamicNegatives().due(-1)
    problems.append(str(error.value))
    with pytest.raises(ParameterError, match="no document embeddings") as error:
        create("dynamic", retriever="bm25").sample(context, 2)
    problems.append(str(error.value))
    sampler = create("dynamic", params=PARAMS)
    with pytest.raises(ParameterError, match="expected") as error:
        sampler.refresh(context, lambda texts: np.zeros((len(texts), 7)), 2)
    problems.append(str(error.value))
    with pytest.raises(ParameterError, match="not mining queries") as error:
        sampler.refresh(context, dense.encoder.encode, 2, query_ids=["no-such-query"])
    problems.append(str(error.value))
    assert all("\n" not in p for p in problems)
