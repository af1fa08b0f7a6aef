"""Runs read in blocks of whole queries (``rankarena.data.run_blocks``) and evaluated in
bounded memory (``rankarena.evaluate.run_file``): the same run, the same values, as read
and evaluated whole; exact errors where streaming cannot go on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rankarena
from rankarena.data import Qrels, Run, read_trec_run, write_trec_run
from rankarena.data import run_blocks as blocks_module
from rankarena.data.run_blocks import read_parquet_run_blocks, read_trec_run_blocks
from rankarena.errors import DataFormatError, RankarenaError
from rankarena.evaluate import evaluate
from rankarena.evaluate.run_file import evaluate_run_file

METRICS = ["ndcg@10", "recall@100", "map", "mrr@10", "p@5", "num_ret", "num_rel", "gm_map"]


def make_run(queries: int, docs: int, seed: int = 0) -> tuple[Run, Qrels]:
    """A run of ``queries`` x ``docs`` rows (with tied scores) and qrels judging some of
    the retrieved documents, some unretrieved ones and queries the run lacks."""
    rng = np.random.default_rng(seed)
    q = np.repeat([f"q{i}" for i in range(queries)], docs)
    d = [f"d{rng.integers(0, 10**6)}x{i}" for i in range(queries * docs)]
    scores = np.round(rng.normal(size=queries * docs), 1)  # ties
    run = Run.from_arrays(q.tolist(), d, scores)
    picks = rng.choice(queries * docs, queries * 3, replace=False)
    qrels_q = [q[i] for i in picks] + [f"q{i}" for i in range(queries + 2)]
    qrels_d = [d[i] for i in picks] + [f"unretrieved{i}" for i in range(queries + 2)]
    grades = rng.integers(-1, 3, len(qrels_q)).tolist()
    qrels = Qrels(pa.table({"query_id": qrels_q, "doc_id": qrels_d, "relevance": grades}))
    return run, qrels


def concatenated(blocks: list[Run]) -> Run:
    """The blocks as one run, after checking that no query is in two blocks."""
    names = [set(block.query_ids) for block in blocks]
    assert sum(map(len, names)) == len(set().union(*names))
    table = pa.concat_tables([b.table.select(["query_id", "doc_id", "score"]) for b in blocks])
    return Run(table)


def write_lines(path, lines: list[str]) -> None:
    path.write_bytes("".join(lines).encode())


def trec_lines(run: Run) -> list[str]:
    cols = [run.table.column(c).to_pylist() for c in ("query_id", "doc_id", "rank", "score")]
    return [f"{q} Q0 {d} {r} {s!r} t\n" for q, d, r, s in zip(*cols, strict=True)]


@pytest.fixture
def small_batches(monkeypatch):
    """Arrow's streaming reader parses 2 KiB per batch: many batches in a small file."""
    monkeypatch.setattr(blocks_module, "READ_BLOCK_BYTES", 2048)


# ------------------------------------------------------------------------------- blocks


