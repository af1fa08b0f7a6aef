"""Smoke tests of the installed plugin: run ``pytest`` in this folder after
``pip install -e .`` (or ``pip install .``).

The first test reads the entry points as ``rankarena`` does, so it fails when the package
is importable but not installed: that is the point of it.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

import rankarena
import rankarena.api.datasets
import rankarena_example

RUN = {
    "q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0, "d4": 0.5},
    "q2": {"d5": 0.9, "d6": 0.8, "d7": 0.7},
    "q3": {"d8": 1.0, "d9": 1.0},  # a tie: trec_eval puts the larger doc id first (d9)
}
QRELS = {
    "q1": {"d1": 1, "d3": 2, "d4": 0},
    "q2": {"d7": 1, "d99": 1},  # d99 is never retrieved
    "q3": {"d9": 1},
    "q4": {"d1": 1},  # not in the run: not evaluated (trec_eval without -c)
}


def naive_rbp(run, qrels, p, k=None):
    """RBP per query by the formula, one query and one rank at a time."""
    out = {}
    for qid in sorted(set(run) & set(qrels)):
        ranked = sorted(run[qid].items(), key=lambda item: (item[1], item[0]), reverse=True)
        if k is not None:
            ranked = ranked[:k]
        total = 0.0
        for i, (doc, _score) in enumerate(ranked, start=1):
            if qrels[qid].get(doc, 0) >= 1:
                total += p ** (i - 1)
        out[qid] = (1 - p) * total
    return out


def naive_residual(run, qrels, p, k=None):
    """RBP's residual per query by the formula: the unjudged documents within the cutoff and
    every rank below it (from depth min(k, retrieved) on) counted as relevant."""
    out = {}
    for qid in sorted(set(run) & set(qrels)):
        ranked = sorted(run[qid].items(), key=lambda item: (item[1], item[0]), reverse=True)
        if k is not None:
            ranked = ranked[:k]
        total = 0.0
        for i, (doc, _score) in enumerate(ranked, start=1):
            if doc not in qrels[qid]:
                total += p ** (i - 1)
        out[qid] = (1 - p) * total + p ** len(ranked)
    return out


def test_plugin_is_installed():
    host = rankarena.plugin_manager(reload=True)
    infos = {info.name: info for info in host.plugin_infos()}
    assert "example" in infos, sorted(infos)
    info = infos["example"]
    assert (info.distribution, info.version) == ("rankarena-example", rankarena_example.__version__)
    assert info.hooks == (
        "register_aggregators",
        "register_commands",
        "register_datasets",
        "register_metrics",
    )
    assert host.metrics.get("rbp-example").plugin == "example"
    assert host.aggregators.get("geometric-mean").plugin == "example"
    assert host.failures == []


@pytest.mark.parametrize(("k", "p"), [(None, 0.8), (2, 0.8), (3, 0.5), (1, 0.95)])
def test_rbp_equals_the_formula(k, p):
    run, qrels = rankarena.Run.from_dict(RUN), rankarena.Qrels.from_dict(QRELS)
    metric = rankarena.plugin_manager().metrics.create("rbp-example", k=k, p=p)
    evaluation = rankarena.evaluate(run, qrels, [metric])
    expected = naive_rbp(RUN, QRELS, p, k)
    assert evaluation.query_ids == sorted(expected)
    got = evaluation.per_query[metric.name]
    np.testing.assert_allclose(got, [expected[q] for q in evaluation.query_ids], rtol=1e-12)
    # hand check of one value: q1 has relevant documents at ranks 1 and 3
    if k is None and p == 0.8:
        assert got[0] == pytest.approx(0.2 * (1 + 0.8**2))


@pytest.mark.parametrize(("k", "p"), [(None, 0.8), (2, 0.8), (3, 0.5), (10, 0.95)])
def test_rbp_residual_equals_the_formula(k, p):
    run, qrels = rankarena.Run.from_dict(RUN), rankarena.Qrels.from_dict(QRELS)
    residual = rankarena_example.RankBiasedPrecisionResidual(k, p)
    evaluation = rankarena.evaluate(run, qrels, [residual])
    expected = naive_residual(RUN, QRELS, p, k)
    got = evaluation.per_query[residual.name]
    np.testing.assert_allclose(got, [expected[q] for q in evaluation.query_ids], rtol=1e-12)
    # hand check: q1 is judged at ranks 1, 3 and 4 (d4 not relevant), d2 at rank 2 is not
    if k == 2 and p == 0.8:
        assert got[0] == pytest.approx(0.2 * 0.8 + 0.8**2)


def test_rbp_by_name():
    run, qrels = rankarena.Run.from_dict(RUN), rankarena.Qrels.from_dict(QRELS)
    evaluation = rankarena.evaluate(run, qrels, ["rbp-example@2", "rbp-example"])
    assert evaluation.metrics == ["rbp-example@2", "rbp-example"]
    expected = naive_rbp(RUN, QRELS, 0.8, 2)
    assert evaluation.mean["rbp-example@2"] == pytest.approx(sum(expected.values()) / len(expected))


@pytest.mark.parametrize("p", [0, 1, 1.5, -0.1, math.nan, True])
def test_rbp_rejects_bad_persistence(p):
    with pytest.raises(rankarena.ParameterError):
        rankarena.plugin_manager().metrics.create("rbp-example", p=p)


def test_geometric_mean_by_hand():
    table = rankarena.ScoreTable(
        systems=("a", "b", "c", "d"),
        tasks=("t1", "t2"),
        scores=np.array([[0.25, 1.0], [0.4, 0.4], [0.6, math.nan], [0.9, 0.0]]),
    )
    geometric_mean = rankarena.plugin_manager().aggregators.create("geometric-mean")
    ranking = geometric_mean.aggregate(table)
    # a: sqrt(0.25 * 1) = 0.5; b: 0.4; d: sqrt(0.9 * 1e-9), the zero sinks it;
    # c covers half of the tasks (min_coverage is 1): NaN, ranked last
    assert ranking.method == "geometric-mean"
    assert ranking.scores[[0, 1, 3]] == pytest.approx([0.5, 0.4, math.sqrt(0.9e-9)], rel=1e-6)
    assert math.isnan(ranking.scores[2])
    assert ranking.ranks.tolist() == [1, 2, 4, 3]
    assert list(ranking.extras["coverage"]) == [1.0, 1.0, 0.5, 1.0]

    lenient = rankarena.plugin_manager().aggregators.create("geometric-mean", min_coverage=0.5)
    assert lenient.aggregate(table).ranks.tolist() == [2, 3, 1, 4]  # c: 0.6 on its one task


def test_geometric_mean_rejects_negative_scores():
    table = rankarena.ScoreTable(("a",), ("t1", "t2"), np.array([[0.5, -0.1]]))
    aggregator = rankarena.plugin_manager().aggregators.create("geometric-mean")
    with pytest.raises(rankarena.DataFormatError, match="scores >= 0"):
        aggregator.aggregate(table)


def test_registered_without_entry_points():
    """A test can also register the module (or any object with hookimpls) by hand."""
    host = rankarena.PluginHost(entry_points=False)
    host.register(rankarena_example, name="example-by-hand")
    assert host.metrics.get("rbp-example").plugin == "example-by-hand"


def write_beir_folder(folder, queries, qrels):
    """A BEIR folder: one document per id in ``qrels`` and ``RUN``, the queries, test qrels."""
    folder.mkdir()
    docs = sorted(
        {d for ranked in RUN.values() for d in ranked} | {d for q in qrels.values() for d in q}
    )
    with open(folder / "corpus.jsonl", "w") as out:
        for doc in docs:
            out.write(json.dumps({"_id": doc, "title": "", "text": f"document {doc}"}) + "\n")
    with open(folder / "queries.jsonl", "w") as out:
        for qid in queries:
            out.write(json.dumps({"_id": qid, "text": f"query {qid}"}) + "\n")
    (folder / "qrels").mkdir()
    with open(folder / "qrels" / "test.tsv", "w") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for qid, judged in qrels.items():
            for doc, grade in judged.items():
                out.write(f"{qid}\t{doc}\t{grade}\n")
    return folder


@pytest.mark.parametrize(
    ("options", "k", "p", "name"),
    [
        ([], None, 0.8, "rbp-example"),
        (["--depth", "2", "--persistence", "0.5"], 2, 0.5, "rbp-example(p=0.5)@2"),
    ],
)
def test_rbp_verb(tmp_path, capsys, options, k, p, name):
    """The verb's hook, called with plain argparse subparsers as ``rankarena`` calls it."""
    dataset = write_beir_folder(tmp_path / "tiny", sorted(QRELS), QRELS)
    run_file = tmp_path / "tiny.run"
    with open(run_file, "w") as out:
        for qid, ranked in RUN.items():
            for rank, (doc, score) in enumerate(ranked.items(), start=1):
                out.write(f"{qid} Q0 {doc} {rank} {score} test\n")
    parser = argparse.ArgumentParser()
    rankarena_example.register_commands(parser.add_subparsers())
    args = parser.parse_args(["rbp", "--dataset", str(dataset), "--run", str(run_file), *options])
    assert args.handler(args) == 0
    base, residual = naive_rbp(RUN, QRELS, p, k), naive_residual(RUN, QRELS, p, k)
    mean_base = sum(base.values()) / len(base)
    mean_residual = sum(residual.values()) / len(residual)
    assert capsys.readouterr().out == (
        f"{name} on tiny/test (3 queries): {mean_base:.4f}, residual {mean_residual:.4f}\n"
    )


