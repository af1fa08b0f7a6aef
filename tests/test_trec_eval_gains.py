"""trec_eval's ndcg with custom gains (``ndcg.1=3.5,2=9.0``), Rndcg and Rprec_mult.

pytrec_eval cannot take gain parameters (``ndcg.1=3`` aborts it), so ``ndcg(gains=...)`` is
checked against pytrec_eval's plain ``ndcg``/``ndcg_cut`` on qrels whose grades are remapped
to the gains (non-negative gains; nDCG is scale-invariant, so fractional gains scaled to
integers too), and against ``port_ndcg``/``port_rndcg`` below: plain per-query Python ports
of trec_eval's ``m_ndcg.c`` and ``m_Rndcg.c`` loops, themselves checked against pytrec_eval
with the default gains. Rndcg and Rprec_mult with the default gains are compared with
pytrec_eval per query, to 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval
from conftest import metric_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena import Qrels, Run, evaluate
from rankarena.evaluate.engine import evaluation_key, resolve_metrics
from rankarena.evaluate.metric import parse_metric_name
from rankarena.plugins.metrics.trec_eval import NDCG, RNDCG, RPrecMult

CUTS = (1, 3, 5, 10)
RPREC_MULTS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
OTHER_MULTS = (0.05, 0.25, 0.5, 1.5, 3.0)  # Rprec_mult beyond trec_eval's defaults
RPREC_NAMES = [f"rprec_mult_{m:.2f}" for m in RPREC_MULTS]
OTHER_RPREC_NAMES = [RPrecMult(m).name for m in OTHER_MULTS]

# ----------------------------------------------------------------- ports of trec_eval's C


def res_rels(ranking: list[str], judgements: dict[str, int], relevance_level: int):
    """trec_eval's ``te_form_res_rels`` for one query: the grade of each retrieved
    document (-1: not in the qrels, -2: negative grade, unjudged), the number of judged
    documents at each level 0..max grade, and num_rel."""
    rel_list = []
    for doc in ranking:
        grade = judgements.get(doc)
        rel_list.append(-1 if grade is None else (grade if grade >= 0 else -2))
    judged = [g for g in judgements.values() if g >= 0]
    rel_levels = [0] * (max(judged) + 1)
    for g in judged:
        rel_levels[g] += 1
    num_rel = sum(1 for g in judged if g >= relevance_level)
    return rel_list, rel_levels, num_rel


def setup_gains(rel_levels: list[int], gains: dict[int, float] | None) -> list[list]:
    """trec_eval's ``setup_gains``: [level, num_at_level, gain] per parameter level and per
    level 0..max grade, sorted by increasing gain (exactly, unlike trec_eval's qsort)."""
    table = [[level, 0, float(gain)] for level, gain in (gains or {}).items()]
    for i, count in enumerate(rel_levels):
        for entry in table:
            if entry[0] == i:
                entry[1] = count
                break
        else:
            table.append([i, count, float(i)])
    return sorted(table, key=lambda entry: entry[2])


def get_gain(rel_level: int, table: list[list]) -> float:
    for level, _, gain in table:
        if level == rel_level:
            return gain
    return 0.0


def port_ndcg(ranking, judgements, gains=None, k=None) -> float:
    """m_ndcg.c, line for line; with k, both DCGs stop at rank k (ndcg_cut)."""
    rel_list, rel_levels, _ = res_rels(ranking, judgements, 1)
    table = setup_gains(rel_levels, gains)
    num_ret = len(rel_list) if k is None else min(len(rel_list), k)
    depth = math.inf if k is None else k
    results_dcg = ideal_dcg = 0.0
    cur_level = len(table) - 1
    ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
    num_at_level = 0
    i = 0
    while i < num_ret and ideal_gain > 0.0:
        results_gain = get_gain(rel_list[i], table)
        if results_gain != 0:
            results_dcg += results_gain / math.log2(i + 2)
        num_at_level += 1
        while cur_level >= 0 and num_at_level > table[cur_level][1]:
            num_at_level = 1
            cur_level -= 1
            ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
        if ideal_gain > 0.0 and i < depth:
            ideal_dcg += ideal_gain / math.log2(i + 2)
        i += 1
    while i < num_ret:
        results_gain = get_gain(rel_list[i], table)
        if results_gain != 0:
            results_dcg += results_gain / math.log2(i + 2)
        i += 1
    while ideal_gain > 0.0 and i < depth:
        num_at_level += 1
        while cur_level >= 0 and num_at_level > table[cur_level][1]:
            num_at_level = 1
            cur_level -= 1
            ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
        if ideal_gain > 0.0:
            ideal_dcg += ideal_gain / math.log2(i + 2)
        i += 1
    return results_dcg / ideal_dcg if ideal_dcg > 0.0 else 0.0


def port_rndcg(ranking, judgements, gains=None, relevance_level=1) -> float:
    """m_Rndcg.c, line for line; 0 where trec_eval divides 0 by 0 (no change of a positive
    ideal gain was counted: possible only with custom gains)."""
    rel_list, rel_levels, num_rel = res_rels(ranking, judgements, relevance_level)
    table = setup_gains(rel_levels, gains)
    if num_rel == 0:
        return 0.0
    num_ret = len(rel_list)
    results_dcg = ideal_dcg = total = 0.0
    cur_level = len(table) - 1
    ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
    old_ideal_gain = ideal_gain
    num_changed = 0
    num_at_level = 0
    i = 0
    while i < num_ret and ideal_gain > 0.0:
        results_gain = get_gain(rel_list[i], table)
        num_at_level += 1
        while cur_level >= 0 and num_at_level > table[cur_level][1]:
            num_at_level = 1
            cur_level -= 1
            ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
        if old_ideal_gain != ideal_gain:
            if ideal_dcg > 0.0:
                total += results_dcg / ideal_dcg
                num_changed += 1
            old_ideal_gain = ideal_gain
        if results_gain != 0:
            results_dcg += results_gain / math.log2(i + 2)
        if ideal_gain > 0.0:
            ideal_dcg += ideal_gain / math.log2(i + 2)
        i += 1
    if i < num_ret:
        while i < num_ret:
            results_gain = get_gain(rel_list[i], table)
            if results_gain != 0:
                results_dcg += results_gain / math.log2(i + 2)
            i += 1
        if ideal_dcg > 0.0:
            total += results_dcg / ideal_dcg
            num_changed += 1
    while ideal_gain > 0.0:
        num_at_level += 1
        while cur_level >= 0 and num_at_level > table[cur_level][1]:
            num_at_level = 1
            cur_level -= 1
            ideal_gain = table[cur_level][2] if cur_level >= 0 else 0.0
        if old_ideal_gain != ideal_gain:
            if ideal_dcg > 0.0:
                total += results_dcg / ideal_dcg
                num_changed += 1
            old_ideal_gain = ideal_gain
        if ideal_gain > 0.0:
            ideal_dcg += ideal_gain / math.log2(i + 2)
        i += 1
    return total / num_changed if num_changed else 0.0


def ranked(run: dict[str, dict[str, float]]) -> dict[str, list[str]]:
    """Each query's documents in trec_eval's order (score descending, ties by doc id
    descending), as rankarena's Run orders them."""
    return {q: list(docs) for q, docs in Run.from_dict(run).to_dict().items()}


def remap(qrels: dict[str, dict[str, int]], gains: dict[int, float], scale: int = 1):
    """The qrels with every grade >= 0 replaced by ``scale`` × its gain (an integer)."""
    out = {}
    for q, docs in qrels.items():
        out[q] = {}
        for d, g in docs.items():
            value = scale * gains.get(g, g) if g >= 0 else g
            assert float(value).is_integer()
            out[q][d] = int(value)
    return out


# ----------------------------------------------------------------- strategies

doc_ids = st.sampled_from([f"d{i}" for i in range(12)])


@st.composite
def run_and_qrels(draw):
    """A run with ties and qrels with grades -2..4 (negative: in the pool but unjudged);
    every judged query keeps a grade >= 0 (pytrec_eval is undefined otherwise)."""
    queries = draw(st.lists(st.sampled_from(["a", "b", "c", "q10", "q9"]), min_size=1, unique=True))
    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in queries:
        docs = draw(st.lists(doc_ids, min_size=1, max_size=12, unique=True))
        run[q] = {d: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, 3.25])) for d in docs}
        if draw(st.booleans()) or q == queries[0]:
            judged = draw(st.lists(doc_ids, min_size=1, max_size=10, unique=True))
            qrels[q] = {d: draw(st.sampled_from([-2, -1, 0, 0, 1, 1, 2, 3, 4])) for d in judged}
            qrels[q][judged[0]] = max(qrels[q][judged[0]], 0)
    if draw(st.booleans()):
        qrels["unretrieved"] = {"d1": 1, "d2": 2}
    return run, qrels


