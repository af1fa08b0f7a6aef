"""ir_measures' names and the measures judged, rbp, rbp-residual and err equal ir_measures.

Every name below is given to rankarena as ir_measures writes it (``AP@100``,
``RBP(rel=1,p=0.5)``...) and compared per query with ir_measures' own value: to 1e-9,
except ERR, whose only ir_measures provider (gdeval) prints five decimals (checked to
5e-6, and to 1e-12 against a transcription of gdeval's ``err``).

The ir_measures providers differ from trec_eval in two conventions, which the references
below undo: their ``msmarco`` (``RR@k``), ``judged`` and ``cwl_eval`` (``RBP``) providers
break score ties by document id ascending (``cwl_eval``: input order), so they get the run
in rankarena's (trec_eval's) order with untied scores; ``judged`` and ``cwl_eval`` count a
negative grade as judged, so they get the qrels without the negative entries (rankarena,
as trec_eval, counts those documents as unjudged).
"""

from __future__ import annotations

import shutil

import ir_measures
import numpy as np
import pytest
from conftest import tfidf_run
from cwl.cwl_eval import RankingMaker
from cwl.ruler.measures.cwl_rbp import RBPCWLMetric
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ir_measures.providers.cwl_eval import IrmQrelHandler

from rankarena import ParameterError, Qrels, Run, evaluate
from rankarena.cli.arguments import metric_names
from rankarena.cli.main import main
from rankarena.data import Results, write_trec_run
from rankarena.evaluate import evaluation_key, parse_metric_name, resolve_metrics

HAVE_PERL = shutil.which("perl") is not None  # ir_measures' ERR runs gdeval.pl

# computed by pytrec_eval inside ir_measures: the run as it is, ties and all
TREC_ALIASES = ["nDCG@10", "nDCG", "AP", "AP@100", "RR", "R@100", "P@10"]
# computed by the msmarco, judged and cwl_eval providers: the run in rankarena's order, untied
OWN_MEASURES = [
    "RR@10",
    "Judged@10",
    "Judged",
    "RBP(rel=1,p=0.8)",
    "RBP(rel=1,p=0.5)",
    "RBP(rel=2,p=0.95)",
]
ERR_MEASURES = ["ERR@10", "ERR@5"]
GDEVAL_DIGITS = 5.0e-6 + 1e-12  # gdeval prints %.5f


def in_rankarena_order(run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The run with scores n, n-1, ..., 1 in rankarena's order (score, then doc id desc)."""
    ordered = Run.from_dict({q: d for q, d in run.items() if d}).to_dict()
    return {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in ordered.items()}


def without_negative(qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    kept = {q: {d: g for d, g in docs.items() if g >= 0} for q, docs in qrels.items()}
    return {q: docs for q, docs in kept.items() if docs}


def irm(measures: list[str], qrels: dict, run: dict) -> dict[str, dict[str, float]]:
    """ir_measures' values per measure (as given) and query, in one pass."""
    parsed = {ir_measures.parse_measure(m): m for m in measures}
    out: dict[str, dict[str, float]] = {m: {} for m in measures}
    for result in ir_measures.iter_calc(list(parsed), qrels, run):
        out[parsed[result.measure]][result.query_id] = result.value
    return out


def ours(run: dict, qrels: dict, names: list[str]) -> dict[str, dict[str, float]]:
    """rankarena's values per name (as given) and query."""
    evaluation = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), names)
    assert len(evaluation.metrics) == len(names)
    return {
        given: dict(zip(evaluation.query_ids, evaluation.per_query[name].tolist(), strict=True))
        for given, name in zip(names, evaluation.metrics, strict=True)
    }


def cwl_residual(qrels: dict, run: dict, p: float) -> dict[str, float]:
    """cwl_eval's RBP residual expected utility (unjudged gain 1), as ir_measures builds its
    rankings (binary gains at rel 1, 1000 ranks)."""
    handler = IrmQrelHandler(1, None, None)
    for q, docs in qrels.items():
        for d, g in docs.items():
            handler.put_value(q, d, max(g, 0))
    out = {}
    for q, docs in run.items():
        if q not in qrels:
            continue
        maker = RankingMaker(q, handler, min_gain=0.0, max_gain=1.0, cost_dict=None, max_n=1000)
        for d in sorted(docs, key=lambda d: -docs[d]):
            maker.add(d, "_")
        metric = RBPCWLMetric(p)
        metric.residuals = True
        metric.measure(maker.get_ranking())
        out[q] = metric.residual_expected_utility
    return out


def gdeval_err(qrels: dict, run: dict, k: int | None, gmax: int = 4) -> dict[str, float]:
    """gdeval.pl's ``err`` transcribed: R = (2^g - 1) / 2^MAX_JUDGMENT, the run in order."""
    out = {}
    for q, docs in run.items():
        if q not in qrels:
            continue
        score, decay = 0.0, 1.0
        for i, d in enumerate(sorted(docs, key=lambda d: -docs[d])[:k]):
            r = (2.0 ** max(qrels[q].get(d, 0), 0) - 1) / 2.0**gmax
            score += r * decay / (i + 1)
            decay *= 1 - r
        out[q] = score
    return out


