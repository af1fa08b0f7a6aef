"""The evaluation engine equals pytrec_eval (trec_eval) on every query, to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval
from conftest import metric_error, tfidf_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena import JudgedRun, ParameterError, Qrels, Run, evaluate
from rankarena.data import read_trec_qrels, read_trec_run
from rankarena.plugins.metrics.trec_eval import NumRet, SetF

CUTS = (1, 3, 5, 10, 100)
OTHER_LEVELS = (0.25, 0.35, 0.55, 0.05)  # iprec_at_recall beyond trec_eval's 11 levels
# ours -> pytrec_eval's name, for the measures computed on the run cut at k
SET_MEASURES = {
    "num_ret": "num_ret",
    "num_rel_ret": "num_rel_ret",
    "set_p": "set_P",
    "set_recall": "set_recall",
    "set_f": "set_F",
}
ALL_METRICS = [
    *(f"ndcg@{k}" for k in CUTS),
    "ndcg",
    *(f"mrr@{k}" for k in CUTS),
    "mrr",
    *(f"recall@{k}" for k in CUTS),
    "recall",
    *(f"p@{k}" for k in CUTS),
    *(f"map@{k}" for k in CUTS),
    "map",
    *(f"success@{k}" for k in CUTS),
    "r-precision",
    # set-based counts and measures: trec_eval's have no cutoff; @k is trec_eval -M k
    *(f"{m}{c}" for m in SET_MEASURES for c in ("", *(f"@{k}" for k in CUTS))),
    "num_rel",
    "bpref",
    "infap",
    "gm_map",
    *(f"iprec_at_recall_{level / 10:.2f}" for level in range(11)),
    "11pt_avg",
    *(f"iprec_at_recall(level={level})" for level in OTHER_LEVELS),
    SetF(beta=0.5),
    SetF(k=5, beta=0.25),
]
METRIC_NAMES = [getattr(m, "name", m) for m in ALL_METRICS]
# bpref and infAP tell unjudged documents of the pool (negative grades) from judged
# non-relevant ones
JUDGED_ONLY = {"bpref", "infap"}
CUT_TEXT = ",".join(map(str, CUTS))
PYTREC_MEASURES = {
    f"ndcg_cut.{CUT_TEXT}",
    "ndcg",
    "recip_rank",
    f"recall.{CUT_TEXT}",
    "num_rel",
    f"P.{CUT_TEXT}",
    f"map_cut.{CUT_TEXT}",
    "map",
    f"success.{CUT_TEXT}",
    "Rprec",
    *SET_MEASURES.values(),
    "bpref",
    "infAP",
    "gm_map",
    "iprec_at_recall",
    "11pt_avg",
}
CUT_MEASURES = {"recip_rank", *SET_MEASURES.values()}


def pytrec_reference(
    run: dict, qrels: dict, relevance_level: int = 1
) -> dict[str, dict[str, float]]:
    """Per query, our metric names mapped to pytrec_eval's values.

    trec_eval has no cutoff for reciprocal rank: MRR@k is its recip_rank on the run cut at k
    (trec_eval order), as BEIR computes it; so are the set measures with @k (trec_eval -M).
    """
    ev = pytrec_eval.RelevanceEvaluator(qrels, PYTREC_MEASURES, relevance_level=relevance_level)
    full = ev.evaluate(run)
    ordered = Run.from_dict({q: d for q, d in run.items() if d}).to_dict() if run else {}
    cut_ev = pytrec_eval.RelevanceEvaluator(qrels, CUT_MEASURES, relevance_level=relevance_level)
    out: dict[str, dict[str, float]] = {}
    for qid, values in full.items():
        row = {
            "ndcg": values["ndcg"],
            "mrr": values["recip_rank"],
            "map": values["map"],
            "r-precision": values["Rprec"],
            "num_rel": values["num_rel"],
            "bpref": values["bpref"],
            "infap": values["infAP"],
            "gm_map": values["gm_map"],
            "11pt_avg": values["11pt_avg"],
        }
        row.update({ours: values[theirs] for ours, theirs in SET_MEASURES.items()})
        row.update({m: v for m, v in values.items() if m.startswith("iprec_at_recall_")})
        for k in CUTS:
            row[f"ndcg@{k}"] = values[f"ndcg_cut_{k}"]
            row[f"recall@{k}"] = values[f"recall_{k}"]
            row[f"p@{k}"] = values[f"P_{k}"]
            row[f"map@{k}"] = values[f"map_cut_{k}"]
            row[f"success@{k}"] = values[f"success_{k}"]
        out[qid] = row
    for k in CUTS:
        cut = {q: dict(list(docs.items())[:k]) for q, docs in ordered.items()}
        for q in run:
            cut.setdefault(q, {})
        for qid, values in cut_ev.evaluate(cut).items():
            out[qid][f"mrr@{k}"] = values["recip_rank"]
            for ours, theirs in SET_MEASURES.items():
                out[qid][f"{ours}@{k}"] = values[theirs]
        if k == 5:
            cut_f = pytrec_eval.RelevanceEvaluator(
                qrels, {"set_F.0.25"}, relevance_level=relevance_level
            )
            for qid, values in cut_f.evaluate(cut).items():
                out[qid]["set_f(beta=0.25)@5"] = values["set_F"]
    levels = ",".join(map(str, OTHER_LEVELS))
    other = pytrec_eval.RelevanceEvaluator(
        qrels, {f"iprec_at_recall.{levels}"}, relevance_level=relevance_level
    )
    for qid, values in other.evaluate(run).items():
        for level in OTHER_LEVELS:
            out[qid][f"iprec_at_recall(level={level})"] = values[f"iprec_at_recall_{level:.2f}"]
    set_f = pytrec_eval.RelevanceEvaluator(qrels, {"set_F.0.5"}, relevance_level=relevance_level)
    for qid, values in set_f.evaluate(run).items():
        out[qid]["set_f(beta=0.5)"] = values["set_F"]
    # trec_eval's plain "recall" is set-based recall over the whole run
    full_recall = pytrec_eval.RelevanceEvaluator(
        qrels, {"recall.1000000"}, relevance_level=relevance_level
    ).evaluate(run)
    for qid, values in full_recall.items():
        out[qid]["recall"] = values["recall_1000000"]
    # trec_eval -c scores a query missing from the run 0 on every measure; pytrec_eval, given
    # it as an empty ranking, divides 0 by 0 for iprec_at_recall_0.00 (and 11pt_avg): NaN
    for qid, row in out.items():
        if not run.get(qid):
            row.update({m: 0.0 for m, v in row.items() if math.isnan(v)})
    return out


def assert_equal_to_pytrec(
    run: Run,
    qrels: Qrels,
    metrics=ALL_METRICS,
    relevance_level: int = 1,
    run_dict: dict | None = None,
    **options,
) -> int:
    ours = evaluate(run, qrels, metrics, relevance_level=relevance_level, **options)
    ref = pytrec_reference(
        run.to_dict() if run_dict is None else run_dict, qrels.to_dict(), relevance_level
    )
    assert ours.query_ids == sorted(ref), "evaluated query sets differ"
    for name in (getattr(m, "name", m) for m in metrics):
        expected = np.array([ref[q][name] for q in ours.query_ids])
        np.testing.assert_allclose(ours.per_query[name], expected, rtol=0, atol=1e-9, err_msg=name)
        # the run's value as trec_eval's summary line: sums for num_*, GMAP for gm_map
        summary = pytrec_eval.compute_aggregated_measure(name, expected.tolist())
        assert math.isclose(ours.mean[name], summary, rel_tol=1e-12, abs_tol=1e-9), name
    return len(ours.query_ids)


# ----------------------------------------------------------------- real data: SciFact


def test_scifact_tfidf_run_equals_pytrec_eval(scifact, scifact_tfidf_run):
    n = assert_equal_to_pytrec(scifact_tfidf_run, scifact.qrels("test"))
    assert n == 300


@pytest.mark.parametrize("level", [1, 2])
def test_climate_fever_graded_run_equals_pytrec_eval(climate, climate_tfidf_run, level):
    """A second collection: graded qrels (0, 1, 2) with judged non-relevant sentences, at
    both relevance levels; every measure per query and as trec_eval's summary."""
    n = assert_equal_to_pytrec(climate_tfidf_run, climate.qrels("test"), relevance_level=level)
    assert n > 700


