"""Shared fixtures: the real data folder and runs built from it.

Data is found through ``RANKARENA_DATA_DIR`` (default: ``../shared/data`` beside the
checkout). Where it is absent, tests that need it skip with the reason, unless
``RANKARENA_REQUIRE_DATA=1`` (set by ``.ci/run``) turns the absence into a failure.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from rankarena.data import BeirFolder, Run

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RANKARENA_DATA_DIR", REPO.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _data_folder(name: str) -> Path:
    folder = DATA_DIR / name
    if not folder.is_dir():
        reason = f"real data folder {folder} is absent (set RANKARENA_DATA_DIR)"
        if os.environ.get("RANKARENA_REQUIRE_DATA") == "1":
            pytest.fail(reason + "; RANKARENA_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    return _data_folder("scifact")


@pytest.fixture
def float64_default():
    """Double precision as torch's default dtype (gradcheck, tight comparisons); restored."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(scope="session")
def scifact_subset(scifact):
    """``make(n_queries, n_others, split="train")``: the first ``n_queries`` judged SciFact
    queries of ``split``, their judged documents plus the first ``n_others`` other documents,
    and their qrels."""
    import pyarrow as pa

    from rankarena.data import Corpus, Qrels

    def make(n_queries: int, n_others: int, split: str = "train"):
        judged = scifact.qrels(split).to_dict()
        queries = scifact.queries(split)
        ids = [q for q in queries.ids if q in judged][:n_queries]
        wanted = {d for q in ids for d in judged[q]}
        others = [d for d in scifact.corpus.ids if d not in wanted][:n_others]
        keep = wanted | set(others)
        table = scifact.corpus.table
        corpus = Corpus(
            table.filter(pa.array([d in keep for d in table.column("_id").to_pylist()]))
        )
        return corpus, queries.select(ids), Qrels.from_dict({q: judged[q] for q in ids})

    return make


@pytest.fixture(scope="session")
def mteb_dir() -> Path:
    """The MTEB leaderboard export (scores.parquet, benchmarks.json)."""
    return _data_folder("mteb")


@pytest.fixture(scope="session")
def scifact(scifact_dir) -> BeirFolder:
    return BeirFolder(scifact_dir)


def tfidf_run(corpus, queries, k: int = 1000, round_to: int | None = None) -> Run:
    """A real lexical run: TF-IDF cosine between bag-of-words vectors (scipy sparse).

    ``round_to`` rounds scores to that many decimals, which creates many ties.
    """
    token = re.compile(r"[a-z0-9]+")
    vocab: dict[str, int] = {}

    def bag(texts):
        rows, cols = [], []
        for i, text in enumerate(texts):
            for word in token.findall(text.lower()):
                rows.append(i)
                cols.append(vocab.setdefault(word, len(vocab)))
        return rows, cols

    doc_rows, doc_cols = bag(corpus.texts())
    q_rows, q_cols = bag(queries.table.column("text").to_pylist())
    n_docs, n_terms = len(corpus), len(vocab)
    docs = sp.csr_matrix((np.ones(len(doc_rows)), (doc_rows, doc_cols)), (n_docs, n_terms))
    qs = sp.csr_matrix((np.ones(len(q_rows)), (q_rows, q_cols)), (len(queries), n_terms))
    df = np.bincount(docs.indices, minlength=n_terms)
    idf = np.log((1 + n_docs) / (1 + df)) + 1
    docs = sp.csr_matrix(docs.multiply(idf))
    qs = sp.csr_matrix(qs.multiply(idf))
    for m in (docs, qs):
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1
        m.data /= np.repeat(norms, np.diff(m.indptr))
    scores = (qs @ docs.T).toarray()
    if round_to is not None:
        scores = np.round(scores, round_to)
    k = min(k, n_docs)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    doc_ids = np.array(corpus.ids, dtype=object)
    query_ids = np.array(queries.ids, dtype=object)
    return Run.from_arrays(
        np.repeat(query_ids, k), doc_ids[top].ravel(), np.take_along_axis(scores, top, 1).ravel()
    )


@pytest.fixture(scope="session")
def scifact_tfidf_run(scifact) -> Run:
    return tfidf_run(scifact.corpus, scifact.queries("test"))


@dataclass(frozen=True)
class ThreeSystems:
    """Per-query nDCG@10 on the 300 SciFact test queries (``query_ids``) of TF-IDF, of
    TF-IDF with scores rounded to 2 decimals (many ties: 265 equal values) and of a seeded
    perturbation of TF-IDF's values (no ties); ``runs`` holds the first two's runs."""

    query_ids: tuple[str, ...]
    values: tuple[np.ndarray, np.ndarray, np.ndarray]
    runs: tuple[Run, Run]


@pytest.fixture(scope="session")
def scifact_three_systems(scifact, scifact_tfidf_run) -> ThreeSystems:
    import rankarena

    qrels = scifact.qrels("test")
    first = rankarena.evaluate(scifact_tfidf_run, qrels, ["ndcg@10"])
    rounded_run = tfidf_run(scifact.corpus, scifact.queries("test"), round_to=2)
    rounded = rankarena.evaluate(rounded_run, qrels, ["ndcg@10"])
    assert list(first.query_ids) == list(rounded.query_ids)
    a = np.asarray(first.per_query["ndcg@10"], dtype=np.float64)
    b = np.asarray(rounded.per_query["ndcg@10"], dtype=np.float64)
    rng = np.random.default_rng(17)
    c = np.clip(a + rng.normal(0.02, 0.15, len(a)), 0.0, 1.0)
    assert len(a) == 300 and np.count_nonzero(a != b) > 10
    return ThreeSystems(tuple(first.query_ids), (a, b, c), (scifact_tfidf_run, rounded_run))


@pytest.fixture(scope="session")
def climate() -> BeirFolder:
    """climate-fever-sentences: graded qrels (0, 1, 2), 5 judged sentences per claim."""
    return BeirFolder(_data_folder("climate-fever-sentences"))


@pytest.fixture(scope="session")
def climate_tfidf_run(climate) -> Run:
    """A TF-IDF run of the 793 test claims over the 5,240 sentences (top 1,000)."""
    return tfidf_run(climate.corpus, climate.queries("test"))


def metric_error(metric) -> str:
    """The one-line ``ParameterError`` text that evaluating ``metric`` (a name, or a
    callable building a metric object) on a one-query run raises."""
    from rankarena import ParameterError, Qrels, Run, evaluate

    qrels = Qrels.from_dict({"q": {"a": 1}})
    run = Run.from_dict({"q": {"a": 1.0}})
    with pytest.raises(ParameterError) as info:
        evaluate(run, qrels, [metric() if callable(metric) else metric])
    text = str(info.value)
    assert "\n" not in text
    return text
