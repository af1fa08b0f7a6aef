"""Conformance rules of retrievers (``register_retrievers``) and rerankers
(``register_rerankers``), checked on the kit's sample collection.

Retriever rules (``search`` first: searching the sample's queries, the empty one aside,
must work at all):

* ``index-returns-self``: ``index(corpus)`` returns the retriever, so ``index(c).search``
  chains;
* ``at-most-k``: no query gets more than ``k`` documents (k = 5 and k = 1);
* ``ids-from-corpus``: every document id is one of the indexed corpus, every query id one
  of the queries searched;
* ``finite-scores``: no NaN or infinite score;
* ``deterministic``: searching again, and with a new instance, gives the same run;
* ``empty-and-non-ascii-queries``: an empty query, a blank one and queries in other
  scripts are searched without error;
* ``queries-independent``: a query's results do not depend on the other queries searched
  with it (scores equal within 1e-4; documents may swap only within such a tie);
* ``index-search-split``: a retriever indexed on part of the corpus returns only documents
  of that part;
* ``score-pairs`` (a retriever with ``score_pairs`` only): it scores the pairs ``search``
  returned as ``search`` did (within 1e-4), and empty queries' pairs without error.

Reranker rules: ``at-most-k``, ``ids-from-run`` (only documents the run retrieved for the
query), ``finite-scores``, ``deterministic``, ``empty-and-non-ascii-queries``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.host import PluginHost
from ..data import Corpus, Queries, Run
from . import sample
from .components import Component, subject
from .rules import Checklist, broken, require

K = 5
ODD_QUERIES = {
    "odd-empty": "",
    "odd-blank": "   \t ",
    "odd-cjk": "北京的首都",
    "odd-accents": "Zürich café naïve",
    "odd-emoji": "🚀 rocket to Mars",
}
"""Queries every retriever must survive."""


def _rows(run: Run) -> dict[str, list[tuple[str, float]]]:
    """Query id → [(doc id, score)] in rank order."""
    out: dict[str, list[tuple[str, float]]] = {}
    for q, d, s in zip(
        run.table.column("query_id").to_pylist(),
        run.table.column("doc_id").to_pylist(),
        run.table.column("score").to_pylist(),
        strict=True,
    ):
        out.setdefault(q, []).append((d, s))
    return out


def _at_most(run: Run, k: int) -> None:
    for query, docs in _rows(run).items():
        require(len(docs) <= k, f"query {query!r}: {len(docs)} documents for k={k}")


def _ids_within(run: Run, docs: set[str], queries: set[str], what: str) -> None:
    for query, rows in _rows(run).items():
        require(query in queries, f"query id {query!r} was not among the queries searched")
        stray = [d for d, _ in rows if d not in docs]
        if stray:
            broken(f"query {query!r}: document {stray[0]!r} is not in {what}")


def _finite(run: Run) -> None:
    scores = np.asarray(run.table.column("score").to_numpy(), dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        query = run.table.column("query_id")[int(bad[0])].as_py()
        broken(f"query {query!r}: score {scores[bad[0]]} is not finite")


def _same(first: Run, second: Run, what: str) -> None:
    a, b = _rows(first), _rows(second)
    for query in sorted(set(a) | set(b)):
        left, right = a.get(query, []), b.get(query, [])
        require(
            [d for d, _ in left] == [d for d, _ in right]
            and np.allclose([s for _, s in left], [s for _, s in right], rtol=1e-9, atol=0),
            f"query {query!r}: {what} returned {[d for d, _ in right][:K]}, "
            f"first {[d for d, _ in left][:K]}",
        )


def _same_up_to_ties(alone: Run, together: Run, tolerance: float = 1e-4) -> None:
    a, b = _rows(alone), _rows(together)
    for query, rows in a.items():
        other = dict(b.get(query, []))
        mine = dict(rows)
        for doc, score in rows:
            if doc in other:
                require(
                    abs(other[doc] - score) <= tolerance * max(1.0, abs(score)),
                    f"query {query!r}: document {doc!r} scored {score:.6g} searched alone "
                    f"but {other[doc]:.6g} with the other queries",
                )
        lowest = min([s for _, s in rows] + [s for s in other.values()], default=0.0)
        for doc in set(mine) ^ set(other):
            score = mine.get(doc, other.get(doc))
            require(
                abs(score - lowest) <= tolerance * max(1.0, abs(score)),
                f"query {query!r}: document {doc!r} is retrieved only when searched "
                f"{'alone' if doc in mine else 'with the other queries'}",
            )


def check_retriever(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a retriever against every rule above; returns the rules passed.

    :param component: a registered retriever name (``"bm25"``) or its factory.
    :param params: the retriever's parameters (``{"k1": 1.2}``).
    :raises ConformanceError: naming each broken rule.
    """
    who = subject("retrievers", component, params, host)
    rules = Checklist(who.label)
    corpus = sample.corpus()
    queries = Queries.from_dict({q: t for q, t in sample.QUERIES.items() if t.strip()})
    docs, query_ids = set(corpus.ids), set(queries.ids)

    def indexed():
        retriever = who.make()
        returned = retriever.index(corpus)
        require(returned is retriever, f"index() returned {type(returned).__name__}, not self")
        return retriever

    retriever = rules.rule("index-returns-self", indexed)
    if retriever is None:  # nothing else can run on a retriever that did not index
        retriever = who.make()
        retriever.index(corpus)
    run = rules.rule("search", retriever.search, queries, K)
    if run is None:
        return rules.verdict()
    rules.rule("at-most-k", lambda: (_at_most(run, K), _at_most(retriever.search(queries, 1), 1)))
    rules.rule("ids-from-corpus", _ids_within, run, docs, query_ids, "the indexed corpus")
    rules.rule("finite-scores", _finite, run)

    def deterministic():
        _same(run, retriever.search(queries, K), "a second search")
        _same(run, who.make().index(corpus).search(queries, K), "a new instance")

    rules.rule("deterministic", deterministic)

    def odd_queries():
        odd = Queries.from_dict(ODD_QUERIES)
        result = retriever.search(odd, K)
        _at_most(result, K)
        _ids_within(result, docs, set(ODD_QUERIES), "the indexed corpus")
        _finite(result)

    rules.rule("empty-and-non-ascii-queries", odd_queries)

    def independent():
        for query in ("q-scurvy", "q-zurich"):
            alone = retriever.search(queries.select([query]), K)
            _same_up_to_ties(alone, run)

    rules.rule("queries-independent", independent)

    def split():
        part_ids = [d for d in corpus.ids if not d.startswith(("vitc-", "city-"))]
        part = Corpus(corpus.table.filter([d in set(part_ids) for d in corpus.ids]))
        result = who.make().index(part).search(queries, K)
        _ids_within(result, set(part_ids), query_ids, "the part of the corpus indexed")

    rules.rule("index-search-split", split)
    if callable(getattr(retriever, "score_pairs", None)):
        rules.rule("score-pairs", _score_pairs, retriever, run)
    return rules.verdict()