def test_climate_fever_trec_set_equals_pytrec_eval(climate, climate_tfidf_run):
    res = evaluate(climate_tfidf_run, climate.qrels("test"), ["trec"])
    measures = {"num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref"}
    measures |= {"recip_rank", "iprec_at_recall", "P.5,10,15,20,30,100,200,500,1000"}
    ref = pytrec_eval.RelevanceEvaluator(climate.qrels("test").to_dict(), measures).evaluate(
        climate_tfidf_run.to_dict()
    )
    theirs = {"r-precision": "Rprec", "mrr": "recip_rank"}
    theirs |= {f"p@{k}": f"P_{k}" for k in (5, 10, 15, 20, 30, 100, 200, 500, 1000)}
    assert res.query_ids == sorted(ref) and len(res.metrics) == 28
    for name in res.metrics:
        values = [ref[q][theirs.get(name, name)] for q in res.query_ids]
        np.testing.assert_allclose(res.per_query[name], values, rtol=0, atol=1e-9)
        summary = pytrec_eval.compute_aggregated_measure(theirs.get(name, name), values)
        assert math.isclose(res.mean[name], summary, rel_tol=1e-12, abs_tol=1e-9), name


def test_scifact_run_with_many_ties_equals_pytrec_eval(scifact):
    run = tfidf_run(scifact.corpus, scifact.queries("test"), k=200, round_to=2)
    scores = run.table.column("score").to_numpy()
    assert len(np.unique(scores)) < 100, "rounding should create many ties"
    assert_equal_to_pytrec(run, scifact.qrels("test"))


