"""rankarena components as PyTerrier transformers.

* ``RankarenaRetriever(retriever, corpus, k)``: queries ``(qid, query, ...)`` → results
  ``(qid, query, ..., docno, score, rank)``, the top ``k`` of every query as ranked by the
  rankarena retriever (indexed on ``corpus`` when it is given).
* ``RankarenaReranker(reranker, corpus, k)``: results ``(qid, query, docno, score, ...)`` →
  the same rows rescored by the rankarena reranker (``k``: how many of each query's
  candidates it rescores; all by default).
* ``as_transformer(component, corpus, k=...)``: either, by the kind of the component (an
  object, or a registered name such as ``"bm25"``).

Ranks are PyTerrier's: 0 for the first document. Rows come in trec_eval order (query id,
then score descending, ties by document id descending), as rankarena's ``Run`` keeps them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyterrier as pt

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run

RESULT_COLUMNS = ["qid", "docno", "score", "rank"]


def _need(frame: pd.DataFrame, columns: tuple[str, ...], who: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RankarenaError(
            f"{who}: input frame lacks column(s) {', '.join(missing)} "
            f"(has: {', '.join(map(str, frame.columns)) or 'none'})"
        )


def _queries(frame: pd.DataFrame) -> Queries:
    first = frame.drop_duplicates("qid")
    return Queries.from_dict(
        dict(zip(first["qid"].astype(str), first["query"].astype(str), strict=True))
    )


def _frame(run: Run) -> pd.DataFrame:
    table = run.table
    return pd.DataFrame(
        {
            "qid": table.column("query_id").to_pylist(),
            "docno": table.column("doc_id").to_pylist(),
            "score": table.column("score").to_numpy(),
            "rank": table.column("rank").to_numpy() - 1,
        },
        columns=RESULT_COLUMNS,
    )


class RankarenaRetriever(pt.Transformer):
    """A rankarena retriever as a PyTerrier retrieval transformer.

    :param retriever: an object with ``index(corpus)`` and ``search(queries, k) -> Run``.
    :param corpus: the ``rankarena.Corpus`` to index it on; None when it is indexed already.
    :param k: documents per query.
    """

    def __init__(self, retriever: Any, corpus: Corpus | None = None, k: int = 1000):
        super().__init__()
        if k < 1:
            raise ParameterError(f"RankarenaRetriever: k must be at least 1, got {k}")
        self.retriever, self.k = retriever, k
        if corpus is not None:
            retriever.index(corpus)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        _need(inp, ("qid", "query"), "RankarenaRetriever")
        if inp.empty:
            return pd.DataFrame(columns=[*inp.columns, "docno", "score", "rank"])
        inp = inp.assign(qid=inp["qid"].astype(str))
        out = _frame(self.retriever.search(_queries(inp), self.k))
        # the query columns (query, query_0 ...) ride along, as PyTerrier's retrievers keep them
        extra = [c for c in inp.columns if c not in RESULT_COLUMNS]
        if extra:
            out = out.merge(inp.drop_duplicates("qid")[["qid", *extra]], on="qid", how="left")
        return out[["qid", *extra, "docno", "score", "rank"]]

    def __repr__(self) -> str:
        return f"RankarenaRetriever({type(self.retriever).__name__}, k={self.k})"


class RankarenaReranker(pt.Transformer):
    """A rankarena reranker as a PyTerrier re-ranking transformer.

    :param reranker: an object with ``rerank(queries, corpus, run, k) -> Run``.
    :param corpus: the ``rankarena.Corpus`` the candidates' texts come from.
    :param k: candidates per query to rescore (by the input's score); None: all of them.
        Candidates beyond ``k`` are dropped, as ``reranker % k`` would.
    """

    def __init__(self, reranker: Any, corpus: Corpus, k: int | None = None):
        super().__init__()
        if k is not None and k < 1:
            raise ParameterError(f"RankarenaReranker: k must be at least 1, got {k}")
        self.reranker, self.corpus, self.k = reranker, corpus, k

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        _need(inp, ("qid", "query", "docno"), "RankarenaReranker")
        if inp.empty:
            return pd.DataFrame(
                columns=[*inp.columns, *(c for c in ("score", "rank") if c not in inp)]
            )
        inp = inp.assign(qid=inp["qid"].astype(str), docno=inp["docno"].astype(str))
        scores = inp["score"] if "score" in inp.columns else -inp.groupby("qid").cumcount()
        run = Run.from_arrays(inp["qid"].tolist(), inp["docno"].tolist(), scores.to_numpy())
        k = self.k or int(inp.groupby("qid").size().max())
        out = _frame(self.reranker.rerank(_queries(inp), self.corpus, run, k))
        rest = inp.drop(columns=[c for c in ("score", "rank") if c in inp.columns])
        out = out.merge(rest, on=["qid", "docno"], how="left")
        extra = [c for c in out.columns if c not in RESULT_COLUMNS]
        return out[["qid", *extra, "docno", "score", "rank"]]

    def __repr__(self) -> str:
        return f"RankarenaReranker({type(self.reranker).__name__}, k={self.k})"


def as_transformer(
    component: Any, corpus: Corpus | None = None, k: int | None = None, **params: Any
) -> pt.Transformer:
    """``component`` as a ``pt.Transformer``: a retriever (``search``) becomes a
    ``RankarenaRetriever`` (indexed on ``corpus``; ``k`` documents per query, default 1000), a
    reranker (``rerank``) a ``RankarenaReranker`` (``corpus`` required; ``k`` candidates, default
    all). ``component`` may be a registered name (``"bm25"``), built with ``params``."""
    if isinstance(component, str):
        host = rankarena.plugin_manager()
        if component in host.retrievers:
            component = host.retrievers.create(component, **params)
        elif component in host.rerankers:
            component = host.rerankers.create(component, **params)
        else:
            raise ParameterError(
                f"as_transformer: {component!r} is no registered retriever or reranker; "
                f"retrievers: {', '.join(host.retrievers.names())}; "
                f"rerankers: {', '.join(host.rerankers.names())}"
            )
    elif params:
        raise ParameterError("as_transformer: parameters are for a component given by name")
    if hasattr(component, "rerank"):
        if corpus is None:
            raise ParameterError("as_transformer: a reranker needs the corpus of its documents")
        return RankarenaReranker(component, corpus, k)
    if hasattr(component, "search") and hasattr(component, "index"):
        return RankarenaRetriever(component, corpus, 1000 if k is None else k)
    raise ParameterError(
        f"as_transformer: {type(component).__name__} is neither a retriever "
        "(index, search) nor a reranker (rerank)"
    )
