"""Sampler ``cluster-aware``: negatives drawn from the positive's semantic cluster or beyond it.

After Bakagianni & Papadopoulos, "MeVer at CheckThat! 2026: Cluster-Aware Hard-Negative
Mining for Multilingual Scientific-Source Retrieval" (CLEF 2026, arXiv:2605.24236): the
candidate pool is clustered in the embedding space and negatives are drawn either *locally*
(from the cluster of the gold document: near-duplicates in topic, precision-oriented) or
*broadly* (semantic negatives from the other, non-gold clusters: coverage-oriented). The paper
reports that the two structures induce different retrieval behaviour; ``local_fraction`` mixes
them.

Method, per call of ``sample(context, num_negatives)``:

1. **Embeddings.** The retriever (``dense`` by default) is indexed on the corpus once through
   the context; it must expose the document matrix ``.embeddings`` (corpus order) and a query
   encoder ``.encoder.encode(texts)`` — a retriever without them (``bm25``) is a one-line
   ``ParameterError``. Query embeddings e(q) use the retriever's ``query_prefix``; scores are
   s(q, d) = e(q) · e(d), the dense retriever's own scores.
2. **Pool.** When the corpus has at most ``whole_corpus_up_to`` documents the pool is the whole
   corpus; otherwise it is the union of every mining query's top-``pool_depth`` documents
   (exact inner-product search, ``rankarena.retrieval.vector_search.exact_search``) plus the
   shown positives (each positive needs a cluster).
3. **Clusters.** k-means on the pool's embeddings (squared Euclidean distance; for normalised
   embeddings this orders points as cosine similarity does): seeded k-means++ initialisation
   (Arthur & Vassilvitskii, "k-means++: The Advantages of Careful Seeding", SODA 2007) then
   Lloyd iterations until no assignment changes or ``iterations`` is reached, in NumPy (no
   scikit-learn). An empty cluster is re-seeded with the point farthest from its centre.
   ``clusters`` defaults to ⌈√(n/2)⌉ for a pool of n documents (the classic rule of thumb),
   and is capped at n. The seed comes from the context (``context.rng``).
4. **Negatives**, per (query, shown positive) row, never a shown positive of the query:
   ``round(local_fraction · num_negatives)`` *local* negatives — pool documents in the
   positive's cluster, hardest first (highest s(q, d)) — then the rest *broad* — pool
   documents of the other clusters, chosen by ``broad``: ``hardest`` (highest s(q, d)
   first), ``spread`` (round-robin over the other clusters, the cluster holding the
   best-scoring candidate first, each cluster's hardest first: one negative per cluster
   before any cluster gives a second) or ``random`` (uniform, seeded; listed by score).
   When the positive's cluster holds too few candidates the shortfall is filled with broad
   negatives; when the pool is too small a row has fewer negatives (as ``retriever-topk``).

Rows list the local negatives first, then the broad ones; ``negative_scores`` are s(q, d)
and ``positive_score`` is s(q, positive). After ``sample`` the sampler keeps the clustering
(``labels``: document id → cluster, ``centroids``, ``pool_ids``); ``local_mask(examples)``
says per row which negatives share the positive's cluster.

No extra dependency: NumPy, plus torch through ``exact_search`` (already required).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

import rankarena
from rankarena import ParameterError
from rankarena.api.checks import check_choice
from rankarena.api.mining import MiningContext, TrainingExamples
from rankarena.api.retrieval import exact_search

BROAD = ("hardest", "spread", "random")


def embedding_retriever(
    context: MiningContext, retriever: str, params: dict[str, Any], sampler: str
) -> Any:
    """The context's indexed ``retriever``, checked to expose ``.embeddings`` and an encoder.

    Raises a one-line ``ParameterError`` for a retriever without document embeddings.
    """
    model = context.retriever(retriever, params)
    encoder = getattr(model, "encoder", None)
    if getattr(model, "embeddings", None) is None or not callable(getattr(encoder, "encode", None)):
        raise ParameterError(
            f"sampler {sampler!r}: retriever {retriever!r} has no document embeddings and query "
            "encoder (.embeddings, .encoder.encode); use a dense retriever such as 'dense'"
        )
    return model


def as_params(value: Any, name: str, sampler: str) -> dict[str, Any]:
    """``value`` (a mapping of parameters, or None) as a dict; anything else is an error."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(
            f"sampler {sampler!r}: {name} must be a dict of parameters, "
            f"got {type(value).__name__} {value!r}"
        )
    return dict(value)


def query_texts(model: Any, context: MiningContext, query_ids: list[str]) -> list[str]:
    """The texts of ``query_ids`` as the retriever encodes them (its ``query_prefix`` first)."""
    texts = context.queries.to_dict()
    prefix = getattr(model, "query_prefix", "")
    return [prefix + texts[q] for q in query_ids]


