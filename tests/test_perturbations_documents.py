"""Built-in document perturbations: exact change counts, determinism, ids untouched,
parameter errors, registration, ``query_terms``, and real SciFact texts."""

from __future__ import annotations

import copy
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import ParameterError
from rankarena.plugins.perturbations import documents as pd
from rankarena.robustness.text_noise import STOPWORDS, join_words, shuffle_count

HOST = rankarena.plugin_manager()
NAMES = ("sentence-shuffle", "truncation", "term-stuffing")
FAST = settings(max_examples=60, deadline=None)

sentence = st.lists(st.from_regex(r"[A-Za-z]{1,8},?", fullmatch=True), min_size=1, max_size=6).map(
    " ".join
)
end_mark = st.sampled_from([".", "!", "?", ""])
document = st.lists(
    st.tuples(sentence, end_mark, st.sampled_from([" ", "  ", "\n", " \n"])), max_size=8
).map(lambda parts: "".join(s + m + (gap if m else " ") for s, m, gap in parts))
documents = st.dictionaries(st.text("abc012_-", min_size=1, max_size=5), document, max_size=5)
intensity = st.floats(0, 1)
seed = st.integers(0, 2**32 - 1)
QUERY = "What is the role of the p53 protein in cancer cells' DNA repair?"


def expected_count(n: int, i: float) -> int:
    """The documented rule, written out: 0 at i = 0, else max(1, floor(i·n + 1/2))."""
    return 0 if i == 0 or n == 0 else min(n, max(1, math.floor(i * n + 0.5 + 1e-9)))


def stuff_terms(docs: dict[str, str]) -> dict[str, list[str]]:
    return {key: pd.query_terms(QUERY) for key in docs}


def make(name: str, i: float, **params):
    return HOST.perturbations.create(name, intensity=i, **params)


def apply(p, docs, rng):
    if isinstance(p, pd.TermStuffing):
        return p.apply(docs, rng, terms=stuff_terms(docs))
    return p.apply(docs, rng)


# ----------------------------------------------------------------------------- all perturbations


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(docs=documents, i=intensity, s=seed)
def test_deterministic_same_keys_input_untouched(name, docs, i, s):
    before = copy.deepcopy(docs)
    p = make(name, i)
    out = apply(p, docs, np.random.default_rng(s))
    assert docs == before
    assert out is not docs
    assert list(out) == list(docs)  # ids never change, nor their order
    assert apply(p, docs, np.random.default_rng(s)) == out


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(docs=documents, s=seed)
def test_intensity_zero_changes_nothing(name, docs, s):
    assert apply(make(name, 0.0), docs, np.random.default_rng(s)) == docs


@pytest.mark.parametrize("name", ["sentence-shuffle", "term-stuffing"])
def test_different_seeds_give_different_outputs(name):
    docs = {"d": "One cell. Two cells! Three cells? Four cells. Five cells. Six cells."}
    outs = {apply(make(name, 0.5), docs, np.random.default_rng(s))["d"] for s in range(12)}
    assert len(outs) > 1


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_document_target(name):
    spec = HOST.perturbations.get(name)
    assert spec.plugin == "rankarena.plugins.perturbations.documents"
    assert spec.factory.target == "documents"
    assert make(name, 0.2).target == "documents"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_intensity_out_of_range(name, bad):
    with pytest.raises(ParameterError) as err:
        make(name, bad)
    assert "\n" not in str(err.value) and "intensity" in str(err.value)


@pytest.mark.parametrize("position", ["middle", "START", ""])
def test_unknown_position(position):
    with pytest.raises(ParameterError) as err:
        pd.TermStuffing(intensity=0.1, position=position)
    message = str(err.value)
    assert "\n" not in message and all(p in message for p in pd.POSITIONS)


# ----------------------------------------------------------------------------- sentence shuffle


def test_split_sentences():
    text = " First one. Second one!  Third?\nNo end\n"
    sentences, gaps = pd.split_sentences(text)
    assert sentences == ["First one.", "Second one!", "Third?", "No end"]
    assert gaps == [" ", " ", "  ", "\n", "\n"]
    assert join_words(sentences, gaps) == text
    assert pd.split_sentences("e.g.x and 3.5 stay") == (["e.g.x and 3.5 stay"], ["", ""])
    assert pd.split_sentences(" \n") == ([], [" \n"])
    assert pd.split_sentences("") == ([], [""])


@FAST
@given(
    parts=st.lists(
        st.from_regex(r"[A-Z][a-z]{0,6} [a-z]{1,6}[.!?]", fullmatch=True), min_size=1, unique=True
    ),
    i=intensity,
    s=seed,
)
def test_sentence_shuffle_moves_exactly_the_requested_distinct_sentences(parts, i, s):
    text = " ".join(parts)
    out = pd.SentenceShuffle(intensity=i).apply({"d": text}, np.random.default_rng(s))["d"]
    after, gaps = pd.split_sentences(out)
    assert sorted(after) == sorted(parts)
    assert gaps == pd.split_sentences(text)[1]
    moved = sum(a != b for a, b in zip(after, parts, strict=True))
    assert moved == shuffle_count(len(parts), i)


