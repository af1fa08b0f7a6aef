"""``rankarena run`` reuses a result only while everything it depends on is unchanged:
the run (system, corpus, queries), the qrels' content, the metric and its options."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

import rankarena
from rankarena.data import BeirFolder, Results, write_beir
from rankarena.evaluate import evaluate
from rankarena.runs.pipeline import Runner, load_config

CONFIG = """
[run]
name = "stale"
datasets = ["{data}"]
metrics = {metrics}
k = 100
output = "out"

[systems.bm25]
retriever = "bm25"
"""


@pytest.fixture
def small_scifact(tmp_path, scifact_subset):
    """A BEIR folder of 30 SciFact test queries and 300 other documents (editable)."""
    corpus, queries, qrels = scifact_subset(30, 300, split="test")
    return write_beir(tmp_path / "small", corpus, queries, {"test": qrels})


def _config(tmp_path, folder, metrics=("ndcg@10",)):
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(data=folder, metrics=list(metrics)).replace("'", '"'))
    return load_config(path)


def _execute(config):
    runner = Runner(config, rankarena.plugin_manager(), log=lambda *a: None)
    results = runner.execute()
    values = {(r["system"], r["metric"]): r["value"] for r in results.table.to_pylist()}
    return runner, values


def test_a_new_metric_is_computed_without_retrieving_again(tmp_path, small_scifact):
    _first, values = _execute(_config(tmp_path, small_scifact))
    assert set(values) == {("bm25", "ndcg@10")}
    second, values = _execute(_config(tmp_path, small_scifact, ("ndcg@10", "recall@100")))
    assert (second.computed, second.reused) == (0, 1)  # the run is reused
    assert set(values) == {("bm25", "ndcg@10"), ("bm25", "recall@100")}
    run = rankarena.Run.from_parquet(
        second.run_dir / f"{second.key('bm25', str(small_scifact))}.parquet"
    )
    folder = BeirFolder(small_scifact)
    expected = evaluate(run, folder.qrels("test"), ["recall@100"]).mean["recall@100"]
    assert values["bm25", "recall@100"] == pytest.approx(expected, abs=1e-12)


def test_edited_qrels_are_picked_up_on_the_next_run(tmp_path, small_scifact):
    _first, before = _execute(_config(tmp_path, small_scifact))
    qrels_file = small_scifact / "qrels" / "test.tsv"
    lines = qrels_file.read_text().splitlines()
    # drop half of the judgements: the same run now scores differently
    qrels_file.write_text("\n".join(lines[: 1 + (len(lines) - 1) // 2]) + "\n")
    folder = BeirFolder(small_scifact)
    second, after = _execute(_config(tmp_path, small_scifact))
    run = rankarena.Run.from_parquet(
        second.run_dir / f"{second.key('bm25', str(small_scifact))}.parquet"
    )
    expected = evaluate(run, folder.qrels("test"), ["ndcg@10"]).mean["ndcg@10"]
    assert after["bm25", "ndcg@10"] == pytest.approx(expected, abs=1e-12)
    assert after["bm25", "ndcg@10"] != pytest.approx(before["bm25", "ndcg@10"])
    # the split's query set shrank, so the run itself was recomputed for the new queries
    assert second.computed == 1
    # both evaluations stay in the store as history; the run shows only the current one
    stored = Results.from_parquet(second.store).table
    assert stored.num_rows == 2 and len(set(stored.column("eval_key").to_pylist())) == 2


def test_same_queries_other_grades_reuse_the_run_and_evaluate_again(tmp_path, small_scifact):
    _first, before = _execute(_config(tmp_path, small_scifact))
    qrels_file = small_scifact / "qrels" / "test.tsv"
    header, *rows = qrels_file.read_text().splitlines()
    rows = [r.rsplit("\t", 1)[0] + "\t2" if i % 2 else r for i, r in enumerate(rows)]
    qrels_file.write_text("\n".join([header, *rows]) + "\n")
    second, after = _execute(_config(tmp_path, small_scifact))
    assert (second.computed, second.reused) == (0, 1)
    folder = BeirFolder(small_scifact)
    run = rankarena.Run.from_parquet(
        second.run_dir / f"{second.key('bm25', str(small_scifact))}.parquet"
    )
    expected = evaluate(run, folder.qrels("test"), ["ndcg@10"]).mean["ndcg@10"]
    assert after["bm25", "ndcg@10"] == pytest.approx(expected, abs=1e-12)
    assert after != before


def test_an_edited_corpus_is_a_new_run(tmp_path, small_scifact):
    _first, _ = _execute(_config(tmp_path, small_scifact))
    corpus_file = small_scifact / "corpus.jsonl"
    lines = corpus_file.read_text().splitlines()
    corpus_file.write_text("\n".join(lines[:-10]) + "\n")  # ten documents fewer
    second, _ = _execute(_config(tmp_path, small_scifact))
    assert (second.computed, second.reused) == (1, 0)
    third, _ = _execute(_config(tmp_path, small_scifact))
    assert (third.computed, third.reused) == (0, 1)


def test_an_unreadable_cached_run_is_computed_again(tmp_path, small_scifact):
    first, before = _execute(_config(tmp_path, small_scifact))
    cached = first.run_dir / f"{first.key('bm25', str(small_scifact))}.parquet"
    cached.write_bytes(cached.read_bytes()[:100])  # truncated
    shutil.rmtree(first.config.output / "results.parquet")
    with pytest.warns(UserWarning, match="discarding the cached run"):
        second, after = _execute(_config(tmp_path, small_scifact))
    assert second.computed == 1 and after == before


def test_queries_that_retrieve_nothing_are_an_error_not_a_zero(tmp_path, small_scifact, capsys):
    from rankarena.cli.main import main

    folder = BeirFolder(small_scifact)
    queries = folder.queries("test")
    stopwords = pa.table({"_id": queries.ids, "text": ["the of and"] * len(queries.ids)})
    write_beir(
        tmp_path / "stopwords",
        folder.corpus,
        rankarena.Queries(stopwords),
        {"test": folder.qrels("test")},
    )
    path = tmp_path / "stopwords.toml"
    path.write_text(CONFIG.format(data=tmp_path / "stopwords", metrics='["ndcg@10"]'))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rankarena: error: ")
    assert "bm25 on stopwords/test: the run has no rows" in err[0]
    assert not (tmp_path / "out" / "results.parquet").exists()


def test_eval_of_a_run_of_another_split_is_an_error(tmp_path, scifact_dir, capsys):
    from rankarena.cli.main import main

    run = tmp_path / "test.run"
    assert main(["retrieve", "--dataset", str(scifact_dir), "--k", "10", "--output", str(run)]) == 0
    capsys.readouterr()
    code = main(["eval", "--dataset", str(scifact_dir), "--split", "train", "--run", str(run)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"rankarena: error: {scifact_dir / 'qrels' / 'train.tsv'}: ")
    assert "0 of 300 run queries are in the qrels" in err[0]


def test_the_cli_says_a_discarded_cache_entry_in_one_warning_line(tmp_path, small_scifact, capsys):
    from rankarena.cli.main import main

    config = _config(tmp_path, small_scifact)
    first, _ = _execute(config)
    cached = first.run_dir / f"{first.key('bm25', str(small_scifact))}.parquet"
    cached.write_bytes(b"PAR1 not really")
    shutil.rmtree(first.config.output / "results.parquet")
    assert main(["run", str(tmp_path / "run.toml")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(f"rankarena: warning: {cached}: ")
    assert err[0].endswith("discarding the cached run and computing it again")


def test_a_full_disk_during_run_is_one_line_and_keeps_the_store(
    tmp_path, small_scifact, capsys, monkeypatch
):
    from test_cli_errors import full_disk_parquet, one_error

    from rankarena.cli.main import main

    _execute(_config(tmp_path, small_scifact))  # a store and a cached run exist
    store = tmp_path / "out" / "results.parquet"
    before = {part.name: part.read_bytes() for part in store.iterdir()}
    _config(tmp_path, small_scifact, ("ndcg@10", "recall@100"))  # more to write
    text = (tmp_path / "run.toml").read_text()
    (tmp_path / "run.toml").write_text(
        text + '\n[systems.robertson]\nretriever = "bm25"\nparams = { method = "robertson" }\n'
    )
    full_disk_parquet(monkeypatch)
    assert main(["run", str(tmp_path / "run.toml")]) == 2
    line = one_error(capsys)
    assert line.startswith("cannot write ") and line.endswith(": No space left on device")
    assert str(tmp_path / "out") in line
    assert {
        part.name: part.read_bytes() for part in store.iterdir()
    } == before  # the store is intact
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]


def test_header_only_qrels_are_an_error_not_a_zero(tmp_path, small_scifact, capsys):
    from rankarena.cli.main import main

    run = tmp_path / "t.run"
    assert (
        main(["retrieve", "--dataset", str(small_scifact), "--k", "10", "--output", str(run)]) == 0
    )
    (small_scifact / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    capsys.readouterr()
    assert main(["eval", "--dataset", str(small_scifact), "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rankarena: error: ")
    assert "test.tsv" in err