any_gains = st.dictionaries(
    st.integers(0, 5),
    st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0, 2.5, 3.0, 7.0, -1.0, -0.5, 9.0, 4.0]),
    max_size=4,
)
integer_gains = st.dictionaries(st.integers(0, 5), st.integers(0, 9), max_size=4)


def evaluated(run, qrels, metrics, relevance_level=1):
    """Our per-query values as {name: {query: value}}."""
    res = evaluate(
        Run.from_dict(run), Qrels.from_dict(qrels), metrics, relevance_level=relevance_level
    )
    return {
        name: dict(zip(res.query_ids, values.tolist(), strict=True))
        for name, values in res.per_query.items()
    }, res


def assert_close(got: dict[str, float], expected: dict[str, float], what: str):
    assert sorted(got) == sorted(expected), what
    for q in got:
        assert math.isclose(got[q], expected[q], rel_tol=0, abs_tol=1e-9), (what, q)


def pytrec(qrels, run, measures, relevance_level=1):
    ev = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=relevance_level)
    return ev.evaluate(run)


# ----------------------------------------------------------------- ndcg with gains


def check_ndcg_gains_against_pytrec(run, qrels, gains, scale=1):
    """ndcg(gains)@k on the qrels equals pytrec_eval's ndcg_cut.k on the remapped qrels."""
    metrics = [NDCG(gains=gains), *(NDCG(k, gains=gains) for k in CUTS)]
    got, res = evaluated(run, qrels, metrics)
    mapped = remap(qrels, gains, scale)
    ref = pytrec(mapped, run, {"ndcg", "ndcg_cut." + ",".join(map(str, CUTS))})
    evaluated_queries = set(res.query_ids)
    for metric, measure in zip(metrics, ["ndcg", *(f"ndcg_cut_{k}" for k in CUTS)], strict=True):
        expected = {q: v[measure] for q, v in ref.items() if q in evaluated_queries}
        assert_close(got[metric.name], expected, metric.name)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), integer_gains)
