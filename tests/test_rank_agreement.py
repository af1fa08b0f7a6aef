"""Kendall τ-b between top-k lists (rankarena.leaderboard.rank_agreement)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from rankarena.data import Run
from rankarena.leaderboard.rank_agreement import kendall_tau_topk, per_query_tau, top_lists

DOCS = [f"d{i}" for i in range(12)]


def test_identical_and_reversed():
    assert kendall_tau_topk(DOCS[:5], DOCS[:5], 5) == pytest.approx(1.0)
    assert kendall_tau_topk(DOCS[:5], DOCS[:5][::-1], 5) == pytest.approx(-1.0)
    assert kendall_tau_topk([], [], 5) == 1.0


@settings(max_examples=100, deadline=None)
@given(st.permutations(DOCS[:8]))
def test_same_documents_equal_scipy_on_positions(perm):
    """When both lists hold the same documents, τ-b is scipy's τ of their positions."""
    expected = kendalltau(np.arange(8), [perm.index(d) for d in DOCS[:8]]).statistic
    assert kendall_tau_topk(DOCS[:8], list(perm), 8) == pytest.approx(expected)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(DOCS), min_size=1, max_size=6, unique=True),
    st.lists(st.sampled_from(DOCS), min_size=1, max_size=6, unique=True),
)
def test_symmetric_and_bounded(a, b):
    tau = kendall_tau_topk(a, b, 6)
    assert -1.0 <= tau <= 1.0
    assert abs(tau - kendall_tau_topk(b, a, 6)) < 1e-12


def test_documents_missing_from_one_list_rank_at_the_bottom():
    # b drops d0 (rank k there) and brings d9: one swap-like disagreement, not a reversal
    tau = kendall_tau_topk(["d0", "d1", "d2"], ["d1", "d2", "d9"], 3)
    a = [0, 1, 2, 3]  # d0 d1 d2 d9 in list a (d9 absent -> 3)
    b = [3, 0, 1, 2]
    assert tau == kendalltau(a, b).statistic


def test_per_query_on_runs():
    first = Run.from_arrays(["q1"] * 3 + ["q2"] * 2, ["a", "b", "c", "x", "y"], [3, 2, 1, 2, 1])
    second = Run.from_arrays(["q1"] * 3, ["c", "b", "a"], [3, 2, 1])
    assert top_lists(first, 2) == {"q1": ["a", "b"], "q2": ["x", "y"]}
    taus = per_query_tau(first, second, 3, ["q1", "q2"])
    assert taus[0] == pytest.approx(-1.0)
    assert taus[1] == 0.0  # q2 is missing from the second run: all tied there, τ undefined -> 0
