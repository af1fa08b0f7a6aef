"""Qrels without a BEIR folder: ``rankarena.data.read_qrels`` (TREC or BEIR TSV, told apart
by content) and ``rankarena eval --qrels FILE``, checked against ``--dataset`` on SciFact's
test qrels and against pytrec_eval; bad files and bad option combinations are one line."""

from __future__ import annotations

import pytest
import pytrec_eval

import rankarena
from rankarena import Results
from rankarena.cli.main import main
from rankarena.data import (
    Qrels,
    read_qrels,
    read_qrels_tsv,
    read_trec_qrels,
    read_trec_run,
    write_trec_qrels,
    write_trec_run,
)
from rankarena.errors import DataFormatError

METRICS = "ndcg@10,recall@100,map@100,p@10,mrr@10"
PYTREC = {
    "ndcg@10": "ndcg_cut_10",
    "recall@100": "recall_100",
    "map@100": "map_cut_100",
    "p@10": "P_10",
}


@pytest.fixture(scope="module")
def run_file(tmp_path_factory, scifact_tfidf_run):
    path = tmp_path_factory.mktemp("runs") / "tfidf.run"
    write_trec_run(scifact_tfidf_run, path)
    return path


@pytest.fixture(scope="module")
def tsv_qrels(scifact_dir):
    """SciFact's own BEIR qrels TSV (with its ``query-id corpus-id score`` header)."""
    return scifact_dir / "qrels" / "test.tsv"


@pytest.fixture(scope="module")
def trec_qrels(tmp_path_factory, scifact):
    """SciFact's test qrels converted to a TREC qrels file."""
    path = tmp_path_factory.mktemp("qrels") / "scifact-test.qrels"
    write_trec_qrels(scifact.qrels("test"), path)
    return path


def sorted_rows(qrels: Qrels) -> list[tuple]:
    cols = [qrels.table.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")]
    return sorted(zip(*cols, strict=True))


def stored_values(store) -> dict[tuple, float]:
    """``(metric, query_id) → value`` of a results store (query_id None for means)."""
    return {
        (r["metric"], r["query_id"]): r["value"]
        for r in Results.from_parquet(store).table.to_pylist()
    }


def eval_args(run_file, store, *source: str) -> list[str]:
    return [
        "eval",
        *source,
        "--run",
        str(run_file),
        "--metrics",
        METRICS,
        "--per-query",
        "--output",
        str(store),
    ]


# ----------------------------------------------------------------------- the reader


def test_both_formats_read_the_same_judgements(scifact, tsv_qrels, trec_qrels):
    expected = sorted_rows(scifact.qrels("test"))
    assert sorted_rows(read_qrels(tsv_qrels)) == expected
    assert sorted_rows(read_qrels(trec_qrels)) == expected
    assert sorted_rows(read_qrels_tsv(tsv_qrels)) == expected
    assert sorted_rows(read_trec_qrels(trec_qrels)) == expected


def test_the_content_decides_not_the_name(tsv_qrels, trec_qrels, tmp_path):
    expected = sorted_rows(read_qrels(tsv_qrels))
    beir_named_trec = tmp_path / "judgements.txt"  # BEIR content, a TREC-looking name
    beir_named_trec.write_bytes(tsv_qrels.read_bytes())
    trec_named_tsv = tmp_path / "judgements.tsv"  # TREC content, a BEIR-looking name
    trec_named_tsv.write_bytes(trec_qrels.read_bytes())
    assert sorted_rows(read_qrels(beir_named_trec)) == expected
    assert sorted_rows(read_qrels(trec_named_tsv)) == expected


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("q1\td1\t1\nq1\td2\t0\n", [("q1", "d1", 1), ("q1", "d2", 0)]),  # BEIR, no header
        ("query-id\tcorpus-id\tscore\nq1\td1\t2\n", [("q1", "d1", 2)]),
        ("\ufeffquery_id\tdoc_id\trelevance\r\nq1\td1\t1\r\n", [("q1", "d1", 1)]),  # BOM, CRLF
        ("q1 0 d1 1\nq2 0 d2 0\n", [("q1", "d1", 1), ("q2", "d2", 0)]),  # TREC
        ("q1\t0\td1\t1\n", [("q1", "d1", 1)]),  # TREC with tabs: 4 fields, not 3
        ("\n\nq1  0   d1 3\n", [("q1", "d1", 3)]),  # blank lines, runs of spaces
    ],
)
def test_format_detection(tmp_path, text, rows):
    path = tmp_path / "qrels"
    path.write_text(text, encoding="utf-8", newline="")
    assert sorted_rows(read_qrels(path)) == rows


def test_parquet_qrels_by_their_magic_bytes(scifact, tmp_path):
    path = tmp_path / "qrels.txt"  # the name says nothing
    scifact.qrels("test").to_parquet(path)
    assert sorted_rows(read_qrels(path)) == sorted_rows(scifact.qrels("test"))