def test_ndcg_integer_gains_equal_pytrec_eval_on_remapped_qrels(data, gains):
    run, qrels = data
    check_ndcg_gains_against_pytrec(run, qrels, gains)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    run_and_qrels(),
    st.dictionaries(st.integers(0, 5), st.sampled_from([0.25, 0.5, 1.25, 2.75, 0.0]), max_size=4),
)
def test_ndcg_fractional_gains_equal_pytrec_eval_scaled(data, gains):
    """nDCG is scale-invariant: gains × 4 (and every default level × 4) are integers."""
    run, qrels = data
    check_ndcg_gains_against_pytrec(run, qrels, gains, scale=4)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), any_gains, st.integers(1, 3))
def test_ndcg_and_rndcg_with_any_gains_equal_the_c_ports(data, gains, level):
    """Negative, zero and fractional gains, against the per-query ports of m_ndcg.c and
    m_Rndcg.c (trec_eval ignores the relevance level in ndcg, not in Rndcg's num_rel)."""
    run, qrels = data
    metrics = [NDCG(gains=gains), *(NDCG(k, gains=gains) for k in CUTS), RNDCG(gains=gains)]
    got, res = evaluated(run, qrels, metrics, relevance_level=level)
    order = ranked(run)
    for metric in metrics:
        if isinstance(metric, RNDCG):
            expected = {
                q: port_rndcg(order.get(q, []), qrels[q], gains, level) for q in res.query_ids
            }
        else:
            expected = {
                q: port_ndcg(order.get(q, []), qrels[q], gains, metric.k) for q in res.query_ids
            }
        assert_close(got[metric.name], expected, metric.name)
        assert all(math.isfinite(v) for v in got[metric.name].values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), st.integers(1, 3))
def test_ports_equal_pytrec_eval_with_default_gains(data, level):
    """The ports are trec_eval: with the default gains they equal pytrec_eval."""
    run, qrels = data
    ref = pytrec(qrels, run, {"ndcg", "Rndcg", "ndcg_cut.3"}, relevance_level=level)
    order = ranked(run)
    for q, values in ref.items():
        ranking = order.get(q, [])
        assert math.isclose(port_ndcg(ranking, qrels[q]), values["ndcg"], abs_tol=1e-12)
        assert math.isclose(port_ndcg(ranking, qrels[q], k=3), values["ndcg_cut_3"], abs_tol=1e-12)
        assert math.isclose(
            port_rndcg(ranking, qrels[q], relevance_level=level), values["Rndcg"], abs_tol=1e-12
        )