def test_scifact_random_runs_with_graded_and_negative_qrels(scifact):
    rng = np.random.default_rng(7)
    doc_ids = np.array(scifact.corpus.ids, dtype=object)
    base = scifact.qrels("test").to_dict()
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for qid, rels in base.items():
        # graded: the real relevant docs get grades 1..3; add judged non-relevant (0) and
        # negative grades (trec_eval: in the pool but unjudged)
        qrels[qid] = {d: int(rng.integers(1, 4)) for d in rels}
        for d in rng.choice(doc_ids, size=6, replace=False):
            qrels[qid].setdefault(d, int(rng.choice([0, 0, -1])))
        retrieved = set(rng.choice(doc_ids, size=150, replace=False))
        retrieved |= {d for d in qrels[qid] if rng.random() < 0.6}
        run[qid] = {d: float(rng.integers(0, 40)) / 4 for d in retrieved}  # many ties
    # queries only in the run, and only in the qrels
    run["only-in-run"] = {doc_ids[0]: 1.0}
    qrels["only-in-qrels"] = {doc_ids[1]: 1}
    qrels["all-zero"] = {doc_ids[2]: 0, doc_ids[3]: 0}
    run["all-zero"] = {doc_ids[2]: 0.5, doc_ids[4]: 0.7}
    n = assert_equal_to_pytrec(Run.from_dict(run), Qrels.from_dict(qrels), run_dict=run)
    assert n == len(base) + 1
    assert_equal_to_pytrec(
        Run.from_dict(run), Qrels.from_dict(qrels), relevance_level=2, run_dict=run
    )


def test_complete_scores_missing_queries_as_zero(scifact, scifact_tfidf_run):
    qrels = scifact.qrels("test")
    run = Run(
        scifact_tfidf_run.table.filter(
            np.isin(
                scifact_tfidf_run.table.column("query_id").to_numpy(zero_copy_only=False),
                qrels.query_ids[:200],
            )
        )
    )
    run_dict = run.to_dict()
    for qid in qrels.query_ids:  # trec_eval -c: a missing query is an empty ranking
        run_dict.setdefault(qid, {})
    n = assert_equal_to_pytrec(run, qrels, run_dict=run_dict, complete=True)
    assert n == 300
    assert evaluate(run, qrels, ["ndcg@10"]).query_ids == qrels.query_ids[:200]


def test_ignore_identical_ids_drops_them_before_ranking():
    qrels = {"q1": {"q1": 1, "d2": 1}, "q2": {"d9": 1}}
    run = {"q1": {"q1": 9.0, "d1": 5.0, "d2": 4.0}, "q2": {"d9": 1.0, "q2": 2.0}}
    stripped = {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}
    assert_equal_to_pytrec(
        Run.from_dict(run), Qrels.from_dict(qrels), run_dict=stripped, ignore_identical_ids=True
    )
    kept = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), ["mrr"])
    assert kept.per_query["mrr"].tolist() == [1.0, 0.5]


