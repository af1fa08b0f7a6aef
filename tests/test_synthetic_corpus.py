"""``benchmarks/synthetic_corpus.py``: the corpus generator of the scaling benchmarks draws
its words and lengths from the shared collections, seeded, and fewer documents are a prefix
of more."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import rankarena
from rankarena.data import BeirFolder

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "synthetic_corpus.py"
spec = importlib.util.spec_from_file_location("synthetic_corpus", PATH)
synthetic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(synthetic)


@pytest.fixture(scope="module")
def model(scifact_dir, climate):
    return synthetic.CorpusModel.fit([scifact_dir, Path(climate.path)])


def test_seeded_and_prefix_stable(model):
    first = list(model.documents(12_000, seed=3))
    assert list(model.documents(12_000, seed=3)) == first
    assert list(model.documents(5, seed=3)) == first[:5]
    assert list(model.documents(5, seed=4)) != first[:5]
    assert len({d["_id"] for d in first}) == 12_000


def test_words_and_lengths_follow_the_collections(model):
    docs = list(model.documents(5_000, seed=0))
    lengths = np.array([len(d["text"].split()) for d in docs])
    # the same length distribution: a two-sample Kolmogorov-Smirnov test does not reject it
    assert stats.ks_2samp(lengths, model.text_lengths).pvalue > 0.01
    counts: dict[str, int] = {}
    for doc in docs:
        for word in doc["text"].split():
            counts[word] = counts.get(word, 0) + 1
    top = sorted(counts, key=counts.get, reverse=True)[:10]
    assert set(top) <= set(model.words[:30])  # the frequent words are the real frequent words
    assert set(counts) <= set(model.words)


def test_a_beir_folder_bm25_can_search(model, tmp_path):
    synthetic.write_beir(model, tmp_path, docs=2_000, queries=50, seed=1)
    folder = BeirFolder(str(tmp_path))
    queries = folder.queries("test")
    assert len(folder.corpus.ids) == 2_000 and len(queries.ids) == 50
    run = rankarena.plugin_manager().retrievers.create("bm25").index(folder.corpus)
    found = run.search(queries, 10).to_dict()
    qrels = folder.qrels("test").to_dict()
    hits = sum(any(d in found.get(q, {}) for d in docs) for q, docs in qrels.items())
    assert hits >= 40, hits  # a query's words come from its document: BM25 finds most
    lines = (tmp_path / "corpus.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["_id"] == "doc-000000000"