def test_ndcg_gains_on_scifact_equal_pytrec_eval_on_remapped_qrels(scifact, scifact_tfidf_run):
    rng = np.random.default_rng(3)
    base = scifact.qrels("test").to_dict()
    # graded: the relevant documents get grades 1..3, plus judged non-relevant documents
    doc_ids = np.array(scifact.corpus.ids, dtype=object)
    qrels = {q: {d: int(rng.integers(1, 4)) for d in rels} for q, rels in base.items()}
    for q in qrels:
        for d in rng.choice(doc_ids, size=5, replace=False):
            qrels[q].setdefault(d, int(rng.choice([0, -1])))
    run = scifact_tfidf_run.to_dict()
    for gains in ({1: 3, 2: 9, 3: 7}, {0: 1, 2: 0}, {3: 1, 1: 5}):
        check_ndcg_gains_against_pytrec(run, qrels, gains)
    check_ndcg_gains_against_pytrec(run, qrels, {1: 0.5, 2: 2.25, 3: 0.75}, scale=4)
    # and the plain binary SciFact qrels
    check_ndcg_gains_against_pytrec(run, base, {1: 2.5, 0: 0.5}, scale=2)


def test_ndcg_gains_hand_computed():
    qrels = {"q": {"a": 1, "b": 2, "c": 0, "d": -1, "z": 3}}
    run = {"q": {"e": 0.9, "b": 0.8, "a": 0.7, "c": 0.6, "d": 0.5}}
    gains = {1: 3.5, 2: -2.0, 0: 0.25}  # level 3 keeps gain 3
    got, _ = evaluated(run, qrels, [NDCG(gains=gains), NDCG(2, gains=gains)])
    disc = [1 / math.log2(i + 2) for i in range(5)]
    dcg = -2.0 * disc[1] + 3.5 * disc[2] + 0.25 * disc[3]
    idcg = 3.5 * disc[0] + 3.0 * disc[1] + 0.25 * disc[2]  # b (-2) stays out
    name = "ndcg(gains={0: 0.25, 1: 3.5, 2: -2.0})"
    assert got[name]["q"] == pytest.approx(dcg / idcg, abs=1e-12)
    assert got[name + "@2"]["q"] == pytest.approx(-2.0 * disc[1] / (3.5 + 3.0 * disc[1]))


def test_gains_closer_than_one_are_sorted_exactly():
    """trec_eval's qsort comparison truncates gain differences to int: 0.5 and 0.75 compare
    equal and may stay in the wrong order. rankarena puts 0.75 first."""
    qrels = {"q": {"a": 1, "b": 2}}
    run = {"q": {"a": 2.0, "b": 1.0}}
    got, _ = evaluated(run, qrels, [NDCG(gains={1: 0.5, 2: 0.75})])
    disc = 1 / math.log2(3)
    expected = (0.5 + 0.75 * disc) / (0.75 + 0.5 * disc)
    assert got["ndcg(gains={1: 0.5, 2: 0.75})"]["q"] == pytest.approx(expected, abs=1e-12)


# ----------------------------------------------------------------- Rndcg vs pytrec_eval


def check_against_pytrec(run, qrels, level=1):
    """rndcg and rprec_mult_* (default and other multiples) equal pytrec_eval per query."""
    mults = ",".join(map(str, OTHER_MULTS))
    measures = {"Rndcg", "Rprec_mult", f"Rprec_mult.{mults}"}
    metrics = ["rndcg", *RPREC_NAMES, *(RPrecMult(m) for m in OTHER_MULTS)]
    got, res = evaluated(run, qrels, metrics, relevance_level=level)
    ref = {**pytrec(qrels, run, measures - {f"Rprec_mult.{mults}"}, level)}
    other = pytrec(qrels, run, {f"Rprec_mult.{mults}"}, level)
    queries = set(res.query_ids)
    assert queries == set(ref)
    theirs = {"rndcg": "Rndcg"} | {
        n: f"Rprec_mult_{m:.2f}" for n, m in zip(RPREC_NAMES, RPREC_MULTS, strict=True)
    }
    for name, measure in theirs.items():
        assert_close(got[name], {q: ref[q][measure] for q in queries}, name)
    for name, mult in zip(OTHER_RPREC_NAMES, OTHER_MULTS, strict=True):
        assert_close(got[name], {q: other[q][f"Rprec_mult_{mult:.2f}"] for q in queries}, name)
    return res


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), st.integers(1, 3))
def test_rndcg_and_rprec_mult_equal_pytrec_eval(data, level):
    run, qrels = data
    check_against_pytrec(run, qrels, level)