def assert_close(got: dict[str, float], ref: dict[str, float], tol: float, label: str) -> None:
    missing = set(ref) - set(got)
    assert not missing, (label, missing)
    for q, value in ref.items():
        assert abs(got[q] - value) <= tol, (label, q, got[q], value)


def check_all(run: dict, qrels: dict, *, cuts=(1, 3, 10)) -> None:
    """Every alias and new measure against ir_measures on one run and qrels."""
    untied, judged_qrels = in_rankarena_order(run), without_negative(qrels)
    ps = (0.5, 0.8, 0.95)
    rbp_cut = [f"rbp(p={p})@{k}" for k in cuts for p in ps[:2]]
    residuals = [f"rbp-residual(p={p})" for p in ps]
    errs = ["err", *(f"ERR@{k}" for k in cuts)]
    names = [*TREC_ALIASES, *OWN_MEASURES, *ERR_MEASURES, *rbp_cut, *residuals, *errs]
    names = list(dict.fromkeys(names))  # ERR@10 may be in two lists
    got = ours(run, qrels, names)
    # pytrec_eval can hang on a query judged only negatively: it gets judged_qrels too
    # (it counts a negative grade as unjudged, so dropping them changes no value)
    for name, ref in irm(TREC_ALIASES, judged_qrels, run).items():
        assert_close(got[name], ref, 1e-9, name)
        assert all(got[name][q] == 0 for q in set(got[name]) - set(ref)), name
    for name, ref in irm(OWN_MEASURES, judged_qrels, untied).items():
        assert_close(got[name], ref, 1e-9, name)
        # a query judged only with negative grades is not in judged_qrels: it scores 0
        assert all(got[name][q] == 0 for q in set(got[name]) - set(ref)), name
    if HAVE_PERL:
        for name, ref in irm(ERR_MEASURES, qrels, untied).items():
            assert_close(got[name], ref, GDEVAL_DIGITS, name)
            # gdeval leaves out the queries with no positive grade: they score 0 here
            assert all(got[name][q] == 0 for q in set(got[name]) - set(ref)), name
    # RBP with a cutoff: ir_measures' RBP (no cutoff) of the run cut at k
    for k in cuts:
        cut = {q: dict(list(docs.items())[:k]) for q, docs in untied.items()}
        refs = irm([f"RBP(rel=1,p={p})" for p in ps[:2]], judged_qrels, cut)
        for p in ps[:2]:
            assert_close(got[f"rbp(p={p})@{k}"], refs[f"RBP(rel=1,p={p})"], 1e-9, f"rbp@{k}")
    # the residual, against cwl_eval's; ERR exactly, against gdeval's formula
    for p, name in zip(ps, residuals, strict=True):
        assert_close(got[name], cwl_residual(judged_qrels, untied, p), 1e-9, name)
    for k, name in zip((None, *cuts), errs, strict=True):
        assert_close(got[name], gdeval_err(qrels, untied, k), 1e-12, name)


# --------------------------------------------------------------------------- real run


def test_scifact_tfidf_run_equals_ir_measures(scifact, scifact_tfidf_run):
    check_all(scifact_tfidf_run.to_dict(), scifact.qrels("test").to_dict(), cuts=(1, 10, 100))


def test_climate_fever_graded_run_equals_ir_measures(climate, climate_tfidf_run):
    """A second collection: graded qrels (0, 1, 2) with judged non-relevant sentences."""
    check_all(climate_tfidf_run.to_dict(), climate.qrels("test").to_dict(), cuts=(1, 10, 100))


def test_scifact_run_with_ties_and_graded_qrels_equals_ir_measures(scifact):
    """Rounded scores (many ties) and grades 0..4 drawn per judged document, some -1."""
    run = tfidf_run(scifact.corpus, scifact.queries("test"), k=100, round_to=2).to_dict()
    rng = np.random.default_rng(7)
    qrels = {
        q: {d: int(rng.choice([-1, 0, 1, 2, 3, 4])) for d in list(docs)[:20]}
        for q, docs in list(run.items())[:60]
    }
    check_all(run, qrels)


# ------------------------------------------------------------------- generated runs

docs_ids = st.sampled_from([f"d{i}" for i in range(12)])


@st.composite
def run_and_qrels(draw):
    """Small runs with tied scores over numeric query ids (gdeval needs them), graded qrels
    (0..4, gdeval's scale) with negative grades."""
    queries = draw(st.lists(st.sampled_from(["1", "2", "3", "10", "9"]), min_size=1, unique=True))
    run: dict[str, dict[str, float]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in queries:
        docs = draw(st.lists(docs_ids, min_size=1, max_size=12, unique=True))
        run[q] = {d: draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, -1.0, 3.25])) for d in docs}
        if draw(st.booleans()) or q == queries[0]:
            judged = draw(st.lists(docs_ids, min_size=1, max_size=8, unique=True))
            qrels[q] = {d: draw(st.sampled_from([-1, 0, 1, 2, 3, 4])) for d in judged}
    return run, qrels


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_and_qrels())
def test_generated_runs_equal_ir_measures(data):
    run, qrels = data
    check_all(run, qrels)


