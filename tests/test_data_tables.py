"""In-memory Arrow tables: Run ordering (trec_eval's), dict and Parquet round trips, writers."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import struct

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankarena.data import (
    BeirFolder,
    Corpus,
    Qrels,
    Queries,
    Results,
    Run,
    ordering,
    read_trec_qrels,
    read_trec_run,
    write_beir,
    write_trec_qrels,
    write_trec_run,
)
from rankarena.data.ordering import encode, string_hashes, trec_order
from rankarena.errors import DataFormatError

UTC = dt.UTC


def rows(run: Run) -> list[tuple[str, str, float, int]]:
    names = ("query_id", "doc_id", "score", "rank")
    return list(zip(*(run.table.column(c).to_pylist() for c in names), strict=True))


def reference_order(triples):
    """trec_eval's order by plain Python: query id ascending, score descending, doc id
    descending, all ids compared as UTF-8 bytes."""
    by_doc_desc = sorted(triples, key=lambda t: t[1].encode("utf-8"), reverse=True)
    return sorted(by_doc_desc, key=lambda t: (t[0].encode("utf-8"), -t[2]))  # stable


def columns(triples):
    """(query ids, doc ids, scores) of a list of (query id, doc id, score) rows."""
    return tuple(list(c) for c in zip(*triples, strict=True))


def with_ranks(ordered):
    out, previous, rank = [], None, 0
    for qid, did, score in ordered:
        rank = rank + 1 if qid == previous else 1
        previous = qid
        out.append((qid, did, score, rank))
    return out


# ---------------------------------------------------------------- Run ordering

TRIPLES = [
    ("q2", "d1", 1.0),
    ("q1", "a", 0.5),
    ("q10", "x", 3.0),
    ("q1", "b", 0.5),
    ("q1", "c", 0.9),
    ("q1", "B", 0.5),
]
EXPECTED = [
    ("q1", "c", 0.9, 1),
    ("q1", "b", 0.5, 2),  # ties: doc id descending in byte order: "b" > "a" > "B"
    ("q1", "a", 0.5, 3),
    ("q1", "B", 0.5, 4),
    ("q10", "x", 3.0, 1),  # "q10" sorts between "q1" and "q2" (bytes, not numbers)
    ("q2", "d1", 1.0, 1),
]


def test_run_order_example():
    run = Run.from_arrays(*columns(TRIPLES))
    assert rows(run) == EXPECTED
    assert reference_order(TRIPLES) == [r[:3] for r in EXPECTED]
    assert run.query_ids == ["q1", "q10", "q2"]
    assert run.table.schema == pa.schema(
        [
            ("query_id", pa.string()),
            ("doc_id", pa.string()),
            ("score", pa.float64()),
            ("rank", pa.int32()),
        ]
    )


def test_run_order_is_independent_of_input_order():
    for perm in itertools.permutations(TRIPLES):
        assert rows(Run.from_arrays(*columns(perm))) == EXPECTED


def test_run_order_non_ascii_ids_by_bytes():
    # byte order: "Z" (5a) < "z" (7a) < "é" (c3 a9) < "€" (e2 82 ac) < "😀" (f0 9f ...)
    docs = ["é", "z", "😀", "Z", "€"]
    run = Run.from_arrays(["q"] * 5, docs, [1.0] * 5)
    assert run.table.column("doc_id").to_pylist() == ["😀", "€", "é", "z", "Z"]
    run = Run.from_arrays(docs, ["d"] * 5, [1.0] * 5)
    assert run.query_ids == ["Z", "z", "é", "€", "😀"]


def test_run_order_prefix_ids():
    run = Run.from_arrays(["q"] * 4, ["ab", "a", "abc", "b"], [0.0] * 4)
    assert run.table.column("doc_id").to_pylist() == ["b", "abc", "ab", "a"]


def test_run_order_special_scores():
    inf = math.inf
    scores = [0.0, -inf, 1e-300, -0.0, inf, -1e300, 5e-324]
    docs = [f"d{i}" for i in range(len(scores))]
    run = Run.from_arrays(["q"] * len(scores), docs, scores)
    assert run.table.column("score").to_pylist() == [inf, 1e-300, 5e-324, 0.0, -0.0, -1e300, -inf]
    # 0.0 and -0.0 tie: doc id descending ("d3" > "d0")
    assert run.table.column("doc_id").to_pylist() == ["d4", "d2", "d6", "d3", "d0", "d5", "d1"]


def test_run_ranks_are_one_to_n_per_query():
    rng = np.random.default_rng(7)
    sizes = {"a": 1, "b": 7, "c": 100, "d": 3}
    q = [qid for qid, n in sizes.items() for _ in range(n)]
    d = [f"doc{i}" for i in range(len(q))]
    order = rng.permutation(len(q))
    run = Run.from_arrays(np.array(q)[order], np.array(d)[order], rng.integers(0, 5, len(q)))
    for qid, n in sizes.items():
        part = run.table.filter(pc.equal(run.table.column("query_id"), qid))
        assert part.column("rank").to_pylist() == list(range(1, n + 1))
        scores = part.column("score").to_pylist()
        assert scores == sorted(scores, reverse=True)


def test_run_input_rank_column_is_ignored():
    q, d, s = columns(TRIPLES)
    for ranks in ([1] * 6, [6, 5, 4, 3, 2, 1], [100, -3, 0, 7, 2, 9], [None] * 6):
        table = pa.table(
            {"query_id": q, "doc_id": d, "score": s, "rank": pa.array(ranks, pa.int64())}
        )
        assert rows(Run(table)) == EXPECTED


def test_run_resorts_a_sorted_table_with_wrong_ranks():
    run = Run.from_arrays(*columns(TRIPLES))
    table = run.table.set_column(3, "rank", pa.array([9] * 6, pa.int32()))
    assert Run(table) == run


def test_run_extra_columns_are_dropped_and_types_cast():
    table = pa.table(
        {
            "tag": ["x", "y"],
            "score": pa.array([1, 2], pa.int64()),
            "doc_id": ["d1", "d2"],
            "query_id": ["q", "q"],
        }
    )
    run = Run(table)
    assert run.table.column_names == ["query_id", "doc_id", "score", "rank"]
    assert rows(run) == [("q", "d2", 2.0, 1), ("q", "d1", 1.0, 2)]


def test_run_nan_score_names_the_row():
    with pytest.raises(DataFormatError) as excinfo:
        Run.from_arrays(["q1", "q1", "q2", "q2"], ["a", "b", "a", "c"], [1.0, 0.5, math.nan, 2.0])
    assert str(excinfo.value) == "<table>: row 3: score is NaN"
    assert excinfo.value.source is None


def test_run_nan_score_in_table_with_source():
    table = pa.table({"query_id": ["q"], "doc_id": ["d"], "score": [math.nan]})
    with pytest.raises(DataFormatError) as excinfo:
        Run(table, source="some/run.parquet")
    assert str(excinfo.value) == "some/run.parquet: row 1: score is NaN"


def test_run_missing_score_names_the_row():
    table = pa.table(
        {"query_id": ["q", "q"], "doc_id": ["a", "b"], "score": pa.array([1.0, None], pa.float64())}
    )
    with pytest.raises(DataFormatError) as excinfo:
        Run(table)
    assert str(excinfo.value) == "<table>: row 2: score is missing"


def test_run_duplicate_pair_raises():
    with pytest.raises(DataFormatError) as excinfo:
        Run.from_arrays(["q1", "q1", "q2", "q1"], ["a", "b", "b", "b"], [1.0, 0.5, 0.1, 0.2])
    message = str(excinfo.value)
    assert message == "<table>: row 4: duplicate document 'b' for query 'q1' (first at row 2)"


def test_run_same_doc_in_two_queries_is_fine():
    run = Run.from_arrays(["q1", "q2"], ["d", "d"], [1.0, 1.0])
    assert rows(run) == [("q1", "d", 1.0, 1), ("q2", "d", 1.0, 1)]


def test_run_not_confused_by_code_collisions():
    """(query, doc) pairs are packed into one integer; different pairs must not collide."""
    q = ["a", "b", "a", "b"]
    d = ["x", "y", "y", "x"]
    assert len(Run.from_arrays(q, d, [1, 2, 3, 4])) == 4


def test_empty_run():
    run = Run.from_arrays([], [], [])
    assert len(run) == 0
    assert run.query_ids == []
    assert run.to_dict() == {}
    assert run.top(3) == run


def test_run_top():
    run = Run.from_arrays(*columns(TRIPLES))
    assert rows(run.top(1)) == [EXPECTED[0], EXPECTED[4], EXPECTED[5]]
    assert rows(run.top(2)) == [EXPECTED[0], EXPECTED[1], EXPECTED[4], EXPECTED[5]]
    assert run.top(4) == run
    assert run.top(1000) == run
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be at least 1"):
            run.top(k)


def test_run_top_keeps_source():
    table = pa.table({"query_id": ["q"], "doc_id": ["d"], "score": [1.0]})
    assert Run(table, source="x.txt").top(1).source == "x.txt"


def test_run_dict_round_trip():
    data = {"q2": {"d1": 1.0}, "q1": {"a": 0.5, "b": 0.5, "c": 0.9, "B": 0.5}, "q10": {"x": 3.0}}
    run = Run.from_dict(data)
    assert rows(run) == EXPECTED
    out = run.to_dict()
    assert out == data
    assert list(out) == ["q1", "q10", "q2"]
    assert list(out["q1"]) == ["c", "b", "a", "B"]  # rank order
    assert Run.from_dict(out) == run


def test_run_equality():
    run = Run.from_arrays(*columns(TRIPLES))
    assert run == Run.from_arrays(*columns(reversed(TRIPLES)))
    assert run != Run.from_arrays(["q"], ["d"], [1.0])
    assert run != run.table
    with pytest.raises(TypeError):
        hash(run)


def test_run_encoded_codes_follow_the_sorted_rows():
    run = Run.from_arrays(*columns(TRIPLES))
    queries = run.encoded_queries
    assert queries.dictionary.take(pa.array(queries.codes)).to_pylist() == [r[0] for r in EXPECTED]


def test_encode_orders_by_bytes():
    enc = encode(pa.chunked_array([["b", "a"], ["é", "b", "Z"]]))
    assert enc.dictionary.to_pylist() == ["b", "a", "é", "Z"]
    assert enc.codes.tolist() == [0, 1, 2, 0, 3]
    assert enc.sorted_codes.tolist() == [2, 1, 3, 2, 0]


# ---------------------------------------------------------------- Qrels, Corpus, Queries


def test_qrels_dict_round_trip():
    data = {"q2": {"d1": 2, "d9": -1}, "q1": {"d3": 0, "d1": 1}}
    qrels = Qrels.from_dict(data)
    assert qrels.to_dict() == data
    assert Qrels.from_dict(qrels.to_dict()) == qrels
    assert qrels.query_ids == ["q1", "q2"]
    assert qrels.table.schema.field("relevance").type == pa.int32()


def test_qrels_duplicate_in_table_names_rows():
    table = pa.table(
        {"query_id": ["q1", "q2", "q1"], "doc_id": ["d1", "d1", "d1"], "relevance": [1, 0, 2]}
    )
    with pytest.raises(DataFormatError) as excinfo:
        Qrels(table, source="mem")
    assert str(excinfo.value) == (
        "mem: row 3: duplicate query_id='q1', doc_id='d1' (first at row 1)"
    )


def test_qrels_null_grade():
    table = pa.table(
        {
            "query_id": ["q1", "q1"],
            "doc_id": ["d1", "d2"],
            "relevance": pa.array([1, None], pa.int32()),
        }
    )
    with pytest.raises(DataFormatError, match=r"^<table>: row 2: relevance is missing$"):
        Qrels(table)


def test_qrels_non_integer_column():
    table = pa.table({"query_id": ["q1"], "doc_id": ["d1"], "relevance": ["high"]})
    with pytest.raises(DataFormatError, match=r"column 'relevance' is not int32"):
        Qrels(table)


def test_corpus_and_queries_from_dict():
    corpus = Corpus.from_dict({"d1": {"title": "T", "text": "a"}, "d2": {"text": "b"}})
    assert corpus.table.to_pylist() == [
        {"_id": "d1", "title": "T", "text": "a"},
        {"_id": "d2", "title": "", "text": "b"},
    ]
    assert corpus.texts() == ["T a", "b"]
    assert corpus.texts(with_title=False) == ["a", "b"]
    queries = Queries.from_dict({"q2": "x", "q1": "y"})
    assert queries.to_dict() == {"q2": "x", "q1": "y"}
    assert queries.select(["q1", "absent"]).to_dict() == {"q1": "y"}


def test_corpus_null_or_absent_title_becomes_empty():
    corpus = Corpus(pa.table({"text": ["x", "y"], "title": [None, "t"], "_id": ["a", "b"]}))
    assert corpus.table.column_names == ["_id", "title", "text"]
    assert corpus.table.column("title").to_pylist() == ["", "t"]
    corpus = Corpus(pa.table({"_id": ["a"], "text": ["x"]}))
    assert corpus.table.column("title").to_pylist() == [""]


def test_corpus_duplicate_id():
    message = r"^<table>: row 3: duplicate _id='a' \(first at row 1\)$"
    with pytest.raises(DataFormatError, match=message):
        Corpus(pa.table({"_id": ["a", "b", "a"], "text": ["x", "y", "z"]}))


def test_corpus_missing_text():
    with pytest.raises(DataFormatError, match=r"^<table>: row 2: text is missing$"):
        Corpus(pa.table({"_id": ["a", "b"], "text": ["x", None]}))


# ---------------------------------------------------------------- Parquet


def sample_corpus() -> Corpus:
    return Corpus.from_dict(
        {
            "d1": {"title": "Title", "text": "first"},
            "d2": {"text": "naïve — ✓ 😀"},
            "4983": {"title": " padded ", "text": ""},
        }
    )


def sample_queries() -> Queries:
    return Queries.from_dict({"q1": "what?", "0": "é"})


def sample_qrels() -> Qrels:
    return Qrels.from_dict({"q1": {"d1": 1, "d2": 0}, "0": {"4983": -1, "d1": 3}})


def sample_run() -> Run:
    return Run.from_dict(
        {
            "q1": {"d1": 0.1 + 0.2, "d2": 1 / 3, "4983": -math.inf},
            "0": {"d1": 5e-324, "d2": 1.7976931348623157e308},
        }
    )


def sample_results() -> Results:
    when = dt.datetime(2024, 5, 17, 12, 30, 1, 123456, tzinfo=UTC)
    base = {
        "system": "bm25",
        "dataset": "scifact",
        "split": "test",
        "run_id": "r1",
        "created_at": when,
    }
    return Results.from_rows(
        [
            {**base, "metric": "ndcg@10", "value": 0.6651},
            {**base, "metric": "ndcg@10", "value": 0.25, "query_id": "q1", "variant": "typos"},
            {**base, "metric": "map", "value": 1 / 3, "query_id": None},
        ]
    )


SAMPLES = {
    Corpus: sample_corpus,
    Queries: sample_queries,
    Qrels: sample_qrels,
    Run: sample_run,
    Results: sample_results,
}


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_parquet_round_trip(tmp_path, cls):
    original = SAMPLES[cls]()
    path = tmp_path / f"{cls.__name__}.parquet"
    original.to_parquet(path)
    back = cls.from_parquet(path)
    assert type(back) is cls
    assert back == original
    assert back.table.schema == original.table.schema
    assert back.table.to_pylist() == original.table.to_pylist()
    assert back.source == str(path)


def test_parquet_round_trip_keeps_float_bits(tmp_path):
    run = sample_run()
    run.to_parquet(tmp_path / "run.parquet")
    back = Run.from_parquet(tmp_path / "run.parquet")
    bits = [struct.pack("<d", s) for s in run.table.column("score").to_pylist()]
    assert [struct.pack("<d", s) for s in back.table.column("score").to_pylist()] == bits


def test_results_details():
    results = sample_results()
    assert results.table.column("variant").to_pylist() == ["", "typos", ""]
    assert results.table.column("query_id").to_pylist() == [None, "q1", None]
    assert results.means().table.column("metric").to_pylist() == ["ndcg@10", "map"]
    assert len(Results.empty()) == 0
    assert results.concat(Results.empty()) == results


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "content",
    [b"", b"not parquet at all\n", b"PAR1" + b"\0" * 20],
    ids=["empty", "text", "bad-magic"],
)
def test_from_parquet_non_parquet_file(tmp_path, cls, content):
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as excinfo:
        cls.from_parquet(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: not a readable Parquet file"), message
    assert "\n" not in message


def test_from_parquet_missing_file(tmp_path):
    with pytest.raises(DataFormatError) as excinfo:
        Qrels.from_parquet(tmp_path / "absent.parquet")
    assert str(excinfo.value) == f"{tmp_path / 'absent.parquet'}: no such file"


@pytest.mark.parametrize(
    ("cls", "column"),
    [
        (Qrels, "relevance"),
        (Qrels, "query_id"),
        (Run, "score"),
        (Corpus, "text"),
        (Queries, "_id"),
        (Results, "created_at"),
    ],
)
def test_from_parquet_missing_column(tmp_path, cls, column):
    table = SAMPLES[cls]().table
    path = tmp_path / "partial.parquet"
    pq.write_table(table.drop_columns([column]), path)
    with pytest.raises(DataFormatError) as excinfo:
        cls.from_parquet(path)
    assert str(excinfo.value) == f"{path}: missing column {column!r}"


def test_from_parquet_wrong_column_type(tmp_path):
    path = tmp_path / "qrels.parquet"
    pq.write_table(pa.table({"query_id": ["q"], "doc_id": ["d"], "relevance": ["x"]}), path)
    with pytest.raises(DataFormatError) as excinfo:
        Qrels.from_parquet(path)
    assert str(excinfo.value).startswith(f"{path}: column 'relevance' is not int32")


def test_from_parquet_checks_keys(tmp_path):
    path = tmp_path / "run.parquet"
    pq.write_table(
        pa.table({"query_id": ["q", "q"], "doc_id": ["d", "d"], "score": [1.0, 2.0]}), path
    )
    with pytest.raises(DataFormatError) as excinfo:
        Run.from_parquet(path)
    assert str(excinfo.value) == (
        f"{path}: row 2: duplicate document 'd' for query 'q' (first at row 1)"
    )


def test_run_from_parquet_without_rank_is_sorted(tmp_path):
    path = tmp_path / "run.parquet"
    q, d, s = columns(TRIPLES)
    pq.write_table(pa.table({"query_id": q, "doc_id": d, "score": s}), path)
    assert rows(Run.from_parquet(path)) == EXPECTED


def test_results_append_to(tmp_path):
    store = tmp_path / "store" / "results.parquet"
    first = sample_results()
    first.append_to(store)
    assert Results.from_store(store) == first
    second = Results.from_rows(
        [
            {
                "system": "dense",
                "dataset": "scifact",
                "split": "test",
                "metric": "ndcg@10",
                "value": 0.7,
                "run_id": "r2",
                "created_at": dt.datetime(2025, 1, 1, tzinfo=UTC),
            }
        ]
    )
    second.append_to(store)
    stored = Results.from_store(store)
    assert len(stored) == 4
    assert stored.table.slice(0, 3).equals(first.table)
    assert stored.table.slice(3).equals(second.table)
    # no temporary file left; the lock file stays (deleting it would race with a waiter)
    names = sorted(p.name for p in store.parent.iterdir())
    assert names == [".results.parquet.lock", "results.parquet"]
    parts = sorted(p.name for p in store.iterdir())
    assert parts == ["000000000001-000000000001.parquet", "000000000002-000000000002.parquet"]


def test_results_append_to_bad_store(tmp_path):
    store = tmp_path / "results.parquet"
    store.write_text("not parquet")
    with pytest.raises(DataFormatError, match="not a readable Parquet file"):
        sample_results().append_to(store)
    assert store.read_text() == "not parquet"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".results.parquet.lock", store.name]


# ---------------------------------------------------------------- writers


def test_write_beir_round_trip(tmp_path):
    corpus, queries = sample_corpus(), sample_queries()
    test = sample_qrels()
    train = Qrels.from_dict({"q1": {"d2": 2}})
    folder = write_beir(tmp_path / "ds", corpus, queries, {"test": test, "train": train})
    assert folder == tmp_path / "ds"
    beir = BeirFolder(folder)
    assert beir.splits == ["test", "train"]
    assert beir.corpus == corpus
    assert beir.queries() == queries
    assert beir.qrels("test") == test
    assert beir.qrels("train") == train
    assert beir.queries("train").to_dict() == {"q1": "what?"}
    assert sorted(p.name for p in folder.rglob("*")) == [
        "corpus.jsonl",
        "qrels",
        "queries.jsonl",
        "test.tsv",
        "train.tsv",
    ]


def test_write_beir_overwrites(tmp_path):
    write_beir(tmp_path, sample_corpus(), sample_queries(), {"test": sample_qrels()})
    small = Corpus.from_dict({"x": {"text": "y"}})
    write_beir(tmp_path, small, sample_queries(), {"test": sample_qrels()})
    assert BeirFolder(tmp_path).corpus == small


def test_write_trec_run_round_trip_exact(tmp_path):
    scores = [
        0.1 + 0.2,
        1 / 3,
        2 / 3,
        1e-300,
        5e-324,
        -0.0,
        0.0,
        1.7976931348623157e308,
        -math.inf,
        math.inf,
        123456789.123456789,
        -2.5e-17,
        0.30000000000000004,
    ]
    docs = [f"d{i}" for i in range(len(scores))]
    rng = np.random.default_rng(3)
    extra = rng.standard_normal(200)
    run = Run.from_arrays(
        ["q1"] * len(scores) + [f"q{i % 7}" for i in range(200)],
        docs + [f"e{i}" for i in range(200)],
        scores + extra.tolist(),
    )
    path = tmp_path / "run.txt"
    write_trec_run(run, path, tag="mytag")
    back = read_trec_run(path)
    assert back == run
    assert [repr(s) for s in back.table.column("score").to_pylist()] == [
        repr(s) for s in run.table.column("score").to_pylist()
    ]
    first = path.read_text().splitlines()[0].split()
    assert first[1] == "Q0" and first[5] == "mytag"
    assert [line.split()[3] for line in path.read_text().splitlines()] == [
        str(r) for r in run.table.column("rank").to_pylist()
    ]


def test_write_trec_qrels_round_trip(tmp_path):
    qrels = sample_qrels()
    write_trec_qrels(qrels, tmp_path / "qrels.txt")
    assert read_trec_qrels(tmp_path / "qrels.txt") == qrels


# ---------------------------------------------------------------- properties

ID_ALPHABET = "abAB_01é€"
ids = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=3)
SCORES = [-math.inf, -1.0, -0.0, 0.0, 0.25, 0.5, 1.0, math.inf]
triples_strategy = st.lists(
    st.tuples(st.text(alphabet="qQ1", min_size=1, max_size=2), ids, st.sampled_from(SCORES)),
    max_size=60,
    unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triples_strategy)
def test_run_order_matches_python_sorted(triples):
    run = Run.from_arrays([t[0] for t in triples], [t[1] for t in triples], [t[2] for t in triples])
    got = rows(run)
    expected = with_ranks(reference_order(triples))
    assert [r[:2] for r in got] == [r[:2] for r in expected]
    assert [r[3] for r in got] == [r[3] for r in expected]
    assert [struct.pack("<d", r[2]) for r in got] == [struct.pack("<d", r[2]) for r in expected]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.sampled_from(SCORES), st.integers(0, 6)), max_size=80)
)
def test_trec_order_is_a_sorted_permutation(keys):
    q = np.array([k[0] for k in keys], dtype=np.int64)
    s = np.array([k[1] for k in keys], dtype=np.float64)
    d = np.array([k[2] for k in keys], dtype=np.int64)
    perm = trec_order(q, s, d)
    assert perm.dtype.kind == "i"
    assert sorted(perm.tolist()) == list(range(len(keys)))
    ordered = [(q[i], -s[i], -d[i]) for i in perm]
    assert ordered == sorted(ordered)


def test_trec_order_presorted_and_shuffled_agree():
    rng = np.random.default_rng(11)
    n = 3000
    q = np.sort(rng.integers(0, 40, n))
    s = rng.integers(0, 4, n).astype(np.float64)
    d = rng.permutation(n)
    sorted_perm = trec_order(q, s, d)
    shuffle = rng.permutation(n)
    shuffled_perm = trec_order(q[shuffle], s[shuffle], d[shuffle])
    assert np.array_equal(shuffle[shuffled_perm], sorted_perm)


def uneven_run_keys(rng):
    """One query with 5000 documents and 50 queries with one: forces the lexsort fallback."""
    sizes = [5000] + [1] * 50
    q = np.repeat(np.arange(len(sizes)), sizes)
    d = np.concatenate([rng.permutation(n * 3)[:n] for n in sizes])
    s = rng.integers(0, 6, len(q)).astype(np.float64) / 2  # many ties
    order = rng.permutation(len(q))
    return q[order], s[order], d[order]


def test_trec_order_padded_and_fallback_paths_agree(monkeypatch):
    rng = np.random.default_rng(5)
    q, s, d = uneven_run_keys(rng)
    calls = []
    real_lexsort = np.lexsort

    def spy(keys, axis=-1):
        calls.append(np.ndim(keys[0]))
        return real_lexsort(keys, axis=axis)

    monkeypatch.setattr(ordering.np, "lexsort", spy)
    fallback = trec_order(q, s, d)
    assert calls == [1]  # one global 1-D lexsort: the fallback path ran

    # The same rows, one query at a time: each call takes the padded 2-D path, which
    # sorts row by row (ties included) and never calls lexsort.
    calls.clear()
    padded = []
    for qid in np.unique(q):
        rows_of_q = np.flatnonzero(q == qid)
        part = trec_order(q[rows_of_q], s[rows_of_q], d[rows_of_q])
        padded.append(rows_of_q[part])
    assert calls == []
    padded = np.concatenate(padded)
    assert np.array_equal(fallback, padded)

    expected = sorted(range(len(q)), key=lambda i: (q[i], -s[i], -d[i]))
    assert fallback.tolist() == expected


def test_run_with_uneven_queries_matches_reference():
    rng = np.random.default_rng(9)
    q, s, d = uneven_run_keys(rng)
    qids = [f"q{int(x):03d}" for x in q]
    dids = [f"d{int(x)}" for x in d]
    run = Run.from_arrays(qids, dids, s)
    expected = with_ranks(reference_order(list(zip(qids, dids, s.tolist(), strict=True))))
    assert rows(run) == expected


def test_string_hashes_equal_for_equal_ids_and_none_past_max_bytes():
    ids = pa.array(["d1", "d10", "d1", "", "é€", "d10"])
    hashes = string_hashes(ids)
    assert hashes[0] == hashes[2] and hashes[1] == hashes[5]
    assert len(set(hashes[[0, 1, 3, 4]].tolist())) == 4
    assert string_hashes(ids.slice(1, 3)).tolist() == hashes[1:4].tolist()  # sliced arrays
    assert string_hashes(pa.array(["x" * 17])) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=16), min_size=1, max_size=40), st.integers(0, 3))
def test_string_hashes_tell_ids_apart_by_every_byte(raw, skip):
    """Ids up to 16 bytes: equal hashes exactly for equal ids (every byte and the length
    count; trailing NUL bytes too), on a sliced array as on a whole one."""
    ids = [bytes(c & 0x7F for c in b).decode("ascii") for b in raw]  # 1 byte per char
    hashes = string_hashes(pa.array(["pad"] * skip + ids).slice(skip))
    assert len(hashes) == len(ids)
    by_id = {}
    for value, h in zip(ids, hashes.tolist(), strict=True):
        assert by_id.setdefault(value, h) == h
    assert len(set(by_id.values())) == len(by_id)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ab\x00é", max_size=6), min_size=1, max_size=30))
def test_duplicate_check_agrees_with_python(ids):
    has_dup = len(set(ids)) < len(ids)
    if has_dup:
        with pytest.raises(DataFormatError, match="duplicate document"):
            Run.from_arrays(["q"] * len(ids), ids, [0.0] * len(ids))
    else:
        assert len(Run.from_arrays(["q"] * len(ids), ids, [0.0] * len(ids))) == len(ids)


@pytest.mark.parametrize("distinct_scores", [3, 1000])
def test_trec_order_tie_paths_match_reference(distinct_scores):
    # 3 distinct scores: every row ties; 1000: a few ties. Either way only the doc ids of
    # tied rows are ranked.
    rng = np.random.default_rng(distinct_scores)
    n_queries, per_query = 40, 50
    q = np.repeat(np.arange(n_queries), per_query)
    s = rng.integers(0, distinct_scores, len(q)).astype(float)
    d = np.concatenate([rng.permutation(1000)[:per_query] for _ in range(n_queries)])
    asked = []

    def rank_of(rows):
        asked.append(len(rows))
        return d[rows]

    order = trec_order(q, s, rank_of)
    expected = sorted(range(len(q)), key=lambda i: (q[i], -s[i], -d[i]))
    assert order.tolist() == expected
    if distinct_scores == 3:
        assert asked == [len(q)]
    else:
        assert len(asked) == 1 and 0 < asked[0] < len(q) // 8


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=10),
    scores=st.sampled_from(["descending", "ties", "random"]),
    seed=st.integers(0, 2**16),
)
def test_trec_order_of_grouped_rows_in_any_query_order(sizes, scores, seed):
    """Rows grouped by query, the groups in any order (a run file's usual layout; the
    O(n + Q log Q) path), scores already descending or not: still trec_eval's order."""
    rng = np.random.default_rng(seed)
    queries = rng.permutation(len(sizes))
    q = np.repeat(queries, sizes)
    n = len(q)
    if scores == "descending":
        s = np.concatenate([np.sort(rng.normal(size=k))[::-1] for k in sizes])
    elif scores == "ties":
        s = np.concatenate([np.sort(rng.integers(0, 3, k))[::-1] for k in sizes]).astype(float)
    else:
        s = rng.normal(size=n)
    d = rng.permutation(n)
    perm = trec_order(q, s, d)
    assert sorted(perm.tolist()) == list(range(n))
    ordered = [(q[i], -s[i], -d[i]) for i in perm]
    assert ordered == sorted(ordered)