# ----------------------------------------------------------------- hypothesis vs pytrec_eval

ids = st.sampled_from([f"d{i}" for i in range(12)])


@st.composite
def run_and_qrels(draw, only_negative_queries: bool = False):
    """A run and qrels with grades -2..3 (negative: in the pool but unjudged). Every judged
    query keeps one grade >= 0 unless ``only_negative_queries``: trec_eval's behaviour on a
    query judged only with negative grades is undefined (see
    test_query_with_only_negative_grades_scores_zero), so pytrec_eval cannot be the
    reference for such qrels."""
    queries = draw(st.lists(st.sampled_from(["a", "b", "c", "q10", "q9"]), min_size=1, unique=True))
    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in queries:
        docs = draw(st.lists(ids, min_size=1, max_size=12, unique=True))
        run[q] = {d: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, 3.25])) for d in docs}
        if draw(st.booleans()) or q == queries[0]:
            judged = draw(st.lists(ids, min_size=1, max_size=8, unique=True))
            qrels[q] = {d: draw(st.sampled_from([-2, -1, -1, 0, 1, 2, 3])) for d in judged}
            if only_negative_queries and draw(st.booleans()):
                qrels[q] = {d: min(g, -1) for d, g in qrels[q].items()}
            elif not only_negative_queries:
                qrels[q][judged[0]] = max(qrels[q][judged[0]], 0)
    if draw(st.booleans()):
        qrels["unretrieved"] = {"d1": 1}
    return run, qrels