def default_clusters(n_points: int) -> int:
    """⌈√(n/2)⌉, at least 2 and at most ``n_points``."""
    return max(1, min(n_points, max(2, math.ceil(math.sqrt(n_points / 2)))))


def kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding then Lloyd iterations: (centroids [k, dim], labels [n]).

    ``k`` is capped at the number of points. Deterministic for a given generator state.
    Stops when no label changes (centroids are then the means of their members) or after
    ``iterations`` Lloyd steps. An empty cluster takes the point farthest from its centre.
    """
    points = np.ascontiguousarray(points, dtype=np.float64)
    n, dim = points.shape
    if n == 0:
        raise ParameterError("k-means: no points to cluster")
    if k < 1 or iterations < 1:
        raise ParameterError(f"k-means: need k >= 1 and iterations >= 1, got {k}, {iterations}")
    k = min(k, n)
    squares = np.einsum("ij,ij->i", points, points)
    centroids = np.empty((k, dim), dtype=np.float64)
    centroids[0] = points[int(rng.integers(n))]
    closest = np.maximum(squares - 2 * points @ centroids[0] + squares_of(centroids[:1]), 0)
    for j in range(1, k):
        total = float(closest.sum())
        pick = int(rng.integers(n)) if total <= 0 else int(rng.choice(n, p=closest / total))
        centroids[j] = points[pick]
        distance = squares - 2 * points @ centroids[j] + squares_of(centroids[j : j + 1])
        closest = np.minimum(closest, np.maximum(distance, 0))
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(iterations):
        distances = squares[:, None] - 2 * points @ centroids.T + squares_of(centroids)[None, :]
        new = np.argmin(distances, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        for empty in np.flatnonzero(counts == 0):
            gaps = distances[np.arange(n), labels]
            gaps[counts[labels] <= 1] = -np.inf  # never empty another cluster
            far = int(np.argmax(gaps))
            counts[labels[far]] -= 1
            labels[far] = empty
            counts[empty] = 1
            distances[far] = np.inf
            distances[far, empty] = 0.0
        centroids = cluster_means(points, labels, k)
    return centroids, labels


def squares_of(matrix: np.ndarray) -> np.ndarray:
    """Squared L2 norm of every row."""
    return np.einsum("ij,ij->i", matrix, matrix)


def cluster_means(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The mean of every cluster's points (every cluster must be non-empty)."""
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.add.reduceat(points[order], starts, axis=0)
    return sums / counts[:, None]