BOTH = "expected TREC qrels (qid iter docno rel: 4 whitespace-separated fields) or BEIR qrels TSV"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("q1 d1 1\n", ":1: ", f"not a qrels line: {BOTH}"),  # 3 fields, not tab-separated
        ("\nq1 0 d1 1 x\n", ":2: ", f"not a qrels line: {BOTH}"),
        ("# a comment\nq1\td1\n", ":2: ", f"not a qrels line: {BOTH}"),
        ("q1\td1\n", ":1: ", f"not a qrels line: {BOTH}"),
        # the format is chosen by the first line; the chosen reader refuses a later line
        ("query-id\tcorpus-id\tscore\nq1 0 d1 1\n", ":2: ", "tab-separated"),
        ("q1 0 d1 1\nq1\td2\t1\n", ":2: ", "4 fields"),
        ("q1\td1\thigh\n", ":1: ", "'high'"),
        ("", ": ", "file is empty"),
    ],
)
def test_bad_qrels_are_one_line_naming_file_and_line(
    tmp_path, capsys, run_file, text, where, message
):
    path = tmp_path / "bad.qrels"
    path.write_text(text)
    with pytest.raises(DataFormatError) as caught:
        read_qrels(path)
    assert str(caught.value).startswith(f"{path}{where}") and message in str(caught.value)
    assert main(["eval", "--qrels", str(path), "--run", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rankarena: error: {path}{where}") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_qrels_file_is_one_line(tmp_path, run_file, capsys):
    path = tmp_path / "nope.qrels"
    assert main(["eval", "--qrels", str(path), "--run", str(run_file)]) == 2
    assert capsys.readouterr().err == f"rankarena: error: {path}: no such file\n"


# ------------------------------------------------------------------------- the command


def test_eval_qrels_equals_eval_dataset_and_pytrec_eval(
    scifact, tsv_qrels, trec_qrels, run_file, tmp_path, capsys
):
    by_dataset = tmp_path / "dataset.parquet"
    args = eval_args(run_file, by_dataset, "--dataset", str(scifact.path), "--split", "test")
    assert main(args) == 0
    expected = stored_values(by_dataset)
    assert len(expected) == 5 * (1 + 300)

    for qrels_file in (tsv_qrels, trec_qrels):
        store = tmp_path / f"{qrels_file.stem}.parquet"
        assert main(eval_args(run_file, store, "--qrels", str(qrels_file))) == 0
        assert stored_values(store) == expected  # exactly the same numbers
        rows = Results.from_parquet(store).table.to_pylist()
        assert {(r["system"], r["dataset"], r["split"]) for r in rows} == {
            ("tfidf", qrels_file.stem, "")
        }
        out = capsys.readouterr().out
        assert f"tfidf on {qrels_file.stem} (300 queries)" in out
        assert f"tfidf on {qrels_file.stem}: per query" in out

    ev = pytrec_eval.RelevanceEvaluator(
        read_qrels(trec_qrels).to_dict(), {"ndcg_cut.10", "recall.100", "map_cut.100", "P.10"}
    )
    per_query = ev.evaluate(read_trec_run(run_file).to_dict())
    for ours, theirs in PYTREC.items():
        mean = sum(v[theirs] for v in per_query.values()) / len(per_query)
        assert expected[(ours, None)] == pytest.approx(mean, abs=1e-12), ours
        for qid, values in per_query.items():
            assert expected[(ours, qid)] == pytest.approx(values[theirs], abs=1e-12)


def test_eval_qrels_shares_the_store_and_the_evaluation_key(
    scifact, trec_qrels, run_file, tmp_path, capsys
):
    store = tmp_path / "results.parquet"
    base = ["eval", "--run", str(run_file), "--metrics", "ndcg@10", "--output", str(store)]
    assert main([*base, "--dataset", str(scifact.path)]) == 0
    assert main([*base, "--qrels", str(trec_qrels)]) == 0
    assert main([*base, "--qrels", str(trec_qrels)]) == 0
    rows = Results.from_parquet(store).table.to_pylist()
    assert [(r["dataset"], r["split"]) for r in rows] == [
        ("scifact", "test"),
        (trec_qrels.stem, ""),
        (trec_qrels.stem, ""),
    ]
    assert len({r["eval_key"] for r in rows}) == 1  # the same qrels content, the same key
    assert len({r["value"] for r in rows}) == 1
    assert "appended 1 rows to" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--qrels", "q.txt", "--dataset", "scifact"], "not allowed with argument"),
        ([], "one of the arguments --dataset --qrels is required"),
        (["--qrels", "q.txt", "--split", "test"], "--split does not apply to --qrels"),
    ],
)
def test_bad_option_combinations_are_one_line(run_file, capsys, extra, message):
    assert main(["eval", "--run", str(run_file), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_split_still_defaults_to_test_with_a_dataset(scifact, run_file, tmp_path):
    store = tmp_path / "results.parquet"
    args = ["eval", "--dataset", str(scifact.path), "--run", str(run_file), "--metrics", "p@10"]
    assert main([*args, "--output", str(store)]) == 0
    assert [r["split"] for r in Results.from_parquet(store).table.to_pylist()] == ["test"]


# ---------------------------------------------------------------------- the Python API


def test_python_api(scifact, scifact_tfidf_run, trec_qrels, tsv_qrels):
    import rankarena.api.datasets as api_datasets
    import rankarena.data as data

    assert rankarena.read_qrels is data.read_qrels is api_datasets.read_qrels
    expected = rankarena.evaluate(scifact_tfidf_run, scifact.qrels("test"), ["ndcg@10"]).mean
    for path in (trec_qrels, tsv_qrels, str(trec_qrels)):
        got = rankarena.evaluate(scifact_tfidf_run, rankarena.read_qrels(path), ["ndcg@10"])
        assert got.mean == expected
