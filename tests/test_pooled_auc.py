"""The pooled AUC metric (``auc``) equals scikit-learn's ROC AUC on the paper's pool."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

import rankarena
from rankarena import JudgedRun, Qrels, Run, evaluate
from rankarena.evaluate.run_file import evaluate_run_file


def pooled_reference(run: dict, qrels: dict, n: int, level: int = 1) -> float:
    """Sheikholeslami et al.'s pool (``reference_pool``) into ``roc_auc_score``."""
    return roc_auc_score(*reference_pool(run, qrels, n, level))


def reference_pool(run: dict, qrels: dict, n: int, level: int = 1) -> tuple[list, list]:
    """Sheikholeslami et al.'s pool, written out, as ``(labels, scores)``: per query its
    positives' scores (a positive the run lacks below every score) and its top-n
    non-positives in the run's order (score descending, then document id descending, as
    trec_eval), all queries together."""
    evaluated = [q for q in qrels if q in run and qrels[q]]  # trec_eval: judged and run
    lowest = min(s for q in evaluated for s in run[q].values()) - 1.0
    labels, scores = [], []
    for q in evaluated:
        positives = {d for d, g in qrels[q].items() if g >= level}
        ranked = sorted(run[q], key=lambda d: (run[q][d], d), reverse=True)
        negatives = [d for d in ranked if d not in positives][:n]
        for d in positives:
            labels.append(1)
            scores.append(run[q].get(d, lowest))
        for d in negatives:
            labels.append(0)
            scores.append(run[q][d])
    return labels, scores


@st.composite
def runs_and_qrels(draw):
    n_queries = draw(st.integers(1, 5))
    levels = draw(st.sampled_from([None, 4]))  # 4: few score values, many ties
    run, qrels = {}, {}
    for q in range(n_queries):
        docs = [f"d{i}" for i in range(draw(st.integers(1, 25)))]
        if levels is None:
            values = draw(st.lists(st.floats(-5, 5), min_size=len(docs), max_size=len(docs)))
        else:
            values = draw(st.lists(st.integers(0, levels), min_size=len(docs), max_size=len(docs)))
        run[f"q{q}"] = {d: float(v) for d, v in zip(docs, values, strict=True)}
        judged = draw(st.lists(st.sampled_from([*docs, "unretrieved"]), max_size=8, unique=True))
        qrels[f"q{q}"] = {d: draw(st.integers(0, 2)) for d in judged}
    return run, qrels


@settings(max_examples=150, deadline=None)
@given(data=runs_and_qrels(), n=st.integers(1, 30))
def test_pooled_auc_equals_roc_auc_score(data, n):
    run, qrels = data
    assume(any(qrels.values()))  # qrels without a judgement are an error of their own
    evaluated = [q for q in qrels if q in run and qrels[q]]
    positives = sum(g >= 1 for q in evaluated for g in qrels[q].values())
    negatives = sum(min(n, sum(1 for d in run[q] if qrels[q].get(d, 0) < 1)) for q in evaluated)
    name = f"auc@{n}"
    if not positives or not negatives:  # undefined: an error, never a number
        with pytest.raises(rankarena.ParameterError, match="the pooled AUC is undefined"):
            evaluate(Run.from_dict(run), Qrels.from_dict(qrels), [name])
        return
    evaluation = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), [name])
    want = pooled_reference(run, qrels, n)
    assert evaluation.mean[name] == pytest.approx(want, abs=1e-12)
    per_query = evaluation.per_query[name]
    assert np.all(per_query >= 0) and per_query.sum() == pytest.approx(want, abs=1e-12)


def test_the_default_pool_is_500_and_other_queries_count():
    """``auc`` is ``auc@500``; moving one query's scores changes the pooled AUC, though each
    query's own ranking (and so its nDCG) is the same."""
    rng = np.random.default_rng(0)
    run = {f"q{q}": {f"d{i}": float(rng.normal()) for i in range(700)} for q in range(3)}
    qrels = {f"q{q}": {f"d{i}": 1 for i in rng.choice(700, 5, replace=False)} for q in range(3)}
    evaluation = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), ["auc", "ndcg@10"])
    assert evaluation.metrics == ["auc@500", "ndcg@10"]
    assert evaluation.mean["auc@500"] == pytest.approx(pooled_reference(run, qrels, 500))
    shifted = {
        q: {d: s + (3.0 if q == "q1" else 0.0) for d, s in docs.items()} for q, docs in run.items()
    }
    moved = evaluate(Run.from_dict(shifted), Qrels.from_dict(qrels), ["auc", "ndcg@10"])
    assert moved.mean["ndcg@10"] == evaluation.mean["ndcg@10"]
    assert moved.mean["auc@500"] != pytest.approx(evaluation.mean["auc@500"])
    assert moved.mean["auc@500"] == pytest.approx(pooled_reference(shifted, qrels, 500))