def negative_as_zero(qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The qrels with every negative grade made 0 (judged non-relevant)."""
    return {q: {d: max(g, 0) for d, g in docs.items()} for q, docs in qrels.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), st.integers(1, 2))
def test_random_runs_equal_pytrec_eval(data, level):
    run, qrels = data
    assert_equal_to_pytrec(
        Run.from_dict(run), Qrels.from_dict(qrels), relevance_level=level, run_dict=run
    )


# ----------------------------------------------------------------- hand-computed values


def test_hand_computed_graded_example():
    qrels = Qrels.from_dict({"q": {"a": 1, "b": 2, "c": 0, "d": -1}})
    # trec_eval order: e (0.9), then the tie a/b broken by doc id descending: b, a; then d
    run = Run.from_dict({"q": {"a": 0.5, "b": 0.5, "e": 0.9, "d": 0.1}})
    assert run.table.column("doc_id").to_pylist() == ["e", "b", "a", "d"]
    res = evaluate(
        run,
        qrels,
        ["ndcg@2", "ndcg@3", "mrr", "p@2", "recall@2", "map@3", "success@1", "r-precision"],
    )
    idcg2 = 2 + 1 / math.log2(3)
    got = {k: v[0] for k, v in res.per_query.items()}
    assert got["ndcg@2"] == pytest.approx((2 / math.log2(3)) / idcg2, abs=1e-12)
    assert got["ndcg@3"] == pytest.approx((2 / math.log2(3) + 1 / 2) / idcg2, abs=1e-12)
    assert got["mrr"] == 0.5
    assert got["p@2"] == 0.5
    assert got["recall@2"] == 0.5
    assert got["map@3"] == pytest.approx((1 / 2 + 2 / 3) / 2, abs=1e-12)
    assert got["success@1"] == 0.0
    assert got["r-precision"] == 0.5


def test_query_with_only_negative_grades_scores_zero():
    # trec_eval's form_res_rels.c sizes its grade table from the query's largest grade, here
    # -1: a table of 0 entries, and the query's number of grade levels is never set (the
    # previous query's is used). pytrec_eval 0.5.11 returns 0 everywhere on a small input
    # like this one, but crashes (SIGSEGV) on some batches of such queries, so it cannot be
    # the reference: nothing is relevant, the query is evaluated (it is in the qrels), and
    # every measure is 0, as for a query judged only non-relevant (grade 0)
    qrels = Qrels.from_dict({"q": {"a": -1, "b": -1}, "r": {"a": 1}})
    run = Run.from_dict({"q": {"a": 1.0, "c": 0.5}, "r": {"a": 1.0}})
    res = evaluate(run, qrels, ["ndcg@10", "mrr", "map", "recall@10", "p@1", "r-precision"])
    assert res.query_ids == ["q", "r"]
    for name, values in res.per_query.items():
        assert values[0] == 0.0, name
    assert res.per_query["p@1"][1] == 1.0


# ----------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None)
@given(run_and_qrels(), st.floats(0.1, 100), st.randoms(use_true_random=False))
def test_metrics_bounded_and_invariant_to_row_order_and_score_scale(data, scale, rnd):
    run, qrels = data
    metrics = ["ndcg@5", "mrr@10", "recall@3", "recall@10", "map", "p@5", "r-precision"]
    base = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), metrics)
    rows = [(q, d, s) for q, docs in run.items() for d, s in docs.items()]
    rnd.shuffle(rows)
    shuffled = Run.from_arrays(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] * scale for r in rows]
    )
    again = evaluate(shuffled, Qrels.from_dict(qrels), metrics)
    for name in metrics:
        values = base.per_query[name]
        assert np.all((values >= 0) & (values <= 1 + 1e-12)), name
        np.testing.assert_allclose(again.per_query[name], values, atol=1e-12)
    assert np.all(base.per_query["recall@3"] <= base.per_query["recall@10"] + 1e-12)


# ----------------------------------------------------------------- negative grades (-1)
# trec_eval: "-1 for rel in qrels file interpreted as pool doc not judged" (8.1 changelog);
# form_res_rels.c gives any negative grade RELVALUE_UNJUDGED: neither relevant nor judged.


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(), st.integers(1, 2))
def test_negative_grades_are_unjudged_for_every_measure(data, level):
    """On qrels where pytrec_eval is defined, negative grades score as pytrec_eval scores
    them, which for every built-in measure but bpref and infAP equals pytrec_eval on the
    grades made 0 (those two tell pooled unjudged documents from judged non-relevant ones)."""
    run, qrels = data
    ours = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), ALL_METRICS, relevance_level=level)
    as_given = pytrec_reference(run, qrels, level)
    as_zero = pytrec_reference(run, negative_as_zero(qrels), level)

    def drop(ref):
        return {q: {m: v for m, v in r.items() if m not in JUDGED_ONLY} for q, r in ref.items()}

    assert drop(as_given) == drop(as_zero)
    for name in METRIC_NAMES:
        expected = [as_given[q][name] for q in ours.query_ids]
        np.testing.assert_allclose(ours.per_query[name], expected, rtol=0, atol=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels(only_negative_queries=True), st.integers(1, 2))
def test_queries_judged_only_negative_are_evaluated_and_score_zero(data, level):
    """A query whose judgements are all negative is evaluated (it is in the qrels) and
    scores as pytrec_eval scores the query judged non-relevant (grades made 0): 0 (gm_map:
    ln 10⁻⁵, its value for AP = 0; counts: what was retrieved)."""
    run, qrels = data
    ours = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), ALL_METRICS, relevance_level=level)
    only_negative = {q for q, docs in qrels.items() if all(g < 0 for g in docs.values())}
    ref_qrels = {
        q: negative_as_zero({q: d})[q] if q in only_negative else d for q, d in qrels.items()
    }
    ref = pytrec_reference(run, ref_qrels, level)
    assert ours.query_ids == sorted(ref)
    for name in METRIC_NAMES:
        expected = [ref[q][name] for q in ours.query_ids]
        np.testing.assert_allclose(ours.per_query[name], expected, rtol=0, atol=1e-9)
    zero = [n for n in METRIC_NAMES if n != "gm_map" and not n.startswith("num_ret")]
    for i, q in enumerate(ours.query_ids):
        if q in only_negative:
            assert all(ours.per_query[name][i] == 0 for name in zero), q
            assert ours.per_query["gm_map"][i] == pytest.approx(math.log(1e-5))


def test_judged_run_treats_negative_grades_as_unjudged():
    qrels = Qrels.from_dict({"q": {"a": 2, "b": 0, "c": -1, "d": -2, "e": 1}})
    run = Run.from_dict({"q": {"a": 5.0, "b": 4.0, "c": 3.0, "d": 2.0, "x": 1.0}})
    judged = JudgedRun(run, qrels)
    assert run.table.column("doc_id").to_pylist() == ["a", "b", "c", "d", "x"]
    assert judged.grade.tolist() == [2.0, 0.0, 0.0, 0.0, 0.0]
    assert judged.judged.tolist() == [True, True, False, False, False]
    assert judged.pooled.tolist() == [True, True, True, True, False]
    assert judged.num_judged.tolist() == [3]
    assert judged.relevant.tolist() == [True, False, False, False, False]
    assert judged.num_relevant.tolist() == [2]
    assert judged.ideal_grade.tolist() == [2.0, 1.0]


def test_trec_files_with_comments_trailing_fields_and_negative_grades(scifact, tmp_path):
    """End to end through the TREC readers: files in trec_eval's wider format (comments,
    fields after the run tag, tabs, -1 grades) score as pytrec_eval on the same content."""
    rng = np.random.default_rng(11)
    doc_ids = np.array(scifact.corpus.ids, dtype=object)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for qid, rels in scifact.qrels("test").to_dict().items():
        qrels[qid] = {d: int(rng.integers(1, 3)) for d in rels}
        for d in rng.choice(doc_ids, size=8, replace=False):
            qrels[qid].setdefault(d, int(rng.choice([0, -1, -1])))
        retrieved = set(rng.choice(doc_ids, size=60, replace=False)) | set(qrels[qid])
        run[qid] = {d: float(rng.integers(0, 20)) / 4 for d in retrieved}
    qrels_lines = ["# qrels: -1 = in the pool, not judged"]
    for qid, docs in qrels.items():
        qrels_lines += [f"{qid}\t0\t{d}\t{g}" for d, g in docs.items()] + ["  # next query"]
    run_lines = ["# run with remarks after the tag"]
    for qid, docs in run.items():
        for rank, (d, s) in enumerate(docs.items(), start=1):
            run_lines.append(f"{qid} Q0 {d} {rank} {s!r} tag" + (" extra 1" if rank % 3 else ""))
    qrels_path, run_path = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels_path.write_text("\n".join(qrels_lines) + "\n")
    run_path.write_text("\n".join(run_lines) + "\n")
    read_qrels, read_run = read_trec_qrels(qrels_path), read_trec_run(run_path)
    assert read_qrels.to_dict() == qrels
    assert read_run.to_dict() == run
    assert assert_equal_to_pytrec(read_run, read_qrels, run_dict=run) == 300


# ----------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (lambda: SetF(beta=0), "metric 'set_f': beta must be a positive number, got 0"),
        (lambda: SetF(beta="x"), "metric 'set_f': beta must be a positive number, got 'x'"),
        (lambda: SetF(beta=math.inf), "metric 'set_f': beta must be finite, got inf"),
        ("iprec_at_recall", "level"),
        ("bpref@10", "k"),
        ("num_rel@5", "k"),
    ],
)
def test_invalid_parameters_are_one_line_errors(metric, message):
    assert message in metric_error(metric)


def test_named_metrics_of_the_new_measures():
    qrels = Qrels.from_dict({"q": {"a": 1, "b": 2, "c": 0, "d": -1, "z": 3}})
    run = Run.from_dict({"q": {"a": 0.5, "b": 0.5, "e": 0.9, "d": 0.1, "c": 0.3}})
    names = ["iprec_at_recall_0.10", "11pt", "gmap", "set_f@2", "num_ret@2"]
    res = evaluate(run, qrels, [*names, SetF(beta=2)])
    # aliases print as the registered name
    assert res.metrics == [
        "iprec_at_recall_0.10",
        "11pt_avg",
        "gm_map",
        *names[3:],
        "set_f(beta=2.0)",
    ]
    assert res.per_query["num_ret@2"][0] == 2.0
    # the run's gm_map is GMAP, exp of the mean of the per-query ln AP (one query here)
    assert res.per_query["gm_map"][0] == pytest.approx(math.log((1 / 2 + 2 / 3) / 3))
    assert res.mean["gm_map"] == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert res.mean["num_ret@2"] == 2.0 and res.summaries["num_ret@2"] == "sum"


def test_summaries_are_trec_eval_summary_lines():
    """num_* sum over queries, gm_map is exp of the mean of the logs, the rest are means
    (pytrec_eval.compute_aggregated_measure, which follows trec_eval)."""
    qrels = Qrels.from_dict({"q1": {"a": 1, "b": 1}, "q2": {"c": 1}, "q3": {"d": 1}})
    run = Run.from_dict(
        {"q1": {"a": 3.0, "x": 2.0, "b": 1.0}, "q2": {"y": 2.0, "c": 1.0}, "q3": {"z": 1.0}}
    )
    res = evaluate(run, qrels, ["num_ret", "num_rel", "num_rel_ret", "gm_map", "map"])
    assert res.mean["num_ret"] == 6 and res.mean["num_rel"] == 4 and res.mean["num_rel_ret"] == 3
    aps = [(1 + 2 / 3) / 2, 1 / 2, 0.0]
    assert res.mean["map"] == pytest.approx(sum(aps) / 3)
    gmap = math.exp(sum(math.log(max(ap, 1e-5)) for ap in aps) / 3)
    assert res.mean["gm_map"] == pytest.approx(gmap, rel=1e-12)
    stored = res.to_results("s", "d", "test").table.to_pydict()
    assert dict(zip(stored["metric"], stored["value"], strict=True))["num_ret"] == 6


def test_evaluation_key_of_a_metric_set_is_an_error():
    from rankarena.evaluate.engine import evaluation_key

    qrels = Qrels.from_dict({"q": {"a": 1}})
    with pytest.raises(ParameterError, match="takes one metric; 'trec' is a set of 28"):
        evaluation_key(qrels, "trec")


def test_summary_rule_is_part_of_the_evaluation_key():
    """A metric whose run value is a sum never shares a stored value's key with a mean."""
    from rankarena.evaluate.engine import evaluation_key

    class MeanRet(NumRet):
        summary = "mean"

    qrels = Qrels.from_dict({"q": {"a": 1}})
    assert evaluation_key(qrels, NumRet()) != evaluation_key(qrels, MeanRet())

    class Odd(NumRet):
        summary = "median"

    with pytest.raises(ParameterError, match="summary 'median' is not one of mean, sum"):
        evaluate(Run.from_dict({"q": {"a": 1.0}}), qrels, [Odd()])