def test_rndcg_and_rprec_mult_on_scifact_equal_pytrec_eval(scifact, scifact_tfidf_run):
    qrels = scifact.qrels("test").to_dict()
    res = check_against_pytrec(scifact_tfidf_run.to_dict(), qrels)
    assert len(res.query_ids) == 300
    # graded, with judged non-relevant and negative grades, a short run (rank cut 50)
    rng = np.random.default_rng(5)
    doc_ids = np.array(scifact.corpus.ids, dtype=object)
    graded = {q: {d: int(rng.integers(1, 4)) for d in rels} for q, rels in qrels.items()}
    for q in graded:
        for d in rng.choice(doc_ids, size=6, replace=False):
            graded[q].setdefault(d, int(rng.choice([0, 0, -1])))
    run = {q: dict(list(docs.items())[:50]) for q, docs in scifact_tfidf_run.to_dict().items()}
    for level in (1, 2, 3):
        check_against_pytrec(run, graded, level)


def test_rndcg_hand_computed_levels():
    """5 ideal ranks: gains 3, 3, 2, 1 (+ a 0): R levels at 2, 3, 4; 7 retrieved >= 4 + 2,
    so the whole ranking's nDCG is the fourth term."""
    qrels = {"q": {"a": 3, "b": 3, "c": 2, "d": 1, "e": 0}}
    run = {"q": {"x": 7.0, "c": 6.0, "a": 5.0, "y": 4.0, "d": 3.0, "b": 2.0, "w": 1.0}}
    got, _ = evaluated(run, qrels, ["rndcg"])
    disc = [1 / math.log2(i + 2) for i in range(7)]
    gains = [0, 2, 3, 0, 1, 3, 0]
    ideal = [3, 3, 2, 1]

    def dcg(values, k):
        return sum(v * disc[i] for i, v in enumerate(values[:k]))

    terms = [dcg(gains, c) / dcg(ideal, c) for c in (2, 3, 4)] + [dcg(gains, 7) / dcg(ideal, 4)]
    assert got["rndcg"]["q"] == pytest.approx(sum(terms) / 4, abs=1e-12)
    ref = pytrec(qrels, run, {"Rndcg"})
    assert got["rndcg"]["q"] == pytest.approx(ref["q"]["Rndcg"], abs=1e-12)


def test_rndcg_without_a_positive_gain_is_zero_not_nan():
    """A relevant document whose gain is 0 (or negative): trec_eval counts no change of a
    positive ideal gain and divides 0 by 0; rankarena gives 0, as for no relevant document.
    With the default gains every relevant document has a positive gain."""
    qrels = {"q": {"a": 1, "b": 0}, "r": {"a": 2, "b": 1}}
    run = {"q": {"a": 1.0, "b": 0.5, "c": 0.2}, "r": {"a": 1.0, "b": 0.5}}
    got, _ = evaluated(run, qrels, [RNDCG(gains={1: 0.0}), RNDCG(gains={1: -1.0, 2: -3.0})])
    assert got["rndcg(gains={1: 0.0})"]["q"] == 0.0
    assert got["rndcg(gains={1: 0.0})"]["r"] > 0
    assert got["rndcg(gains={1: -1.0, 2: -3.0})"] == {"q": 0.0, "r": 0.0}
    assert port_rndcg(["a", "b", "c"], qrels["q"], {1: 0.0}) == 0.0


def test_rprec_mult_cutoff_rule():
    """cutoff = ⌊mult · R + 0.9⌋: R = 3 gives 0.2 → 1 (0.6 + 0.9), 0.4 → 2, 1.4 → 5; the
    divisor is the cutoff even beyond the retrieved documents; cutoff 0 scores 0."""
    qrels = {"q": {"a": 1, "b": 1, "c": 1}}
    run = {"q": {"a": 3.0, "x": 2.0, "b": 1.0}}
    got, _ = evaluated(
        run, qrels, ["rprec_mult_0.20", "rprec_mult_0.40", "rprec_mult_1.40", RPrecMult(0.01)]
    )
    assert got["rprec_mult_0.20"]["q"] == 1.0
    assert got["rprec_mult_0.40"]["q"] == 0.5
    assert got["rprec_mult_1.40"]["q"] == pytest.approx(2 / 5)
    assert got["rprec_mult(mult=0.01)"]["q"] == 0.0