@settings(max_examples=100, deadline=None)
@given(data=runs_and_qrels(), n=st.integers(1, 30))
def test_pooled_roc_curve_equals_sklearn(data, n):
    """``JudgedRun.score_pool``: the paper's pool, each score with its query; its ROC
    (``roc_points``) has scikit-learn's points (one per distinct score), and the curve's
    trapezoidal area is the metric's value."""
    from rankarena.report.figures import roc_points

    run, qrels = data
    assume(any(qrels[q] for q in qrels if q in run))
    labels, scores = reference_pool(run, qrels, n)
    assume(0 < sum(labels) < len(labels))
    judged = JudgedRun(Run.from_dict(run), Qrels.from_dict(qrels))
    pool = judged.score_pool(n)
    positives, negatives = pool.positives, pool.negatives
    fpr, tpr = roc_points(
        np.r_[positives, negatives], np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    )
    want_fpr, want_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, want_tpr, atol=1e-12)
    # each pooled score is marked with its own query
    ids = judged.query_ids.to_pylist()
    for q in ids:
        labels_q, scores_q = reference_pool({q: run[q]}, {q: qrels[q]}, n)
        lowest = min(run[q].values()) - 1.0
        mine_pos = [
            s if s > -np.inf else lowest for s in positives[pool.positive_query == ids.index(q)]
        ]
        mine_neg = negatives[pool.negative_query == ids.index(q)]
        assert sorted(mine_pos) == sorted(s for s, y in zip(scores_q, labels_q, strict=True) if y)
        assert sorted(mine_neg) == sorted(
            s for s, y in zip(scores_q, labels_q, strict=True) if not y
        )
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    value = evaluate(Run.from_dict(run), Qrels.from_dict(qrels), [f"auc@{n}"]).mean
    assert area == pytest.approx(value[f"auc@{n}"], abs=1e-12)


def test_an_undefined_auc_is_an_error():
    run = Run.from_dict({"q1": {"a": 1.0, "b": 0.5}})
    with pytest.raises(rankarena.ParameterError, match=r"'auc@500'.*no positive"):
        evaluate(run, Qrels.from_dict({"q1": {"a": 0}}), ["auc"])
    with pytest.raises(rankarena.ParameterError, match="no non-positive document"):
        evaluate(run, Qrels.from_dict({"q1": {"a": 1, "b": 2}}), ["auc"])


def test_eval_reads_the_run_whole_for_a_pooled_metric(tmp_path):
    """Blocks would pool each block's queries alone: ``eval`` reads the run whole for
    ``auc`` (the same value as in memory), refuses explicit blocks, and says in one line
    when the whole run does not fit the limit."""
    rng = np.random.default_rng(1)
    lines, run, qrels = [], {}, {}
    for q in range(40):
        run[f"q{q}"] = {f"d{i}": float(rng.normal()) for i in range(50)}
        qrels[f"q{q}"] = {f"d{i}": 1 for i in rng.choice(50, 3, replace=False)}
        ranked = sorted(run[f"q{q}"].items(), key=lambda item: -item[1])
        lines += [f"q{q} Q0 {d} {r + 1} {s!r} sys" for r, (d, s) in enumerate(ranked)]
    path = tmp_path / "run.trec"
    path.write_text("\n".join(lines) + "\n")
    qrels = Qrels.from_dict(qrels)
    metrics = ["auc@20", "ndcg@10"]
    whole = evaluate(Run.from_dict(run), qrels, metrics)
    from_file = evaluate_run_file(path, qrels, metrics)
    assert from_file.mean == pytest.approx(whole.mean)
    with pytest.raises(rankarena.ParameterError, match=r"'auc@20' pools every query.*blocks"):
        evaluate_run_file(path, qrels, metrics, block_rows=500)
    with pytest.raises(rankarena.RankarenaError) as caught:
        evaluate_run_file(path, qrels, metrics, max_memory="1K")
    assert "'auc@20'" in str(caught.value) and "\n" not in str(caught.value)
    blocks = evaluate_run_file(path, qrels, ["ndcg@10"], block_rows=500)  # others still may
    assert blocks.mean["ndcg@10"] == pytest.approx(whole.mean["ndcg@10"])
