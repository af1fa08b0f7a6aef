"""The built-in ``dense`` retriever: embeddings equal sentence-transformers', search equals
brute force, the embedding cache is reused. Uses the offline MiniLM weights on a subset."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

import rankarena
from rankarena import Corpus, Queries
from rankarena.errors import ParameterError, UnknownNameError
from rankarena.retrieval.models import resolve_model


@pytest.fixture(scope="module")
def subset(scifact):
    corpus = Corpus(scifact.corpus.table.slice(0, 60))
    queries = Queries(scifact.queries("test").table.slice(0, 12))
    return corpus, queries


@pytest.fixture(scope="module")
def dense():
    return rankarena.plugin_manager().retrievers.create("dense", model="minilm", device="cpu")


def test_embeddings_equal_sentence_transformers(dense, subset):
    from sentence_transformers import SentenceTransformer

    corpus, _ = subset
    texts = corpus.texts()
    reference = SentenceTransformer(resolve_model("minilm").location, device="cpu")
    expected = reference.encode(texts, batch_size=16, convert_to_numpy=True)
    ours = dense.encoder.encode(texts)
    assert dense.encoder.pooling == "mean" and dense.encoder.normalize
    assert dense.encoder.max_length == reference.max_seq_length == 256
    np.testing.assert_allclose(ours, expected, atol=2e-5)


def test_chunked_search_equals_brute_force(dense, subset):
    corpus, queries = subset
    dense.chunk_size = 7  # many chunks: the running top-k merge is exercised
    run = dense.index(corpus).search(queries, k=10)
    q = dense.encoder.encode(queries.table.column("text").to_pylist())
    scores = q @ np.asarray(dense.embeddings).T
    for i, qid in enumerate(queries.ids):
        top = np.argsort(-scores[i], kind="stable")[:10]
        got = run.to_dict()[qid]
        assert set(got) == {corpus.ids[j] for j in top}
        for j in top:
            assert got[corpus.ids[j]] == pytest.approx(float(scores[i, j]), abs=1e-5)
    dense.chunk_size = 50_000


def test_embedding_cache_is_reused(subset, tmp_path):
    corpus, _ = subset
    host = rankarena.plugin_manager()
    first = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path))
    first.index(Corpus(corpus.table.slice(0, 20)))
    assert not first.cache_hit and len(list(tmp_path.glob("*.npy"))) == 1
    second = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path))
    forward_passes = []
    second.encoder.network.register_forward_hook(lambda *args: forward_passes.append(1))
    second.index(Corpus(corpus.table.slice(0, 20)))
    assert second.cache_hit and isinstance(second.embeddings, np.memmap)
    assert forward_passes == []  # the cache hit ran no model forward pass
    np.testing.assert_array_equal(np.asarray(second.embeddings), first.embeddings)
    changed = corpus.table.slice(0, 20).set_column(
        2, "text", pa.array(["changed"] * 20, pa.string())
    )
    third = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path))
    third.index(Corpus(changed))
    assert not third.cache_hit and len(list(tmp_path.glob("*.npy"))) == 2
    fourth = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path), dtype="bf16")
    fourth.index(Corpus(corpus.table.slice(0, 20)))
    assert not fourth.cache_hit  # another dtype, other embeddings


def test_dtype_follows_the_device_report(subset):
    host = rankarena.plugin_manager()
    corpus, _ = subset
    texts = corpus.texts()[:16]
    auto = host.retrievers.create("dense", device="cpu")
    assert auto.encoder.dtype == "fp32"  # the CPU report lists fp32 first
    bf16 = host.retrievers.create("dense", device="cpu", dtype="bf16")
    assert next(bf16.encoder.network.parameters()).dtype == torch.bfloat16
    reduced, full = bf16.encoder.encode(texts), auto.encoder.encode(texts)
    assert reduced.dtype == np.float32
    cosine = np.sum(reduced * full, axis=1)  # both normalised
    assert cosine.min() > 0.99
    with pytest.raises(ParameterError, match="device cpu does not report fp16; it reports: fp32"):
        host.retrievers.create("dense", device="cpu", dtype="fp16")
    with pytest.raises(ParameterError, match=r"unknown dtype 'bf61' \(did you mean 'bf16'"):
        host.retrievers.create("dense", device="cpu", dtype="bf61")


def test_faiss_backends_behind_the_same_interface(dense, subset):
    pytest.importorskip("faiss")
    corpus, queries = subset
    host = rankarena.plugin_manager()
    exact = dense.index(corpus).search(queries, k=10)
    flat = host.retrievers.create("dense", device="cpu", backend="faiss-flat")
    assert flat.index(corpus).search(queries, k=10).to_dict().keys() == exact.to_dict().keys()
    for qid, docs in flat.search(queries, k=10).to_dict().items():
        assert set(docs) == set(exact.to_dict()[qid])
    hnsw = host.retrievers.create("dense", device="cpu", backend="faiss-hnsw")
    run = hnsw.index(corpus).search(queries, k=100)  # k above the corpus size
    assert len(run) == len(queries.ids) * len(corpus.ids)
    with pytest.raises(ParameterError, match="unknown search backend 'hnsw'"):
        host.retrievers.create("dense", device="cpu", backend="hnsw")


def test_retrieval_is_deterministic(subset):
    host = rankarena.plugin_manager()
    corpus, queries = subset
    runs = [
        host.retrievers.create(name, **params).index(corpus).search(queries, k=20)
        for name, params in [("dense", {"device": "cpu"})] * 2 + [("bm25", {})] * 2
    ]
    assert runs[0] == runs[1] and runs[2] == runs[3]


def test_unknown_model_lists_the_catalog():
    with pytest.raises(UnknownNameError, match=r"unknown model 'minlm'.*did you mean 'minilm'"):
        rankarena.plugin_manager().retrievers.create("dense", model="minlm", device="cpu")


def test_dense_retrieves_relevant_scifact_documents(dense, scifact):
    # 300 judged documents of the test queries plus 200 others: a real, small collection
    qrels = scifact.qrels("test")
    judged = set(qrels.table.column("doc_id").to_pylist())
    ids = scifact.corpus.table.column("_id").to_pylist()
    keep = [i for i, d in enumerate(ids) if d in judged][:300] + [
        i for i, d in enumerate(ids) if d not in judged
    ][:200]
    corpus = Corpus(scifact.corpus.table.take(pa.array(sorted(keep))))
    queries = Queries(scifact.queries("test").table.slice(0, 60))
    run = dense.index(corpus).search(queries, k=100)
    result = rankarena.evaluate(run, qrels, ["ndcg@10", "recall@100"])
    assert result.mean["ndcg@10"] > 0.5


def test_query_embeddings_are_cached_too(subset, tmp_path):
    corpus, queries = subset
    host = rankarena.plugin_manager()
    small = Corpus(corpus.table.slice(0, 10))
    first = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path))
    run = first.index(small).search(queries, k=5)
    assert len(list(tmp_path.glob("q-*.npy"))) == 1
    second = host.retrievers.create("dense", device="cpu", cache_dir=str(tmp_path))
    passes = []
    second.encoder.network.register_forward_hook(lambda *args: passes.append(1))
    assert second.index(small).search(queries, k=5) == run
    assert passes == []


@pytest.mark.parametrize("params", [{"shards": 0}, {"batch_size": 0}, {"chunk_size": -1}])
def test_sizes_below_one_are_one_line_errors(params):
    host = rankarena.plugin_manager()
    with pytest.raises(ParameterError, match="batch_size, chunk_size and shards must be >= 1"):
        host.retrievers.create("dense", device="cpu", **params)


@pytest.fixture(scope="module")
def corpus_200(scifact):
    return Corpus(scifact.corpus.table.slice(0, 200))


def cached_retriever(cache_dir):
    return rankarena.plugin_manager().retrievers.create(
        "dense", device="cpu", cache_dir=str(cache_dir), max_length=32, show_progress=False
    )


def entry_of(retriever, corpus):
    texts = corpus.texts(with_title=True)
    return retriever._cache_path(corpus.ids, texts)


def assert_rebuilt(cache_dir, corpus, match):
    """Indexing warns, encodes the corpus again, and leaves a valid entry that the next
    retriever reuses."""
    retriever = cached_retriever(cache_dir)
    with pytest.warns(RuntimeWarning, match=match):
        retriever.index(corpus)
    assert not retriever.cache_hit and retriever.embeddings.shape == (len(corpus), 384)
    again = cached_retriever(cache_dir).index(corpus)
    assert again.cache_hit
    np.testing.assert_array_equal(np.asarray(again.embeddings), retriever.embeddings)


def test_cache_entry_with_a_row_missing_is_rebuilt(corpus_200, tmp_path):
    path = entry_of(cached_retriever(tmp_path), corpus_200)
    np.save(path, np.ones((199, 384), np.float32))  # 199 rows for 200 documents
    assert_rebuilt(tmp_path, corpus_200, r"holds float32 199x384, not float32 200x384")


def test_cache_entry_of_another_dimension_is_rebuilt(corpus_200, tmp_path):
    path = entry_of(cached_retriever(tmp_path), corpus_200)
    np.save(path, np.ones((200, 768), np.float32))
    assert_rebuilt(tmp_path, corpus_200, r"200x768, not float32 200x384")


@pytest.mark.parametrize("keep", [0, 60, 0.5])
def test_truncated_cache_entry_is_rebuilt_with_a_warning(corpus_200, tmp_path, keep):
    first = cached_retriever(tmp_path).index(corpus_200)
    path = entry_of(first, corpus_200)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    assert_rebuilt(tmp_path, corpus_200, "unreadable")


def test_unreadable_query_cache_entry_is_rebuilt(subset, tmp_path):
    corpus, queries = subset
    small = Corpus(corpus.table.slice(0, 10))
    run = cached_retriever(tmp_path).index(small).search(queries, k=5)
    (entry,) = tmp_path.glob("q-*.npy")
    np.save(entry, np.ones((len(queries) - 1, 384), np.float32))
    with pytest.warns(RuntimeWarning, match=r"q-.*holds float32 11x384, not float32 12x384"):
        assert cached_retriever(tmp_path).index(small).search(queries, k=5) == run
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match="unreadable"):
        assert cached_retriever(tmp_path).index(small).search(queries, k=5) == run
    assert np.load(entry, allow_pickle=False).shape == (12, 384)  # rewritten whole


def test_an_index_or_search_that_will_not_fit_is_refused_before_encoding(subset, monkeypatch):
    corpus, queries = subset
    dense = rankarena.plugin_manager().retrievers.create("dense", model="minilm", device="cpu")
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "50K")  # 60 x 384 float32 = 90 KiB
    encoded: list[int] = []
    monkeypatch.setattr(dense.encoder, "encode", lambda texts, *a: encoded.append(len(texts)))
    with pytest.raises(rankarena.RankarenaError) as caught:
        dense.index(corpus)
    assert str(caught.value) == (
        "retriever 'dense' needs 90.0 KiB to hold 60 document vectors (encoded); limit: "
        "50.0 KiB (RANKARENA_MAX_MEMORY=50K); set a cache_dir so that the exact backend "
        "reads them memory-mapped, or index a smaller corpus"
    )
    assert encoded == []  # refused before any encoding
    monkeypatch.undo()
    dense.index(corpus)
    monkeypatch.setenv("RANKARENA_MAX_MEMORY", "10K")
    with pytest.raises(rankarena.RankarenaError, match=r"search 12 queries at k=1,000; .*lower k"):
        dense.search(queries, k=1000)
