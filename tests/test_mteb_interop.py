"""MTEB interoperability: rankarena models as mteb encoders, BEIR folders as mteb tasks,
results exported to and imported from MTEB result folders."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

import rankarena
from rankarena import RankarenaError
from rankarena.data import Corpus, Results, write_beir

LONG = " ".join(["retrieval models encode long scientific abstracts into vectors"] * 20)


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("mteb")
    from rankarena.mteb.adapter import mteb_model

    return mteb_model("minilm", max_length=64, device="cpu")


def test_importing_rankarena_does_not_import_mteb():
    code = (
        "import sys, rankarena, rankarena.mteb.adapter, rankarena.mteb.tasks, "
        "rankarena.mteb.results; print('mteb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_mteb_is_one_line(monkeypatch, tmp_path):
    from rankarena.mteb.adapter import mteb_model
    from rankarena.mteb.results import export_mteb_results, import_mteb_results
    from rankarena.mteb.tasks import beir_task

    monkeypatch.setitem(sys.modules, "mteb", None)  # "import mteb" now raises ImportError
    for call in (
        lambda: mteb_model("minilm"),
        lambda: beir_task(tmp_path),
        lambda: export_mteb_results(tmp_path / "r.parquet", tmp_path),
        lambda: import_mteb_results(tmp_path),
    ):
        with pytest.raises(RankarenaError) as info:
            call()
        message = str(info.value)
        assert "\n" not in message
        assert "pip install 'rankarena[mteb]'" in message


def test_a_retriever_without_a_bi_encoder_is_one_line():
    from rankarena.mteb.adapter import dense_encoder

    class NoEncoder:
        pass

    with pytest.raises(RankarenaError) as info:
        dense_encoder(NoEncoder())
    assert "\n" not in str(info.value)
    assert "NoEncoder has no bi-encoder" in str(info.value)


def test_the_adapter_gets_dense_through_the_registry(adapter):
    from rankarena.retrieval.bi_encoder import BiEncoder

    spec = rankarena.plugin_manager().retrievers.get("dense")
    assert type(adapter.retriever) is spec.factory
    assert isinstance(adapter.encoder, BiEncoder)


def test_model_meta(adapter):
    from mteb.models.model_meta import ModelMeta, ScoringFunction
    from mteb.models.models_protocols import EncoderProtocol

    meta = adapter.mteb_model_meta
    assert isinstance(adapter, EncoderProtocol)
    assert isinstance(meta, ModelMeta)
    assert meta.name == "rankarena/minilm"
    assert meta.revision == adapter.encoder.fingerprint[:12]
    assert meta.embed_dim == 384 and meta.max_tokens == 64
    assert meta.similarity_fn_name is ScoringFunction.COSINE
    assert meta.n_parameters == 22_713_216  # as mteb's own meta of all-MiniLM-L6-v2
    assert meta.languages == ["eng-Latn"] and meta.license == "apache-2.0"
    assert meta.experiment_kwargs == {"max_length": 64}
    assert meta.open_weights is True and "PyTorch" in meta.framework


def test_mteb_evaluate_on_mock_retrieval_task(adapter):
    import mteb
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask

    result = mteb.evaluate(adapter, [MockRetrievalTask()], cache=None, show_progress_bar=False)
    (task_result,) = result.task_results
    assert task_result.task_name == "MockRetrievalTask"
    for split in ("test", "val"):
        (scores,) = task_result.scores[split]
        assert 0.0 <= scores["ndcg_at_10"] <= 1.0
        assert scores["main_score"] == scores["ndcg_at_10"]


def test_embeddings_equal_dense_and_sentence_transformers(adapter):
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask
    from mteb.types import PromptType
    from sentence_transformers import SentenceTransformer

    from rankarena.plugins.retrieval.dense import DenseRetriever
    from rankarena.retrieval.models import resolve_model

    task = MockRetrievalTask()
    queries = ["This is a test sentence", "another query", LONG]
    titles = ["Title of d1", "", "A title"]
    texts = ["This is a positive sentence", "no title here", LONG]
    common = {"task_metadata": task.metadata, "hf_split": "test", "hf_subset": "default"}
    query_data = Dataset.from_dict({"id": ["q1", "q2", "q3"], "text": queries})
    doc_data = Dataset.from_dict({"id": ["d1", "d2", "d3"], "title": titles, "text": texts})
    q_mteb = adapter.encode(
        create_dataloader(
            query_data, task_metadata=task.metadata, prompt_type=PromptType.query, batch_size=2
        ),
        prompt_type=PromptType.query,
        **common,
    )
    d_mteb = adapter.encode(
        create_dataloader(
            doc_data, task_metadata=task.metadata, prompt_type=PromptType.document, batch_size=2
        ),
        prompt_type=PromptType.document,
        **common,
    )
    dense = DenseRetriever(model="minilm", max_length=64, device="cpu", show_progress=False)
    corpus = Corpus(pa.table({"_id": ["d1", "d2", "d3"], "title": titles, "text": texts}))
    np.testing.assert_allclose(q_mteb, dense.encode_queries(queries), atol=1e-5)
    np.testing.assert_allclose(d_mteb, np.asarray(dense.index(corpus).embeddings), atol=1e-5)

    st = SentenceTransformer(resolve_model("minilm").location, device="cpu")
    st.max_seq_length = 64
    np.testing.assert_allclose(q_mteb, st.encode(queries), atol=1e-5)
    np.testing.assert_allclose(d_mteb, st.encode(corpus.texts()), atol=1e-5)


def test_beir_task_matches_rankarena_ndcg(scifact_subset, tmp_path):
    mteb = pytest.importorskip("mteb")
    from rankarena.mteb.adapter import mteb_model
    from rankarena.mteb.tasks import beir_task
    from rankarena.plugins.retrieval.dense import DenseRetriever

    folder = tmp_path / "scifact-50"
    corpus, queries, qrels = scifact_subset(50, 500, split="test")
    write_beir(folder, corpus, queries, {"test": qrels})
    task = beir_task(folder)
    assert task.metadata.name == "scifact-50" and task.metadata.eval_splits == ["test"]
    assert task.metadata.main_score == "ndcg_at_10"
    model = mteb_model("minilm", max_length=64, device="cpu")
    result = mteb.evaluate(model, [task], cache=None, show_progress_bar=False)
    (scores,) = result.task_results[0].scores["test"]

    dense = DenseRetriever(model="minilm", max_length=64, device="cpu", show_progress=False)
    run = dense.index(corpus).search(queries, k=1000)
    ours = rankarena.evaluate(run, qrels, ["ndcg@10", "recall@100"]).mean
    print(f"ndcg@10 mteb={scores['ndcg_at_10']:.6f} rankarena={ours['ndcg@10']:.6f}")
    # mteb rounds its means to 5 decimals (mteb/_evaluators/retrieval_metrics.py), so the
    # two agree to 5e-6 at best; same embeddings, same trec_eval semantics otherwise
    assert scores["ndcg_at_10"] == pytest.approx(ours["ndcg@10"], abs=1e-4)
    assert scores["recall_at_100"] == pytest.approx(ours["recall@100"], abs=1e-4)


def _store_rows():
    now = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    rng = np.random.default_rng(7)
    rows = []
    metrics = ["ndcg@10", "recall@100", "mrr@10", "map@100", "p@10", "success@5", "map"]
    for system in ("bm25", "dense-minilm", "org/model"):
        for dataset in ("scifact", "nfcorpus", "my-local-set"):
            for split in ("test", "dev"):
                for metric in metrics:
                    rows.append(
                        {
                            "system": system,
                            "dataset": dataset,
                            "split": split,
                            "metric": metric,
                            "value": float(rng.random()),
                            "run_id": "r1",
                            "created_at": now,
                        }
                    )
    expected = {(r["system"], r["dataset"], r["split"], r["metric"]): r["value"] for r in rows}
    # a newer row wins; per-query values and robustness variants are not exported
    late = {**rows[0], "value": 0.123456789012345, "run_id": "r2"}
    expected[(late["system"], late["dataset"], late["split"], late["metric"])] = late["value"]
    extra = [
        late,
        {**rows[1], "query_id": "q1", "value": 0.5},
        {**rows[2], "variant": "typos@0.3", "value": 0.25},
    ]
    return rows + extra, expected


def test_results_round_trip(tmp_path):
    pytest.importorskip("mteb")
    from mteb.results import TaskResult

    from rankarena.leaderboard.score_sources import read_scores
    from rankarena.mteb.results import export_mteb_results, import_mteb_results

    rows, expected = _store_rows()
    store = tmp_path / "results.parquet"
    Results.from_rows(rows[:10]).append_to(store)
    Results.from_rows(rows[10:]).append_to(store)
    out = tmp_path / "mteb"
    written = export_mteb_results(store, out, revision="abc123")
    assert out / "results" / "rankarena__bm25" / "abc123" / "SciFact.json" in written
    assert (out / "results" / "org__model" / "abc123" / "NFCorpus.json").is_file()

    task_result = TaskResult.from_disk(
        out / "results" / "rankarena__bm25" / "abc123" / "SciFact.json"
    )
    (entry,) = task_result.scores["test"]
    assert entry["main_score"] == entry["ndcg_at_10"]
    assert {"recall_at_100", "mrr_at_10", "map_at_100", "precision_at_10", "hit_rate_at_5"} <= set(
        entry
    )

    imported = import_mteb_results(out)
    got = {
        (r["system"], r["dataset"], r["split"], r["metric"]): r["value"]
        for r in imported.table.to_pylist()
    }
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert set(imported.table.column("run_id").to_pylist()) == {"mteb:abc123"}

    # the existing MTEB-folder reader sees the same main scores (ndcg@10, the mean over
    # splits as mteb's TaskResult.get_score); it needs task names mteb knows, see report
    known = [r for r in rows if r["dataset"] != "my-local-set"]
    known_out = tmp_path / "mteb-known"
    export_mteb_results(Results.from_rows(known), known_out, revision="abc123")
    table = read_scores(known_out)
    for system, name in (("bm25", "rankarena/bm25"), ("org/model", "org/model")):
        for dataset, task in (("scifact", "SciFact"), ("nfcorpus", "NFCorpus")):
            want = np.mean([expected[(system, dataset, s, "ndcg@10")] for s in ("test", "dev")])
            score = table.scores[table.systems.index(name), table.tasks.index(task)]
            assert score == pytest.approx(want, abs=1e-12)


def test_cli_leaderboard_from_mteb_results_folder(tmp_path, capsys):
    """``rankarena leaderboard --mteb-results`` ranks an MTEB results folder offline, keeping
    only the benchmark's tasks, exactly as ``aggregate`` ranks the same scores."""
    import csv

    from rankarena.cli.main import main
    from rankarena.mteb.results import export_mteb_results

    rng = np.random.default_rng(0)
    datasets = ["arguana", "trec-covid", "scidocs", "fiqa", "scifact"]  # scifact: not in v2
    rows = [
        {
            "system": f"org/model-{i}",
            "dataset": d,
            "split": "test",
            "metric": "ndcg@10",
            "value": float(rng.uniform(0.2, 0.8)),
            "run_id": "r",
        }
        for i in range(5)
        for d in datasets
    ]
    export_mteb_results(Results.from_rows(rows), tmp_path / "mteb")
    out = tmp_path / "board.csv"
    args = ["--benchmark", "MTEB(eng, v2)", "--method", "borda,mean,swiss", "--output", str(out)]
    assert main(["leaderboard", "--mteb-results", str(tmp_path / "mteb"), *args]) == 0
    assert "5 systems × 4 tasks" in capsys.readouterr().out
    board = list(csv.DictReader(out.open()))
    long = tmp_path / "long.csv"
    with long.open("w") as handle:
        handle.write("system,task,score\n")
        for r in rows:
            if r["dataset"] != "scifact":
                handle.write(f"{r['system']},{r['dataset']},{r['value']}\n")
    reference = tmp_path / "reference.csv"
    assert (
        main(["aggregate", str(long), "--method", "borda,mean,swiss", "--output", str(reference)])
        == 0
    )
    expected = list(csv.DictReader(reference.open()))
    ranks = ("borda:rank", "mean:rank")  # swiss draws depend on task names and order
    assert sorted((r["system"], *(r[c] for c in ranks)) for r in board) == sorted(
        (r["system"], *(r[c] for c in ranks)) for r in expected
    )
    assert main(["leaderboard", "--mteb-results", str(tmp_path / "nope")]) == 2