# ----------------------------------------------------------------- names and parameters


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ndcg(gains={2: 9.0, 1: 3.5})@10", "ndcg(gains={1: 3.5, 2: 9.0})@10"),
        ("ndcg(gains={1: 3, 4: 7})", "ndcg(gains={1: 3.0, 4: 7.0})"),
        ("ndcg_cut(gains={0: 0.5})@5", "ndcg(gains={0: 0.5})@5"),
        ("ndcg(gains={1: 1.0, 2: 2})@10", "ndcg@10"),  # the default gains
        ("ndcg(gains={})", "ndcg"),
        ("ndcg(gains=None)@3", "ndcg@3"),
        ("ndcg(gains={3: -1.5, 0: 1e-05})", "ndcg(gains={0: 1e-05, 3: -1.5})"),
        ("Rndcg", "rndcg"),
        ("rndcg(gains={2: 0.5})", "rndcg(gains={2: 0.5})"),
        ("Rprec_mult_0.20", "rprec_mult_0.20"),
        ("rprec_mult_2.00", "rprec_mult_2.00"),
        ("rprec_mult(mult=1.2)", "rprec_mult_1.20"),
        ("rprec_mult(mult=1)", "rprec_mult_1.00"),
        ("rprec_mult(mult=0.5)", "rprec_mult(mult=0.5)"),
    ],
)
def test_names_are_canonical_and_parse_back(written, stored):
    qrels = Qrels.from_dict({"q": {"a": 1, "b": 2}})
    run = Run.from_dict({"q": {"a": 1.0, "b": 0.5}})
    res = evaluate(run, qrels, [written])
    assert res.metrics == [stored]
    (again,) = resolve_metrics([stored])
    assert again.name == stored
    name, params = parse_metric_name(stored)
    (built,) = resolve_metrics([written])
    assert name == (built.key if "(" in stored or "@" in stored else stored)
    if "gains" in params:
        assert params["gains"] == built.gains
    assert evaluation_key(qrels, written) == evaluation_key(qrels, stored)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("ndcg(gains={-1: 2.0})", "metric 'ndcg': gains keys must be relevance levels"),
        ("ndcg(gains={1.5: 2.0})@10", "metric 'ndcg': gains keys must be relevance levels"),
        ("ndcg(gains={True: 2.0})", "metric 'ndcg': gains keys must be relevance levels"),
        ("ndcg(gains={1: 'x'})", "metric 'ndcg': the gain of level 1 must be a number"),
        ("ndcg(gains={1: True})", "metric 'ndcg': the gain of level 1 must be a number"),
        ("ndcg(gains=[1, 2])", "metric 'ndcg': gains must be a dict"),
        ("ndcg(gains=3)", "metric 'ndcg': gains must be a dict"),
        (lambda: NDCG(gains={1: math.inf}), "metric 'ndcg': the gain of level 1 must be finite"),
        (lambda: NDCG(gains={1: math.nan}), "metric 'ndcg': the gain of level 1 must be finite"),
        ("rndcg(gains={1: None})", "metric 'rndcg': the gain of level 1 must be a number"),
        ("rndcg@10", "k"),
        ("rprec_mult", "mult"),
        ("rprec_mult(mult=0)", "metric 'rprec_mult': mult must be a positive number, got 0"),
        ("rprec_mult(mult='x')", "mult"),
        (lambda: RPrecMult(math.inf), "metric 'rprec_mult': mult must be finite, got inf"),
        ("rprec_mult_0.20@10", "k"),
    ],
)
def test_invalid_parameters_are_one_line_errors(metric, message):
    assert message in metric_error(metric)


# ------------------------------------------------------- climate-fever-sentences (graded)


def test_climate_fever_graded_run_equals_pytrec_eval(climate, climate_tfidf_run):
    """rndcg and rprec_mult at both relevance levels, and ndcg with gains, on a second
    collection whose qrels are graded (0, 1, 2) with judged non-relevant sentences."""
    qrels = climate.qrels("test").to_dict()
    run = climate_tfidf_run.to_dict()
    for level in (1, 2):
        res = check_against_pytrec(run, qrels, level)
        assert len(res.query_ids) > 700
    check_ndcg_gains_against_pytrec(run, qrels, {1: 3, 2: 7})
    check_ndcg_gains_against_pytrec(run, qrels, {0: 0.5, 1: 1.5, 2: 2.5}, scale=2)