@FAST
@given(docs=documents, i=intensity, s=seed)
def test_sentence_shuffle_is_a_permutation_keeping_breaks(docs, i, s):
    out = pd.SentenceShuffle(intensity=i).apply(docs, np.random.default_rng(s))
    for key, text in docs.items():
        assert sorted(out[key].split()) == sorted(text.split())
        sentences, gaps = pd.split_sentences(text)
        if sentences and sentences[-1][-1] not in ".!?":
            continue  # an unterminated last sentence moved inside merges when re-split
        after, after_gaps = pd.split_sentences(out[key])
        assert sorted(after) == sorted(sentences) and after_gaps == gaps
        moved = sum(a != b for a, b in zip(after, sentences, strict=True))
        assert moved <= shuffle_count(len(sentences), i)


# ----------------------------------------------------------------------------- truncation


@FAST
@given(docs=documents, i=intensity, s=seed)
def test_truncation_keeps_exactly_the_requested_prefix(docs, i, s):
    out = pd.Truncation(intensity=i).apply(docs, np.random.default_rng(s))
    for key, text in docs.items():
        words = text.split()
        n = len(words)
        kept = n - min(expected_count(n, i), max(n - 1, 0))
        assert out[key].split() == words[:kept]
        assert text.startswith(out[key])


def test_truncation_examples():
    docs = {"a": "one two three four five", "b": "single", "c": ""}
    rng = np.random.default_rng(0)
    assert pd.Truncation(intensity=0.4).apply(docs, rng)["a"] == "one two three"
    assert pd.Truncation(intensity=1.0).apply(docs, rng) == {"a": "one", "b": "single", "c": ""}


# ----------------------------------------------------------------------------- term stuffing


def test_query_terms():
    assert pd.query_terms(QUERY) == ["role", "p53", "protein", "cancer", "cells", "dna", "repair"]
    assert pd.query_terms("The, of AND in!") == []
    assert pd.query_terms("COVID-19 covid") == ["covid", "19"]


@given(text=st.text(max_size=60))
def test_query_terms_are_clean(text):
    terms = pd.query_terms(text)
    assert len(set(terms)) == len(terms)
    for t in terms:
        assert t == t.lower() and len(t) > 1 and t not in STOPWORDS
        assert all(c.isalnum() for c in t)


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(w in it for w in small)


@pytest.mark.parametrize("position", pd.POSITIONS)
@FAST
@given(docs=documents, i=intensity, s=seed)
def test_term_stuffing_injects_exactly_the_requested_terms(position, docs, i, s):
    terms = stuff_terms(docs)
    out = pd.TermStuffing(intensity=i, position=position).apply(
        docs, np.random.default_rng(s), terms=terms
    )
    for key, text in docs.items():
        n = len(text.split())
        m = 0 if i == 0 else max(1, expected_count(n, i))
        after = out[key].split()
        assert len(after) == n + m
        assert is_subsequence(text.split(), after)
        added = list(after)
        for w in text.split():
            added.remove(w)
        assert all(w in terms[key] for w in added)
        if position == "start":
            assert out[key].endswith(text)
        elif position == "end":
            assert out[key].startswith(text)


def test_term_stuffing_needs_terms():
    docs = {"a": "Cells divide.", "b": "Proteins fold.", "c": "Cells grow."}
    p = pd.TermStuffing(intensity=1.0, position="random")
    assert p.apply(docs, np.random.default_rng(0)) == docs
    out = p.apply(docs, np.random.default_rng(0), terms={"a": ["p53"], "b": []})
    assert out["b"] == docs["b"] and out["c"] == docs["c"]
    assert out["a"].split().count("p53") == 2 and len(out["a"].split()) == 4


def test_term_stuffing_count_rule():
    p = pd.TermStuffing(intensity=0.1)
    assert [p.count(n) for n in (0, 1, 4, 5, 14, 15, 100)] == [1, 1, 1, 1, 1, 2, 10]
    assert pd.TermStuffing(intensity=0.0).count(100) == 0


# ----------------------------------------------------------------------------- real texts


@pytest.fixture(scope="module")
def scifact_docs(scifact_dir) -> dict[str, str]:
    """The first 40 SciFact abstracts, read straight from the file (no full-corpus load)."""
    with open(scifact_dir / "corpus.jsonl", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in itertools.islice(lines, 40)]
    return {r["_id"]: r["text"] for r in rows}


@pytest.mark.parametrize("name", NAMES)
def test_scifact_documents_ids_untouched_and_changed(scifact_docs, name):
    before = copy.deepcopy(scifact_docs)
    out = apply(make(name, 0.3), scifact_docs, np.random.default_rng(5))
    assert scifact_docs == before
    assert list(out) == list(scifact_docs)
    assert out == apply(make(name, 0.3), scifact_docs, np.random.default_rng(5))
    assert sum(out[d] != scifact_docs[d] for d in out) >= 0.9 * len(out)


def test_scifact_stuffing_for_real_queries(scifact, scifact_docs):
    queries = list(scifact.queries("test").to_dict().values())
    terms = {d: pd.query_terms(queries[i % len(queries)]) for i, d in enumerate(scifact_docs)}
    out = pd.TermStuffing(intensity=0.05, position="start").apply(
        scifact_docs, np.random.default_rng(2), terms=terms
    )
    for d, text in scifact_docs.items():
        m = max(1, expected_count(len(text.split()), 0.05))
        added = out[d][: len(out[d]) - len(text)].split()
        assert out[d].endswith(text) and len(added) == m and set(added) <= set(terms[d])