def test_qrels_for_queries_keeps_only_their_judgements():
    qrels = Qrels.from_dict({"q1": {"a": 1, "b": 0}, "q2": {"a": 2}, "q3": {"c": -1}})
    subset = qrels.for_queries(pa.array(["q3", "q1", "q9"]))
    assert subset == Qrels.from_dict({"q1": {"a": 1, "b": 0}, "q3": {"c": -1}})
    assert subset.source == qrels.source
    assert len(qrels.for_queries(pa.array([], pa.string()))) == 0


def test_open_native_reads_the_file_opened_not_the_name(tmp_path):
    """Parquet is read through Arrow native files (a Python file's destructor on an Arrow
    I/O thread at exit aborted ``rankarena run``): what was opened is read even after the
    name is replaced, and a directory or a missing file fails as ``open`` does."""
    import pyarrow.parquet as pq

    from rankarena.data.table import open_native

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), path)
    with open_native(path) as handle:
        pq.write_table(pa.table({"a": [9]}), tmp_path / "new.parquet")
        (tmp_path / "new.parquet").replace(path)
        assert pq.read_table(handle, filters=[("a", ">", 1)]).column("a").to_pylist() == [2, 3]
    with pytest.raises(IsADirectoryError):
        open_native(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_native(tmp_path / "missing.parquet")