def test_bad_mteb_result_file_is_one_line_naming_it(tmp_path, capsys):
    """A task result mteb cannot read stops the importer (and the leaderboard reader with
    ``strict``) with one line that names the file; the leaderboard reader otherwise leaves it
    out with one warning line naming it, as the public repository's files need; an empty
    folder says what layout it expected."""
    pytest.importorskip("mteb")
    from functools import partial

    from rankarena import DataFormatError
    from rankarena.cli.main import main
    from rankarena.leaderboard.score_sources import read_mteb_results_folder, read_scores
    from rankarena.mteb.results import export_mteb_results, import_mteb_results

    rows = [
        {
            "system": "org/m",
            "dataset": "scifact",
            "split": "test",
            "metric": "ndcg@10",
            "value": 0.5,
            "run_id": "r",
        }
    ]
    export_mteb_results(Results.from_rows(rows), tmp_path / "mteb", revision="r1")
    bad = tmp_path / "mteb" / "results" / "org__m" / "r1" / "NFCorpus.json"
    bad.write_text("{ not json")
    for read in (import_mteb_results, partial(read_mteb_results_folder, strict=True)):
        with pytest.raises(DataFormatError, match="not an MTEB task result") as info:
            read(tmp_path / "mteb")
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
    capsys.readouterr()
    assert read_scores(tmp_path / "mteb").tasks == ("SciFact",)
    (warning,) = capsys.readouterr().err.splitlines()
    assert "left out 1 file(s)" in warning and "NFCorpus.json" in warning
    assert main(["leaderboard", "--mteb-results", str(tmp_path / "mteb")]) == 0
    assert "NFCorpus.json" in capsys.readouterr().err
    assert main(["leaderboard", "--mteb-results", str(tmp_path / "mteb"), "--strict"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("rankarena: error: ") and str(bad) in line
    (tmp_path / "empty" / "results").mkdir(parents=True)
    for read in (import_mteb_results, read_scores):
        with pytest.raises(DataFormatError, match="no MTEB task results"):
            read(tmp_path / "empty")


def test_mteb_folder_table_is_cached_by_content(tmp_path, monkeypatch, capsys):
    """The second read of an unchanged folder comes from the cache (mteb is not asked); an
    edited file, an added file or another benchmark is read again, and the warning about
    an unreadable file is said on every read."""
    pytest.importorskip("mteb")
    from rankarena.leaderboard.score_sources import read_scores
    from rankarena.mteb import leaderboard_cache
    from rankarena.mteb.results import export_mteb_results

    monkeypatch.setenv("RANKARENA_CACHE_DIR", str(tmp_path / "cache"))
    rows = [
        {"system": "org/m", "dataset": d, "split": "test", "metric": "ndcg@10", "value": v}
        | {"run_id": "r"}
        for d, v in (("scifact", 0.5), ("nfcorpus", 0.25))
    ]
    export_mteb_results(Results.from_rows(rows), tmp_path / "mteb", revision="r1")
    first = read_scores(tmp_path / "mteb")
    calls = []
    real = leaderboard_cache.leaderboard_scores

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(leaderboard_cache, "leaderboard_scores", counted)
    again = read_scores(tmp_path / "mteb")
    assert calls == []  # from the cache
    assert (again.systems, again.tasks) == (first.systems, first.tasks)
    np.testing.assert_array_equal(again.scores, first.scores)
    assert len(list((tmp_path / "cache" / "mteb-leaderboards").glob("*.json"))) == 1

    read_scores(tmp_path / "mteb", benchmark="BEIR")
    assert len(calls) == 1  # another benchmark: another key
    scifact = next((tmp_path / "mteb").rglob("SciFact.json"))
    scifact.write_text(scifact.read_text().replace("0.5", "0.75"))
    edited = read_scores(tmp_path / "mteb")
    assert len(calls) == 2
    assert edited.scores[0, edited.tasks.index("SciFact")] == pytest.approx(0.75)

    (scifact.parent / "NFCorpus.json").write_text("{ not json")  # a new, unreadable file
    capsys.readouterr()
    for _ in range(2):
        read_scores(tmp_path / "mteb")
        assert "NFCorpus.json" in capsys.readouterr().err
    assert len(calls) == 3