class ClusterAware:
    """unverified: local (positive's cluster) and broad (other clusters) negatives (module
    docstring).

    :param retriever: a registered retriever with document embeddings (default ``dense``).
    :param params: its parameters, e.g. ``{"model": "minilm"}``.
    :param clusters: k of k-means (default: ⌈√(n/2)⌉ for a pool of n documents).
    :param local_fraction: share of each row's negatives taken from the positive's cluster.
    :param pool_depth: per-query depth whose union forms the pool on large corpora.
    :param whole_corpus_up_to: corpora of at most this many documents are clustered whole.
    :param broad: how the broad negatives are chosen: ``hardest``, ``spread`` or ``random``.
    :param iterations: the most Lloyd iterations.
    """

    name = "cluster-aware"

    def __init__(
        self,
        retriever: str = "dense",
        params: dict | None = None,
        clusters: int | None = None,
        local_fraction: float = 0.5,
        pool_depth: int = 100,
        whole_corpus_up_to: int = 20_000,
        broad: str = "hardest",
        iterations: int = 50,
    ):
        where = f"sampler {self.name!r}"
        if clusters is not None and clusters < 2:
            raise ParameterError(f"{where}: clusters must be >= 2, got {clusters}")
        if not 0.0 <= local_fraction <= 1.0:
            raise ParameterError(f"{where}: local_fraction must be in [0, 1], got {local_fraction}")
        if pool_depth < 1 or iterations < 1 or whole_corpus_up_to < 0:
            raise ParameterError(
                f"{where}: need pool_depth >= 1, iterations >= 1 and whole_corpus_up_to >= 0, "
                f"got {pool_depth}, {iterations}, {whole_corpus_up_to}"
            )
        check_choice(where, "broad", broad, BROAD)
        self.retriever, self.params = retriever, as_params(params, "params", self.name)
        self.clusters, self.local_fraction = clusters, local_fraction
        self.pool_depth, self.whole_corpus_up_to = pool_depth, whole_corpus_up_to
        self.broad, self.iterations = broad, iterations
        self.labels: dict[str, int] | None = None
        self.centroids: np.ndarray | None = None
        self.pool_ids: list[str] = []

    def local_count(self, num_negatives: int) -> int:
        """How many of ``num_negatives`` are local: round(local_fraction · num_negatives)."""
        return math.floor(self.local_fraction * num_negatives + 0.5)

    def _pool(self, context: MiningContext, model: Any, queries: np.ndarray) -> np.ndarray:
        n_docs = len(context.doc_ids)
        if n_docs <= self.whole_corpus_up_to:
            return np.arange(n_docs)
        device = str(getattr(model.encoder, "device", "cpu"))
        _, top = exact_search(queries, model.embeddings, self.pool_depth, device=device)
        shown = [context.doc_index[d] for docs in context.positives.values() for d in docs]
        return np.unique(np.concatenate([top[top >= 0].ravel(), np.asarray(shown, np.int64)]))

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        """Cluster the pool, then mine local and broad negatives per (query, positive)."""
        if num_negatives < 0:
            raise ParameterError(f"sampler {self.name!r}: num_negatives must be >= 0")
        model = embedding_retriever(context, self.retriever, self.params, self.name)
        query_ids = context.queries.ids
        queries = np.asarray(model.encoder.encode(query_texts(model, context, query_ids)))
        pool_rows = self._pool(context, model, queries)
        points = np.asarray(model.embeddings[pool_rows], dtype=np.float32)
        k = min(self.clusters or default_clusters(len(pool_rows)), len(pool_rows))
        centroids, labels = kmeans(
            points, k, context.rng(f"{self.name}:kmeans:{k}"), self.iterations
        )
        self.pool_ids = [context.doc_ids[i] for i in pool_rows]
        self.labels = dict(zip(self.pool_ids, labels.tolist(), strict=True))
        self.centroids = centroids
        position = {row: i for i, row in enumerate(pool_rows.tolist())}
        rng = context.rng(f"{self.name}:broad:{self.broad}")
        n_local = self.local_count(num_negatives)
        block = max(1, (1 << 22) // max(1, len(pool_rows)))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(query_ids), block):
            scores = queries[start : start + block].astype(np.float32) @ points.T
            for offset, query in enumerate(query_ids[start : start + block]):
                s = scores[offset].astype(np.float64)
                shown = [position[context.doc_index[d]] for d in context.positives[query]]
                eligible = np.ones(len(pool_rows), dtype=bool)
                eligible[shown] = False
                chosen: dict[int, list[int]] = {}
                for positive, at in zip(context.positives[query], shown, strict=True):
                    cluster = int(labels[at])
                    if cluster not in chosen:
                        chosen[cluster] = self._negatives(
                            s, labels, eligible, cluster, n_local, num_negatives, rng
                        )
                    picked = chosen[cluster]
                    rows.append(
                        {
                            "query_id": query,
                            "positive_id": positive,
                            "positive_score": float(s[at]),
                            "negative_ids": [self.pool_ids[i] for i in picked],
                            "negative_scores": [float(s[i]) for i in picked],
                        }
                    )
        return TrainingExamples.from_rows(rows)

    def _negatives(
        self,
        scores: np.ndarray,
        labels: np.ndarray,
        eligible: np.ndarray,
        cluster: int,
        n_local: int,
        num_negatives: int,
        rng: np.random.Generator,
    ) -> list[int]:
        """Pool positions: the local negatives (hardest first), then the broad ones."""
        inside = labels == cluster
        local = _by_score(np.flatnonzero(eligible & inside), scores)[:n_local]
        others = _by_score(np.flatnonzero(eligible & ~inside), scores)
        wanted = min(num_negatives - len(local), len(others))
        if self.broad == "hardest":
            broad = others[:wanted]
        elif self.broad == "random":
            broad = _by_score(np.sort(rng.choice(others, size=wanted, replace=False)), scores)
        else:
            broad = others[_round_robin(labels[others])][:wanted]
        return [*local.tolist(), *broad.tolist()]

    def local_mask(self, examples: TrainingExamples) -> list[np.ndarray]:
        """Per row, which negatives lie in the positive's cluster (of the last ``sample``)."""
        if self.labels is None:
            raise ParameterError(f"sampler {self.name!r}: call sample() before local_mask()")
        rows = examples.table.select(["positive_id", "negative_ids"]).to_pylist()
        return [
            np.array(
                [self.labels[d] == self.labels[row["positive_id"]] for d in row["negative_ids"]],
                dtype=bool,
            )
            for row in rows
        ]


def _by_score(candidates: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``candidates`` (pool positions) by score, highest first; ties: lower position first."""
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def _round_robin(labels: np.ndarray) -> np.ndarray:
    """An order of score-sorted items taking each cluster's best before any cluster's second.

    Clusters take turns in the order of their best item; within a cluster, score order.
    """
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    grouped = np.argsort(labels, kind="stable")
    sorted_labels = labels[grouped]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_labels)) + 1])
    sizes = np.diff(np.concatenate([starts, [n]]))
    within = np.empty(n, dtype=np.int64)
    within[grouped] = np.arange(n) - np.repeat(starts, sizes)
    first = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    return np.lexsort((first[labels], within))


@rankarena.hookimpl
def register_samplers(register) -> None:
    register("cluster-aware", ClusterAware)
