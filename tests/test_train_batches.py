"""Training batch assembly: documents, targets and masks (rankarena.training.batches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rankarena.errors import ParameterError
from rankarena.training.batches import build_batch, epoch_order

QUERIES = {f"q{i}": f"query {i}" for i in range(6)}
DOCS = {f"d{i}": f"document {i}" for i in range(12)}


def row(query, positive, negatives=(), positive_score=None, negative_scores=None):
    return {
        "query_id": query,
        "positive_id": positive,
        "positive_score": positive_score,
        "negative_ids": list(negatives),
        "negative_scores": list(negative_scores or [0.0] * len(negatives)),
        "in_batch": not negatives,
    }


def test_in_batch_layout_dedupes_and_masks_other_positives():
    positives = {"q0": {"d0", "d1"}, "q1": {"d2"}, "q2": {"d3"}}
    rows = [row("q0", "d0", ["d5"]), row("q0", "d1", ["d5"]), row("q1", "d2", ["d3"])]
    batch = build_batch(rows, QUERIES, DOCS, positives, num_negatives=1)
    assert batch.doc_texts == ["document 0", "document 5", "document 1", "document 2", "document 3"]
    assert batch.query_texts == ["query 0", "query 0", "query 1"]
    # row 0: own positive d0 (col 0); d1 (col 2) is q0's other positive -> masked out
    assert batch.targets[0].tolist() == [1, 0, 0, 0, 0]
    assert batch.mask[0].tolist() == [True, True, False, True, True]
    assert batch.targets[1].tolist() == [0, 0, 1, 0, 0]
    assert batch.mask[1].tolist() == [False, True, True, True, True]
    # row 2: d3 is q1's mined negative, though q2's positive: q1 is not judged on it -> valid
    assert batch.mask[2].all()


def test_scores_gather_the_rows_columns():
    rows = [row("q0", "d0", ["d1", "d2"], 0.9, [0.5, 0.4]), row("q1", "d3", ["d1"], 0.8, [0.7])]
    batch = build_batch(rows, QUERIES, DOCS, {}, num_negatives=2, layout="list")
    q, d = torch.randn(2, 4), torch.randn(len(batch.doc_texts), 4)
    scores = batch.scores(q, d)
    index = {t: i for i, t in enumerate(batch.doc_texts)}
    expected = torch.tensor(
        [
            [
                q[0] @ d[index["document 0"]],
                q[0] @ d[index["document 1"]],
                q[0] @ d[index["document 2"]],
            ],
            [q[1] @ d[index["document 3"]], q[1] @ d[index["document 1"]], 0.0],
        ]
    )
    mask = batch.mask
    torch.testing.assert_close(scores[mask], expected[mask])
    torch.testing.assert_close(batch.targets, torch.tensor([[0.9, 0.5, 0.4], [0.8, 0.7, 0.0]]))
    assert mask.tolist() == [[True, True, True], [True, True, False]]


def test_list_layout_needs_teacher_scores():
    with pytest.raises(ParameterError, match="teacher scores"):
        build_batch([row("q0", "d0", ["d1"])], QUERIES, DOCS, {}, 1, layout="list")


def test_unknown_layout():
    with pytest.raises(ParameterError, match="valid: in-batch, list"):
        build_batch([row("q0", "d0")], QUERIES, DOCS, {}, 0, layout="pairs")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 11), st.lists(st.integers(0, 11), max_size=3)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 3),
)
def test_in_batch_invariants(spec, num_negatives):
    """Each row: exactly one target (its own positive, valid); a column is masked out exactly
    when it is another labelled positive of the row's query; every document encoded once."""
    positives: dict[str, set[str]] = {}
    for q, p, _ in spec:
        positives.setdefault(f"q{q}", set()).add(f"d{p}")
    rows = []
    for q, p, negs in spec:
        negatives = [f"d{n}" for n in negs if f"d{n}" not in positives[f"q{q}"]]
        rows.append(row(f"q{q}", f"d{p}", negatives))
    batch = build_batch(rows, QUERIES, DOCS, positives, num_negatives)
    names = [t.replace("document ", "d") for t in batch.doc_texts]
    assert len(names) == len(set(names))
    assert (batch.targets.sum(1) == 1).all()
    for i, r in enumerate(rows):
        own = names.index(r["positive_id"])
        assert batch.targets[i, own] == 1 and batch.mask[i, own]
        for j, doc in enumerate(names):
            masked_out = doc in positives[r["query_id"]] and j != own
            assert bool(batch.mask[i, j]) is (not masked_out)


def test_epoch_order_is_seeded():
    a, b = epoch_order(50, seed=1, epoch=0), epoch_order(50, seed=1, epoch=0)
    assert np.array_equal(a, b) and sorted(a) == list(range(50))
    assert not np.array_equal(a, epoch_order(50, seed=1, epoch=1))
    assert not np.array_equal(a, epoch_order(50, seed=2, epoch=0))