@pytest.mark.parametrize("block_lines", [50, 51, 333, 10**6])
def test_blocks_hold_whole_queries_and_make_up_the_run(tmp_path, small_batches, block_lines):
    run, _ = make_run(40, 50)
    write_trec_run(run, tmp_path / "run.trec")
    blocks = list(read_trec_run_blocks(tmp_path / "run.trec", block_lines))
    assert concatenated(blocks) == read_trec_run(tmp_path / "run.trec")
    assert len(blocks) == (1 if block_lines == 10**6 else pytest.approx(len(blocks)))
    if block_lines < 2000:
        assert len(blocks) > 1
        # a block ends at the first query boundary past block_lines (batches of 2 KiB)
        assert all(len(b) <= block_lines + 2048 for b in blocks)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    block_lines=st.integers(30, 200),
    seed=st.integers(0, 2**16),
)
def test_blocks_equal_the_whole_run_property(tmp_path_factory, sizes, block_lines, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i, size in enumerate(sizes):
        lines += [f"q{i} Q0 d{j} {j} {rng.normal():.3f} t\n" for j in range(size)]
    path = tmp_path_factory.mktemp("p") / "run.trec"
    write_lines(path, lines)
    old = blocks_module.READ_BLOCK_BYTES
    blocks_module.READ_BLOCK_BYTES = int(rng.integers(64, 4096))
    try:
        blocks = list(read_trec_run_blocks(path, block_lines))
    finally:
        blocks_module.READ_BLOCK_BYTES = old
    assert concatenated(blocks) == read_trec_run(path)


@pytest.mark.parametrize(
    "change",
    [
        "comment",  # a comment line half-way: the line reader takes over there
        "tabs",  # tab-separated lines from half-way
        "trailing",  # a seventh field from half-way
        "lone_cr",  # a lone CR inside a line: a field separator, as for trec_eval
        "bom",  # a byte-order mark: the line reader from the start
    ],
)
def test_the_line_reader_takes_over_where_the_fast_path_cannot(tmp_path, small_batches, change):
    run, _ = make_run(30, 40)
    lines = trec_lines(run)
    half = len(lines) // 2
    if change == "comment":
        lines.insert(half, "# a comment\n")
    elif change == "tabs":
        lines[half:] = [line.replace(" ", "\t") for line in lines[half:]]
    elif change == "trailing":
        lines[half:] = [line.replace("\n", " extra\n") for line in lines[half:]]
    elif change == "lone_cr":
        lines[half] = lines[half].rstrip("\n") + "\r" + lines[half + 1]
        del lines[half + 1]  # trec_eval: one line, its fields after the sixth ignored
    else:
        lines[0] = "\ufeff" + lines[0]
    path = tmp_path / "run.trec"
    write_lines(path, lines)
    whole = read_trec_run(path)
    if change == "lone_cr":
        assert len(whole) == len(run) - 1
    assert concatenated(list(read_trec_run_blocks(path, 100))) == whole


def test_a_query_out_of_place_is_an_error_naming_its_line(tmp_path, small_batches):
    run, _ = make_run(30, 40)
    lines = trec_lines(run)
    moved = lines.pop(5)  # a line of the first query, moved after the others
    lines.insert(1000, moved)
    path = tmp_path / "run.trec"
    write_lines(path, lines)
    assert read_trec_run(path) == run  # read whole: any order is valid
    with pytest.raises(DataFormatError) as caught:
        list(read_trec_run_blocks(path, 100))
    assert str(caught.value).startswith(
        f"{path}:1001: query 'q0' appears again after other queries' lines; a run read in "
        "blocks (larger than the memory limit) needs each query's lines together"
    )


def test_a_duplicate_document_in_a_later_block_names_both_lines(tmp_path, small_batches):
    run, _ = make_run(30, 40)
    lines = trec_lines(run)
    lines[1001] = lines[1000]
    path = tmp_path / "run.trec"
    write_lines(path, lines)
    with pytest.raises(
        DataFormatError, match=r":1002: duplicate document .* \(first at line 1001\)"
    ):
        list(read_trec_run_blocks(path, 100))


def test_a_query_larger_than_a_block_is_refused_naming_the_limit(tmp_path, small_batches):
    run, _ = make_run(5, 300)
    write_trec_run(run, tmp_path / "run.trec")
    with pytest.raises(DataFormatError) as caught:
        list(read_trec_run_blocks(tmp_path / "run.trec", 299, "RANKARENA_MAX_MEMORY=1G"))
    assert str(caught.value) == (
        f"{tmp_path / 'run.trec'}: query 'q0' has more than 299 lines, more than one block "
        "(RANKARENA_MAX_MEMORY=1G) holds"
    )
    assert len(concatenated(list(read_trec_run_blocks(tmp_path / "run.trec", 300)))) == 1500


def test_parquet_runs_in_blocks(tmp_path):
    run, _ = make_run(30, 40)
    run.to_parquet(tmp_path / "run.parquet")
    blocks = list(read_parquet_run_blocks(tmp_path / "run.parquet", 100))
    assert len(blocks) > 1
    assert concatenated(blocks) == run
    shuffled = run.table.take(pa.array(np.r_[0:10, 500:510, 10:500, 510 : len(run)]))
    import pyarrow.parquet as pq

    pq.write_table(shuffled, tmp_path / "shuffled.parquet")
    with pytest.raises(DataFormatError, match=r"shuffled.parquet: row 21: query 'q0' appears"):
        list(read_parquet_run_blocks(tmp_path / "shuffled.parquet", 100))


# --------------------------------------------------------------------------- evaluation


def same_evaluation(a, b) -> None:
    assert a.query_ids == b.query_ids
    assert a.metrics == b.metrics
    for name in a.metrics:
        np.testing.assert_array_equal(a.per_query[name], b.per_query[name])
    assert a.mean == b.mean  # bit for bit
    assert a.keys == b.keys and a.summaries == b.summaries


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"complete": True},
        {"relevance_level": 2},
        {"ignore_identical_ids": True},
    ],
)
@pytest.mark.parametrize("suffix", [".trec", ".parquet"])
def test_streamed_evaluation_equals_the_whole_run(tmp_path, small_batches, options, suffix):
    run, qrels = make_run(60, 50, seed=3)
    path = tmp_path / f"run{suffix}"
    if suffix == ".trec":
        write_trec_run(run, path)
    else:
        run.to_parquet(path)
    whole = evaluate(run, qrels, METRICS, **options)
    rows: list[int] = []
    streamed = evaluate_run_file(
        path, qrels, METRICS, block_rows=200, on_rows=rows.append, **options
    )
    assert len(rows) > 5 and sum(rows) == len(run)
    same_evaluation(whole, streamed)
    same_evaluation(whole, evaluate_run_file(path, qrels, METRICS, **options))  # read whole


