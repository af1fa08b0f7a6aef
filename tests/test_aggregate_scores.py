"""Score tables from every source, and the MTEB columns (mean, mean by task type, Borda)
checked row for row against mteb's own leaderboard code on the real MTEB(eng, v2) scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import rankarena
from rankarena import DataFormatError, ParameterError, ScoreTable
from rankarena.data import Results
from rankarena.errors import UnknownNameError
from rankarena.leaderboard.score_sources import read_scores

HOST = rankarena.plugin_manager()


@pytest.fixture(scope="module")
def eng_v2(mteb_dir):
    return read_scores(mteb_dir / "scores.parquet", benchmark="MTEB(eng, v2)")


def mteb_summary(mteb_dir, benchmark: str):
    """mteb's own leaderboard table for ``benchmark`` from the export's rows."""
    pl = pytest.importorskip("polars")
    pytest.importorskip("mteb")
    from mteb.benchmarks._create_table import _create_summary_table

    definition = json.loads((mteb_dir / "benchmarks.json").read_text())["benchmarks"][benchmark]
    names = [t["name"] for t in definition["tasks"]]
    table = pq.read_table(mteb_dir / "scores.parquet")
    keep = pc.and_(table["lb_selected"], table[definition["membership_column"].split()[0]])
    rows = table.filter(pc.and_(keep, pc.is_in(table["task"], pa.array(names, table["task"].type))))
    frame = pl.DataFrame(
        {
            "model_name": rows["model"].to_pylist(),
            "task_name": rows["task"].to_pylist(),
            "score": rows["main_score"].to_pylist(),
            "split": rows["split"].to_pylist(),
            "subset": rows["subset"].to_pylist(),
        }
    )
    return _create_summary_table(frame).df


def test_mteb_export_reads_the_benchmark(eng_v2):
    assert len(eng_v2.tasks) == 41 and len(eng_v2.systems) == 317
    assert set(eng_v2.task_types.values()) == {
        "Classification",
        "Clustering",
        "PairClassification",
        "Reranking",
        "Retrieval",
        "STS",
        "Summarization",
    }
    assert not np.all(np.isnan(eng_v2.scores), axis=1).any()


@pytest.mark.parametrize("benchmark", ["MTEB(eng, v2)", "MTEB(eng, v2) [Retrieval only]"])
def test_borda_equals_mtebs_rank_row_for_row(mteb_dir, benchmark):
    summary = mteb_summary(mteb_dir, benchmark)
    theirs = dict(zip(summary["Model"].to_list(), summary["Rank (Borda)"].to_list(), strict=True))
    table = read_scores(mteb_dir / "scores.parquet", benchmark=benchmark)
    ours = HOST.aggregators.create("borda").aggregate(table)
    assert dict(zip(ours.systems, ours.ranks.tolist(), strict=True)) == theirs


def test_means_equal_mtebs_columns(mteb_dir, eng_v2):
    summary = mteb_summary(mteb_dir, "MTEB(eng, v2)")
    for method, column in [("mean", "Mean (Task)"), ("mean-by-task-type", "Mean (TaskType)")]:
        ours = HOST.aggregators.create(method).aggregate(eng_v2)
        mine = dict(zip(ours.systems, ours.scores.tolist(), strict=True))
        for model, value in zip(summary["Model"].to_list(), summary[column].to_list(), strict=True):
            if value is None:
                assert math.isnan(mine[model])
            else:
                assert mine[model] == pytest.approx(value, abs=1e-12)


def test_borda_by_hand_with_ties_and_missing():
    table = ScoreTable(
        ("a", "b", "c"),
        ("t1", "t2"),
        np.array([[0.9, np.nan], [0.5, 0.7], [0.5, 0.8]]),
    )
    ranking = HOST.aggregators.create("borda").aggregate(table)
    # t1: a rank 1 (3-1 = 2 points), b and c share rank 2.5 (0.5 each); t2: c 2, b 1, a 0
    np.testing.assert_allclose(ranking.scores, [2.0, 1.5, 2.5])
    assert ranking.ranks.tolist() == [2, 3, 1]


def test_borda_on_a_basis_counts_partial_scores_and_unlisted_models():
    """mteb's leaderboard ranks Borda on the mean of whatever of a task was scored, among
    every model with a result: the table shows b's t2 missing (a split missing) and leaves
    out the model g, yet both take ranks and points."""
    table = ScoreTable(
        ("a", "b", "c"),
        ("t1", "t2"),
        np.array([[0.9, 0.6], [0.5, np.nan], [0.4, 0.8]]),
        borda_basis=rankarena.BordaBasis(
            systems=("a", "b", "c", "g"),
            tasks=("t1", "t2"),
            scores=np.array([[0.9, 0.6], [0.5, 0.9], [0.4, 0.8], [0.7, np.nan]]),
            n=3,
            rows=(0, 1, 2),
        ),
    )
    ranking = HOST.aggregators.create("borda").aggregate(table)
    # t1 among a, g, b, c: ranks 1, 2, 3, 4 -> points 2, 1, 0, -1 (n = 3, the table's size)
    # t2 among b, c, a: ranks 1, 2, 3 -> points 2, 1, 0; totals a 2, b 2, c 0, g 1
    np.testing.assert_allclose(ranking.scores, [2.0, 2.0, 0.0])
    assert ranking.systems == ("a", "b", "c")
    assert ranking.ranks.tolist() == [1, 1, 4]  # g (rank 3) is ranked but not listed
    assert ranking.extras["tasks"] == [2, 1, 2]
    # a table derived from it has no basis: plain Borda over what it shows
    derived = table.with_coverage(1.0)
    assert derived.borda_basis is None
    plain = HOST.aggregators.create("borda").aggregate(derived)
    assert plain.systems == ("a", "c") and plain.ranks.tolist() == [1, 1]  # 1 point each


def test_borda_basis_must_match_the_table():
    with pytest.raises(DataFormatError, match="borda_basis does not match"):
        ScoreTable(
            ("a", "b"),
            ("t",),
            np.array([[1.0], [0.5]]),
            borda_basis=rankarena.BordaBasis(("a",), ("t",), np.array([[1.0]]), 2, (0,)),
        )


def test_mean_policies():
    table = ScoreTable(("a", "b"), ("t1", "t2"), np.array([[1.0, np.nan], [0.2, 0.4]]))
    strict = HOST.aggregators.create("mean").aggregate(table)
    assert math.isnan(strict.scores[0]) and strict.ranks.tolist() == [2, 1]
    skip = HOST.aggregators.create("mean", missing="skip").aggregate(table)
    np.testing.assert_allclose(skip.scores, [1.0, 0.3])
    with pytest.raises(ParameterError, match="missing must be one of strict, skip"):
        HOST.aggregators.create("mean", missing="drop")


def test_long_csv_and_its_errors(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score,task_type\na,t1,0.5,STS\nb,t1,0.7,STS\na,t2,,Retrieval\n")
    table = read_scores(path)
    assert table.systems == ("a", "b") and table.tasks == ("t1", "t2")
    assert math.isnan(table.scores[0, 1]) and table.task_types == {"t1": "STS", "t2": "Retrieval"}
    path.write_text("system,task,score\na,t1,high\n")
    with pytest.raises(DataFormatError, match=r"scores.csv:2: score 'high' is not a number"):
        read_scores(path)
    path.write_text("system,task,score\na,t1,0.5\na,t1,0.6\n")
    with pytest.raises(DataFormatError, match="second score for 'a' on 't1'"):
        read_scores(path)
    path.write_text("model,value\n")
    with pytest.raises(DataFormatError, match="not a score table"):
        read_scores(path)


def test_results_store_tasks_are_datasets(tmp_path):
    rows = [
        {"system": s, "dataset": d, "split": "test", "metric": m, "value": v, "run_id": f"{s}{d}"}
        for s, d, m, v in [
            ("bm25", "scifact", "ndcg@10", 0.67),
            ("bm25", "fiqa", "ndcg@10", 0.23),
            ("dense", "scifact", "ndcg@10", 0.64),
            ("dense", "scifact", "recall@100", 0.92),
        ]
    ]
    store = tmp_path / "results.parquet"
    Results.from_rows(rows).append_to(store)
    table = read_scores(store)
    assert table.systems == ("bm25", "dense") and set(table.tasks) == {"scifact", "fiqa"}
    assert math.isnan(table.scores[1, table.tasks.index("fiqa")])
    recall = read_scores(store, metric="recall@100")
    assert recall.systems == ("dense",)
    with pytest.raises(UnknownNameError, match="unknown metric 'map'"):
        read_scores(store, metric="map")


def test_mteb_results_folder_read_with_mteb(tmp_path, eng_v2):
    pytest.importorskip("mteb")
    tasks = ["ArguAna", "SciFact" if "SciFact" in eng_v2.tasks else eng_v2.tasks[1]]
    models = eng_v2.systems[:3]
    for m, model in enumerate(models):
        folder = tmp_path / "results" / model.replace("/", "__") / "rev1"
        folder.mkdir(parents=True)
        for task in tasks:
            value = eng_v2.scores[m, eng_v2.tasks.index(task)]
            if math.isnan(value):
                continue
            result = {
                "task_name": task,
                "dataset_revision": "x",
                "mteb_version": "2.0.0",
                "evaluation_time": 1.0,
                "scores": {
                    "test": [
                        {"main_score": value, "hf_subset": "default", "languages": ["eng-Latn"]}
                    ]
                },
            }
            (folder / f"{task}.json").write_text(json.dumps(result))
    table = read_scores(tmp_path)
    for m, model in enumerate(models):
        for task in tasks:
            expected = eng_v2.scores[m, eng_v2.tasks.index(task)]
            if not math.isnan(expected):
                got = table.scores[table.systems.index(model), table.tasks.index(task)]
                assert got == pytest.approx(expected)
    assert table.task_types["ArguAna"] == "Retrieval"


def test_unknown_benchmark_lists_them(mteb_dir):
    with pytest.raises(UnknownNameError, match=r"unknown benchmark 'MTEB\(eng, v3\)'"):
        read_scores(mteb_dir / "scores.parquet", benchmark="MTEB(eng, v3)")


def test_with_coverage_keeps_systems_with_enough_tasks():
    table = ScoreTable(
        ("a", "b", "c"), ("t1", "t2"), np.array([[1.0, np.nan], [0.2, 0.4], [np.nan, np.nan]])
    )
    assert table.with_coverage(0.0) is table
    assert table.with_coverage(0.5).systems == ("a", "b")
    assert table.with_coverage(1.0).systems == ("b",)


# ---------------------------------------------------------------- score tables: bad input


def read_error(path) -> str:
    with pytest.raises(DataFormatError) as excinfo:
        read_scores(path)
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("rows", "line", "column"),
    [("a,t1,0.5\n,t1,0.7\n", 3, "system"), ("a,,0.5\n", 2, "task"), ("  ,t1,0.5\n", 2, "system")],
)
def test_csv_without_a_system_or_task_name(tmp_path, rows, line, column):
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score\n" + rows)
    assert read_error(path) == f"{path}:{line}: {column} is missing"


def test_parquet_with_a_null_system(tmp_path):
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"system": ["a", None], "task": ["t", "t"], "score": [0.1, 0.2]}), path)
    assert read_error(path) == f"{path}: row 2: system is missing"


def test_results_store_with_a_null_system(tmp_path):
    path = tmp_path / "results.parquet"
    table = pa.table(
        {
            "system": ["a", None],
            "dataset": ["d", "d"],
            "split": ["test", "test"],
            "metric": ["ndcg@10", "ndcg@10"],
            "value": [0.1, 0.2],
            "run_id": ["r1", "r2"],
        }
    )
    pq.write_table(table, path)
    assert read_error(path) == f"{path}: row 2: system is missing"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("system,task,score\n", "no scores (the table has no rows)"),
        ("system,task,score\n\n\n", "no scores (the table has no rows)"),
        ("system,task,score\na,t1,\nb,t1,nan\n", "no scores (every score is empty or NaN)"),
    ],
)
def test_csv_without_scores(tmp_path, content, reason):
    path = tmp_path / "scores.csv"
    path.write_text(content)
    assert read_error(path) == f"{path}: {reason}"


def test_parquet_without_rows(tmp_path):
    path = tmp_path / "scores.parquet"
    schema = pa.schema([("system", pa.string()), ("task", pa.string()), ("score", pa.float64())])
    pq.write_table(schema.empty_table(), path)
    assert read_error(path) == f"{path}: no scores (the table has no rows)"


def test_csv_with_a_latin1_byte(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_bytes("system,task,score\ncafé,t1,0.5\n".encode("latin-1"))
    assert read_error(path) == f"{path}:2: not valid UTF-8 (byte 21: b'\\xe9'); save it as UTF-8"


def test_csv_with_a_bom_reads(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_bytes("\ufeffsystem,task,score\na,t1,0.5\n".encode())
    assert read_scores(path).systems == ("a",)


def test_csv_field_over_the_csv_field_limit(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text('system,task,score\na,t1,0.5\nb,t1,"' + "x" * 200_000 + '"\n')
    assert read_error(path) == (
        f"{path}:3: not a readable CSV file (field larger than field limit (131072))"
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,t1,1_0\n", "2: score '1_0' is not a number"),
        ("a,t1,0x1p3\n", "2: score '0x1p3' is not a number"),
        ("a,t1,0.5\nb,t1,inf\n", "3: score inf is not a finite number"),
        ("a,t1,0.5,x\n", "2: expected 3 fields, got 4"),
    ],
)
def test_csv_score_syntax(tmp_path, rows, message):
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score\n" + rows)
    assert read_error(path) == f"{path}:{message}"


def test_parquet_with_a_string_score_column(tmp_path):
    path = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"system": ["a", "b"], "task": ["t", "t"], "score": ["x", "1"]}), path)
    assert read_error(path) == f"{path}: column 'score' holds string, not numbers"


def test_parquet_with_an_infinite_score(tmp_path):
    path = tmp_path / "scores.parquet"
    scores = [0.5, -math.inf]
    pq.write_table(pa.table({"system": ["a", "b"], "task": ["t", "t"], "score": scores}), path)
    assert read_error(path) == f"{path}: row 2: score -inf is not a finite number"


def test_nan_score_is_a_missing_cell(tmp_path):
    """Deliberate (module docstring): an empty or NaN score is a missing cell, not an error."""
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score\na,t1,nan\nb,t1,0.5\na,t2,0.1\nb,t2,\n")
    table = read_scores(path)
    assert math.isnan(table.scores[0, 0]) and math.isnan(table.scores[1, 1])


def test_task_with_two_task_types(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score,task_type\na,t1,0.5,STS\nb,t1,0.7,Retrieval\n")
    assert (
        read_error(path)
        == f"{path}:3: task 't1' has task_type 'Retrieval' here but 'STS' at line 2"
    )


def test_duplicate_pair_names_the_line(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("system,task,score\na,t1,0.5\na,t1,0.6\n")
    assert read_error(path) == f"{path}:3: second score for 'a' on 't1'"


def test_deeply_nested_benchmarks_json(tmp_path, mteb_dir):
    export = tmp_path / "scores.parquet"
    export.symlink_to(mteb_dir / "scores.parquet")
    (tmp_path / "benchmarks.json").write_text("[" * 200_000 + "]" * 200_000)
    assert read_error(export) == f"{tmp_path / 'benchmarks.json'}: invalid JSON (nested too deeply)"


def test_aggregate_cli_header_only_csv_is_one_line(tmp_path, capsys):
    from rankarena.cli.main import main

    path = tmp_path / "scores.csv"
    path.write_text("system,task,score\n")
    assert main(["aggregate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"rankarena: error: {path}: no scores (the table has no rows)\n"