# ------------------------------------------------------------------- names and keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ndcg@10", ("ndcg", {"k": 10})),
        ("map", ("map", {})),
        ("recip_rank", ("recip_rank", {})),
        ("nDCG@10", ("ndcg", {"k": 10})),
        ("AP@100", ("map", {"k": 100})),
        ("RR@10", ("mrr", {"k": 10})),
        ("R@100", ("recall", {"k": 100})),
        ("Judged@10", ("judged", {"k": 10})),
        ("RBP(p=0.8)", ("rbp", {"p": 0.8})),
        ("RBP(rel=1, p=0.5)@10", ("rbp", {"rel": 1, "p": 0.5, "k": 10})),
        ("ERR@10", ("err", {"k": 10})),
    ],
)
def test_parse_metric_name(text, expected):
    assert parse_metric_name(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RBP(0.5)", "metric 'RBP(0.5)': parameter '0.5' is not NAME=VALUE"),
        ("RBP(p=0.5", "metric 'RBP(p=0.5': write NAME, NAME@K or NAME(PARAM=VALUE,...)@K"),
        ("RBP(p=)@10", "metric 'RBP(p=)@10': value '' of 'p' is not a number"),
        ("RBP(p=1,p=2)", "metric 'RBP(p=1,p=2)': parameter 'p' given twice"),
        ("rbp(k=3)@3", "metric 'rbp(k=3)@3': give the cutoff once, as @K or k=K"),
        ("RBP(x=1)", "metric 'rbp' has no parameter 'x'; valid parameters: k, p, rel"),
        ("RBP(p=1)", "metric 'rbp': persistence p must be in (0, 1), got 1"),
        ("AP(rel=2)", "metric 'map' has no parameter 'rel'; valid parameters: k"),
        ("err(gmax=0)", "metric 'err': gmax must be an integer >= 1, got 0"),
    ],
)
def test_bad_names_and_parameters_are_one_line(text, message):
    with pytest.raises(ParameterError) as error:
        resolve_metrics([text])
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_grade_above_gmax_is_one_line():
    run, qrels = Run.from_dict({"1": {"a": 1.0}}), Qrels.from_dict({"1": {"a": 5}})
    with pytest.raises(ParameterError, match=r"^metric 'err@10': grade 5 exceeds gmax=4; "):
        evaluate(run, qrels, ["ERR@10"])
    assert evaluate(run, qrels, ["err(gmax=5)@10"]).mean["err(gmax=5)@10"] == pytest.approx(31 / 32)


def test_aliases_store_and_key_under_the_canonical_name(scifact, scifact_tfidf_run):
    qrels = scifact.qrels("test")
    names = ["AP@100", "RBP(p=0.8)", "nDCG@10", "RR", "Judged@10", "ERR@10", "RBP(p=0.5,rel=1)"]
    canonical = ["map@100", "rbp", "ndcg@10", "mrr", "judged@10", "err@10", "rbp(p=0.5,rel=1)"]
    evaluation = evaluate(scifact_tfidf_run, qrels, names)
    assert evaluation.metrics == canonical
    again = evaluate(scifact_tfidf_run, qrels, canonical)
    assert evaluation.keys == again.keys
    for alias, name in [*zip(names, canonical, strict=True), ("ap@100", "map@100")]:
        assert evaluation_key(qrels, alias) == evaluation_key(qrels, name)
    results = evaluation.to_results("tfidf", "scifact", "test").table
    assert results.column("metric").to_pylist() == canonical
    with pytest.raises(ParameterError, match="listed twice: map"):
        resolve_metrics(["AP", "map"])


def test_metric_names_keep_commas_inside_parameters():
    assert metric_names(" nDCG@10, RBP(p=0.8,rel=1)@10,,ERR@5 ") == [
        "nDCG@10",
        "RBP(p=0.8,rel=1)@10",
        "ERR@5",
    ]


def test_cli_eval_takes_ir_measures_names(scifact, scifact_tfidf_run, tmp_path, capsys):
    run_file, store = tmp_path / "tfidf.run", tmp_path / "results.parquet"
    write_trec_run(scifact_tfidf_run, run_file)
    args = ["eval", "--dataset", str(scifact.path), "--run", str(run_file)]
    args += ["--metrics", "nDCG@10,RBP(p=0.5),RBP(rel=1,p=0.9)@10", "--output", str(store)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ndcg@10" in out and "rbp(p=0.5)" in out and "rbp(p=0.9,rel=1)@10" in out
    stored = {r["metric"]: r["value"] for r in Results.from_parquet(store).table.to_pylist()}
    assert list(stored) == ["ndcg@10", "rbp(p=0.5)", "rbp(p=0.9,rel=1)@10"]
    run, qrels = scifact_tfidf_run.to_dict(), scifact.qrels("test").to_dict()
    for name, measure in [("ndcg@10", "nDCG@10"), ("rbp(p=0.5)", "RBP(rel=1,p=0.5)")]:
        ref = irm([measure], qrels, in_rankarena_order(run))[measure]
        assert stored[name] == pytest.approx(sum(ref.values()) / len(ref), abs=1e-12)