def _score_pairs(retriever, run: Run) -> None:
    """``score_pairs`` gives the pairs ``search`` returned the scores ``search`` gave them
    (within 1e-4), and scores an empty query's pairs (finite) without error."""
    rows = [(q, d, s) for q, docs in _rows(run).items() for d, s in docs]
    queries = Queries.from_dict({**sample.QUERIES, **ODD_QUERIES})
    scores = np.asarray(
        retriever.score_pairs(queries, [q for q, _, _ in rows], [d for _, d, _ in rows]),
        dtype=np.float64,
    )
    require(scores.shape == (len(rows),), f"returned shape {scores.shape} for {len(rows)} pairs")
    for (query, doc, expected), got in zip(rows, scores, strict=True):
        require(
            abs(got - expected) <= 1e-4 * max(1.0, abs(expected)),
            f"pair ({query!r}, {doc!r}): score_pairs gives {got:.6g}, search gave {expected:.6g}",
        )
    odd = np.asarray(
        retriever.score_pairs(queries, ["q-empty", "odd-blank"], ["code-1", "vitc-1"]),
        dtype=np.float64,
    )
    require(bool(np.isfinite(odd).all()), f"empty queries' pairs scored {odd.tolist()}")


def check_reranker(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a reranker against the reranker rules above; returns the rules passed.

    The run it reranks is the sample's judged documents plus four others per query, with
    scores falling by rank.

    :raises ConformanceError: naming each broken rule.
    """
    who = subject("rerankers", component, params, host)
    rules = Checklist(who.label)
    corpus, queries = sample.corpus(), sample.queries()
    ids = corpus.ids
    first: dict[str, dict[str, float]] = {}
    for number, query in enumerate(queries.ids):
        picked = list(sample.QRELS[query]) + [
            ids[(number * 7 + j * 5) % len(ids)] for j in range(4)
        ]
        first[query] = {doc: 10.0 - rank for rank, doc in enumerate(dict.fromkeys(picked))}
    run = Run.from_dict(first)
    reranker = who.make()
    reranked = rules.rule("rerank", reranker.rerank, queries, corpus, run, K)
    if reranked is None:
        return rules.verdict()
    rules.rule("at-most-k", _at_most, reranked, K)

    def from_run():
        for query, rows in _rows(reranked).items():
            top = sorted(first.get(query, {}), key=lambda d: -first[query][d])[:K]
            stray = [d for d, _ in rows if d not in top]
            if stray:
                broken(f"query {query!r}: document {stray[0]!r} is not among the run's top {K}")

    rules.rule("ids-from-run", from_run)
    rules.rule("finite-scores", _finite, reranked)
    rules.rule(
        "deterministic",
        lambda: _same(reranked, who.make().rerank(queries, corpus, run, K), "a new instance"),
    )

    def odd_queries():
        odd = Queries.from_dict(ODD_QUERIES)
        odd_run = Run.from_dict({q: {ids[0]: 2.0, ids[1]: 1.0} for q in ODD_QUERIES})
        result = reranker.rerank(odd, corpus, odd_run, K)
        _finite(result)
        _at_most(result, 2)

    rules.rule("empty-and-non-ascii-queries", odd_queries)
    return rules.verdict()