def test_trec_metric_set_is_trec_eval_official_output(scifact, scifact_tfidf_run):
    """--metrics trec: trec_eval's default measures, in its order, each equal to pytrec_eval
    per query and as its summary line."""
    res = evaluate(scifact_tfidf_run, scifact.qrels("test"), ["trec"])
    assert res.metrics[:8] == [
        "num_ret",
        "num_rel",
        "num_rel_ret",
        "map",
        "gm_map",
        "r-precision",
        "bpref",
        "mrr",
    ]
    assert res.metrics[8:19] == [f"iprec_at_recall_{i / 10:.2f}" for i in range(11)]
    assert res.metrics[19:] == [f"p@{k}" for k in (5, 10, 15, 20, 30, 100, 200, 500, 1000)]
    official = {"num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref"}
    official |= {"recip_rank", "iprec_at_recall", "P.5,10,15,20,30,100,200,500,1000"}
    ref = pytrec_eval.RelevanceEvaluator(scifact.qrels("test").to_dict(), official).evaluate(
        scifact_tfidf_run.to_dict()
    )
    theirs = {"r-precision": "Rprec", "mrr": "recip_rank"}
    theirs |= {f"p@{k}": f"P_{k}" for k in (5, 10, 15, 20, 30, 100, 200, 500, 1000)}
    assert res.query_ids == sorted(ref)
    for name in res.metrics:
        measure = theirs.get(name, name)
        values = [ref[q][measure] for q in res.query_ids]
        np.testing.assert_allclose(res.per_query[name], values, rtol=0, atol=1e-9)
        summary = pytrec_eval.compute_aggregated_measure(measure, values)
        assert math.isclose(res.mean[name], summary, rel_tol=1e-12, abs_tol=1e-9), name


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("P_10", "p@10"),
        ("P.10", "p@10"),
        ("ndcg_cut_10", "ndcg@10"),
        ("ndcg_cut.10", "ndcg@10"),
        ("map_cut_100", "map@100"),
        ("recall_100", "recall@100"),
        ("success_1", "success@1"),
        ("Rprec", "r-precision"),
        ("recip_rank", "mrr"),
        ("set_F", "set_f"),
        ("infAP", "infap"),
    ],
)
def test_trec_eval_names_are_accepted(written, stored):
    qrels = Qrels.from_dict({"q": {"a": 1}})
    run = Run.from_dict({"q": {"a": 1.0}})
    assert evaluate(run, qrels, [written]).metrics == [stored]