def test_rbp_verb_says_a_bad_run_line(tmp_path):
    dataset = write_beir_folder(tmp_path / "tiny", sorted(QRELS), QRELS)
    run_file = tmp_path / "bad.run"
    run_file.write_text("q1 Q0 d1 1 3.0 test\nq1 Q0 d2 2 high test\n")
    parser = argparse.ArgumentParser()
    rankarena_example.register_commands(parser.add_subparsers())
    args = parser.parse_args(["rbp", "--dataset", str(dataset), "--run", str(run_file)])
    with pytest.raises(rankarena.DataFormatError, match=r"bad.run:2: score 'high' is not a number"):
        args.handler(args)


def test_tsv_folder_is_a_dataset(tmp_path):
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "collection.tsv").write_text("d1\tCats\tcats purr\nd2\tdogs bark\n")
    (folder / "queries.tsv").write_text("q1\tdo cats purr\nq2\tunjudged\n")
    (folder / "qrels" / "test.txt").write_text("q1 0 d1 1\nq1 0 d2 0\n")
    host = rankarena.plugin_manager(reload=True)
    dataset = rankarena.api.datasets.open_dataset(host, f"tsv:{folder}")
    assert (dataset.name, dataset.splits) == ("tiny", ["test"])
    assert dataset.corpus.ids == ["d1", "d2"]
    assert dataset.corpus.texts() == ["Cats cats purr", "dogs bark"]
    assert dataset.queries("test").to_dict() == {"q1": "do cats purr"}
    assert dataset.qrels("test").to_dict() == {"q1": {"d1": 1, "d2": 0}}
    before = dataset.fingerprint("test")
    with open(folder / "queries.tsv", "a") as out:
        out.write("q3\tedited\n")
    assert dataset.fingerprint("test") != before