def test_streamed_evaluation_of_a_run_without_a_judged_query_is_an_error(tmp_path):
    run, _ = make_run(10, 20)
    other = Qrels(pa.table({"query_id": ["zz"], "doc_id": ["d"], "relevance": [1]}))
    write_trec_run(run, tmp_path / "run.trec")
    with pytest.raises(DataFormatError, match=r"0 of 10 run queries are in the qrels \(first"):
        evaluate_run_file(tmp_path / "run.trec", other, METRICS, block_rows=50)


def test_a_limit_too_small_to_stream_is_one_line_before_reading(tmp_path, monkeypatch):
    run, qrels = make_run(10, 20)
    write_trec_run(run, tmp_path / "run.trec")
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "1M")
    with pytest.raises(RankarenaError) as caught:
        evaluate_run_file(tmp_path / "run.trec", qrels, METRICS)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("eval needs at least 57.2 MiB besides the ")
    assert message.endswith("to stream run.trec; limit: 1.0 MiB (RANKARENA_MAX_MEMORY=1M)")


def test_unknown_options_are_named(tmp_path):
    run, qrels = make_run(3, 5)
    write_trec_run(run, tmp_path / "run.trec")
    expected = r"unknown evaluation option.*: depth; valid"
    with pytest.raises(rankarena.ParameterError, match=expected):
        evaluate_run_file(tmp_path / "run.trec", qrels, METRICS, depth=3)


# --------------------------------------------------------------------------------- CLI


def test_eval_streams_a_run_larger_than_max_memory(tmp_path, capsys, monkeypatch, small_batches):
    """``eval --max-memory`` below the whole run's estimate streams it (blocks shrunk here
    to a few rows) and stores the values of the whole run."""
    from rankarena import Results
    from rankarena.cli.main import main
    from rankarena.data import write_trec_qrels
    from rankarena.evaluate import run_file

    run, qrels = make_run(60, 50, seed=5)
    write_trec_run(run, tmp_path / "run.trec")
    write_trec_qrels(qrels, tmp_path / "qrels.txt")
    monkeypatch.setattr(run_file, "MIN_BLOCK_ROWS", 1)
    monkeypatch.setattr(run_file, "BYTES_PER_BLOCK_ROW", 2**30 // 200)  # 200 rows a GiB
    monkeypatch.setattr(run_file, "WHOLE_BYTES_PER_FILE_BYTE", 2**30)
    args = ["eval", "--qrels", str(tmp_path / "qrels.txt"), "--run", str(tmp_path / "run.trec")]
    args += ["--metrics", "ndcg@10,map,num_ret", "--output", str(tmp_path / "results.parquet")]
    from rankarena.core.memory import resident_bytes

    limit = resident_bytes() + 2**30 + 2**29  # one GiB and a half free: 300-row blocks
    seen: list[int] = []

    def counted(path, block_lines, limit):
        for block in read_trec_run_blocks(path, block_lines, limit):
            seen.append(len(block))
            yield block

    monkeypatch.setattr(run_file, "read_trec_run_blocks", counted)
    assert main([*args, "--max-memory", str(limit)]) == 0
    assert len(seen) > 5 and sum(seen) == len(run)
    stored = Results.from_store(tmp_path / "results.parquet", means_only=True).table
    means = dict(zip(stored["metric"].to_pylist(), stored["value"].to_pylist(), strict=True))
    assert means == evaluate(run, qrels, ["ndcg@10", "map", "num_ret"]).mean
    capsys.readouterr()
    assert main([*args, "--max-memory", "1K"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rankarena: error: eval needs at least ") and "\n" not in err
    assert err.endswith("to stream run.trec; limit: 1.0 KiB (max_memory=1K)")


def test_a_run_with_queries_out_of_place_is_read_whole_when_it_fits(tmp_path, monkeypatch):
    from rankarena.data.run_blocks import QueryOutOfPlace
    from rankarena.evaluate import run_file

    run, qrels = make_run(30, 40)
    lines = trec_lines(run)
    lines.insert(1000, lines.pop(5))  # q0's line after other queries'
    path = tmp_path / "run.trec"
    write_lines(path, lines)
    monkeypatch.setattr(run_file, "WHOLE_MAX_BYTES", 0)  # try blocks first
    monkeypatch.setattr(run_file, "MIN_BLOCK_ROWS", 1)
    same_evaluation(evaluate(run, qrels, METRICS), evaluate_run_file(path, qrels, METRICS))
    monkeypatch.setattr(run_file, "WHOLE_BYTES_PER_FILE_BYTE", 2**40)  # whole will not fit
    with pytest.raises(QueryOutOfPlace, match=r"run.trec:1001: query 'q0' appears again"):
        evaluate_run_file(path, qrels, METRICS)
