"""Built-in retriever ``dense``: a transformers bi-encoder with exact, chunked search.

Embeddings follow the model's sentence-transformers configuration (``modules.json``,
``1_Pooling/config.json``): mean or CLS (or max) pooling over the last hidden states, then
L2 normalisation when the model declares a ``Normalize`` module (Reimers & Gurevych,
"Sentence-BERT", EMNLP 2019). Scores are inner products s(q, d) = e(q) · e(d) (cosine for
normalised models). Exact search multiplies the queries by the corpus one chunk at a time
and keeps a running top-k, so the full query × corpus score matrix never exists; FAISS
(flat or HNSW) is the optional alternative (``rankarena.retrieval.vector_search``).
The bi-encoder itself (``BiEncoder``, ``model_fingerprint``) lives in the framework,
``rankarena.retrieval.bi_encoder``, and is re-exported here.

The forward pass runs in the dtype the device's report lists first (``bf16`` on CUDA
devices of compute capability ≥ 8, ``fp16`` on older CUDA and on MPS, ``fp32`` on the CPU)
unless ``dtype`` names one; pooling and normalisation are computed in float32.
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run
from rankarena.api.checks import did_you_mean
from rankarena.api.datasets import atomic_path
from rankarena.api.memory import RUN_ROW_BYTES, require_memory
from rankarena.api.retrieval import (
    DTYPES,
    TRAINER_RECORDS,
    BiEncoder,
    EncoderSpec,
    FaissIndex,
    check_backend,
    choose_dtype,
    current_executor,
    encode_sharded,
    exact_search,
    exact_search_bytes,
    model_fingerprint,
    resolve_model,
)

__all__ = [
    "DTYPES",
    "TRAINER_RECORDS",
    "BiEncoder",
    "DenseRetriever",
    "corpus_fingerprint",
    "model_fingerprint",
]


def corpus_fingerprint(ids: list[str], texts: list[str]) -> str:
    """SHA-256 over every (id, text) pair, in order."""
    digest = hashlib.sha256()
    for doc_id, text in zip(ids, texts, strict=True):
        digest.update(doc_id.encode())
        digest.update(b"\0")
        digest.update(text.encode())
        digest.update(b"\1")
    return digest.hexdigest()


QUERY_BATCH = 1024
"""Queries ``exact_search`` scores at a time (its default)."""
RESULT_BYTES = RUN_ROW_BYTES + 16
"""Peak per (query, result) after the search: the float64 scores and ids handed to the
``Run`` (16 bytes), then building the ``Run`` (``RUN_ROW_BYTES``); the search's own
memory is ``exact_search_bytes`` (FAISS: its 12-byte results)."""


class DenseRetriever:
    """Bi-encoder retrieval with exact (or FAISS) inner-product search on the host's device.

    :param model: ``minilm`` (catalog alias), a local folder or a Hugging Face id.
    :param batch_size: texts per forward pass.
    :param max_length: tokens per text (default: the model's).
    :param device: overrides the device the host selected from the plugins' reports.
    :param dtype: ``auto`` (the first dtype the device reports: bf16/fp16 on capable GPUs,
        fp32 on the CPU), or ``fp32``, ``fp16``, ``bf16`` (must be one the device reports).
    :param cache_dir: where document embeddings are kept (default:
        ``$RANKARENA_CACHE_DIR/embeddings`` if that variable is set, else no cache), keyed
        by (model weights hash, corpus fingerprint incl. the document prefix, max length,
        pooling, dtype); reused memory-mapped. Entries are ``.npy`` files read without
        pickle and written atomically; one that cannot be read (truncated, pickled) or
        does not fit (rows ≠ documents, another dimension or dtype) is rebuilt with a
        ``RuntimeWarning``. Query embeddings are cached the same way (``q-*.npy``).
    :param backend: ``exact`` (chunked matrix product + top-k on the device), ``faiss-flat``
        (FAISS ``IndexFlatIP``, exact) or ``faiss-hnsw`` (FAISS HNSW, approximate).
    :param chunk_size: documents scored at once by exact search (bounds memory).
    :param hnsw_m: neighbours per node of the HNSW graph.
    :param ef_search: HNSW search beam width (at least ``k``).
    :param query_prefix: text put before every query (e.g. ``"query: "`` for E5).
    :param doc_prefix: text put before every document.
    :param with_title: encode ``title + " " + text``.
    :param show_progress: progress bars (default: when stderr is a terminal).
    :param shards: encode the corpus in this many contiguous shards, one per worker of the
        active executor (``rankarena.retrieval.executors.current_executor()``: Ray actors under
        ``executor = "ray"``, each holding its own copy of the model, with a GPU where the
        device is CUDA); with 1, or where no remote executor is active, the corpus is
        encoded in this process. The embeddings are the same either way.
    """

    # parameters that change where or how the work is done, not the run (cache keys)
    not_in_run_key = frozenset({"cache_dir", "shards"})

    @staticmethod
    def run_key_content(params: dict[str, Any]) -> str:
        """What run cache keys add to the parameters: the digest of the model's weight and
        config files (a folder trained again is a new key), or of its id when remote."""
        source = resolve_model(str(params.get("model", "minilm")))
        folder = Path(source.location) if source.local else None
        return model_fingerprint(folder, source.location)

    def __init__(
        self,
        model: str = "minilm",
        batch_size: int = 32,
        max_length: int | None = None,
        device: str | None = None,
        dtype: str = "auto",
        cache_dir: str | None = None,
        backend: str = "exact",
        chunk_size: int = 50_000,
        hnsw_m: int = 32,
        ef_search: int = 256,
        query_prefix: str = "",
        doc_prefix: str = "",
        with_title: bool = True,
        show_progress: bool | None = None,
        shards: int = 1,
    ):
        if batch_size < 1 or chunk_size < 1 or shards < 1:
            raise ParameterError(
                "retriever 'dense': batch_size, chunk_size and shards must be >= 1"
            )
        self.backend = check_backend(backend)
        report = rankarena.plugin_manager().select_device(device)
        dtype = check_dtype(dtype, report)
        self.model, self.shards = model, shards
        self.encoder = BiEncoder(model, report.name, max_length, batch_size, dtype)
        if cache_dir is None and os.environ.get("RANKARENA_CACHE_DIR"):
            cache_dir = str(Path(os.environ["RANKARENA_CACHE_DIR"]) / "embeddings")
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.chunk_size = chunk_size
        self.hnsw_m, self.ef_search = hnsw_m, ef_search
        self.query_prefix, self.doc_prefix = query_prefix, doc_prefix
        self.with_title = with_title
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress
        self.embeddings: np.ndarray | None = None
        self.cache_hit = False
        self._doc_ids: np.ndarray | None = None
        self._faiss: FaissIndex | None = None
        self._query_vectors: dict[str, np.ndarray] = {}  # text -> embedding, this instance

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query embeddings (prefix added), each text encoded once per retriever instance;
        with a ``cache_dir``, a query set's embeddings are also kept on disk."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._query_vectors))
        if missing:
            prefixed = [self.query_prefix + t for t in missing]
            path = self._cache_path([f"query:{i}" for i in range(len(prefixed))], prefixed)
            if path is not None:
                path = path.with_name("q-" + path.name)
            vectors = self._load_cached(path, len(prefixed))
            if vectors is None:
                vectors = self.encoder.encode(prefixed, self.show_progress, "encoding queries")
                write_cached(path, vectors)
            self._query_vectors.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.encoder.network.config.hidden_size), np.float32)
        return np.stack([self._query_vectors[t] for t in texts])

    def index(self, corpus: Corpus) -> DenseRetriever:
        """Encode the corpus, or load its embeddings from the cache; build FAISS if asked."""
        texts = [self.doc_prefix + t for t in corpus.texts(with_title=self.with_title)]
        self._doc_ids = np.array(corpus.ids, dtype=object)
        path = self._cache_path(corpus.ids, texts)
        self.embeddings = self._load_cached(path, len(texts), mmap=True)
        self.cache_hit = self.embeddings is not None
        self._require_index_memory(len(texts))
        if self.embeddings is None:
            self.embeddings = self._encode_corpus(texts)
            write_cached(path, self.embeddings)
        if self.backend != "exact":
            kind = self.backend.removeprefix("faiss-")
            self._faiss = FaissIndex(
                self.embeddings, kind, hnsw_m=self.hnsw_m, ef_search=self.ef_search
            )
        return self

    def _require_index_memory(self, docs: int) -> None:
        """Refuse, before encoding, an index whose vectors will not fit: N x dim float32
        encoded (none when memory-mapped from the cache), another copy in a FAISS index,
        plus HNSW's links (2·M int32 per vector at its base layer)."""
        row = 4 * int(self.encoder.network.config.hidden_size)
        needed = 0 if self.cache_hit else docs * row
        if self.backend != "exact":
            needed += docs * row + (docs * 8 * self.hnsw_m if self.backend == "faiss-hnsw" else 0)
        what = "encoded" if not self.cache_hit else "in the FAISS index"
        require_memory(
            "retriever 'dense'",
            needed,
            f"to hold {docs:,} document vectors ({what})",
            "set a cache_dir so that the exact backend reads them memory-mapped, or index a "
            "smaller corpus",
        )

    def _load_cached(self, path: Path | None, rows: int, mmap: bool = False) -> np.ndarray | None:
        """The cached embeddings at ``path`` if it holds ``rows`` × the model's dimension
        float32 values; None when there is no entry, or with a warning when the entry is
        unreadable or does not fit (it is then rebuilt and replaced)."""
        if path is None or not path.is_file():
            return None
        expected = (rows, int(self.encoder.network.config.hidden_size))
        try:
            vectors = read_cache_entry(path, mmap)
        except ValueError as exc:
            _discard(path, f"unreadable ({exc})")
            return None
        if vectors.dtype != np.float32 or vectors.shape != expected:
            found = f"{vectors.dtype} {'x'.join(map(str, vectors.shape))}"
            _discard(path, f"holds {found}, not float32 {expected[0]}x{expected[1]}")
            return None
        return vectors

    def _encode_corpus(self, texts: list[str]) -> np.ndarray:
        """The corpus embeddings: sharded over the active remote executor's workers when
        ``shards > 1``, else in this process."""
        executor = current_executor()
        if self.shards > 1 and executor is not None and executor.remote:
            encoder = self.encoder
            spec = EncoderSpec(
                self.model,
                str(encoder.device),
                encoder.max_length,
                encoder.batch_size,
                encoder.dtype,
            )
            return encode_sharded(spec, texts, self.shards, executor)
        return self.encoder.encode(texts, self.show_progress, "encoding corpus")

    def patched(self, corpus: Corpus, changed: list[str]) -> DenseRetriever:
        """A copy indexed on ``corpus``, which differs from the indexed corpus only in the
        documents ``changed``: only those are re-encoded (robustness attacks)."""
        import copy

        if self.embeddings is None or self._doc_ids is None:
            raise RankarenaError("retriever 'dense': call index(corpus) before patched()")
        if list(corpus.ids) != self._doc_ids.tolist():
            raise RankarenaError("retriever 'dense': patched() needs the same document ids")
        texts = dict(zip(corpus.ids, corpus.texts(with_title=self.with_title), strict=True))
        position = {d: i for i, d in enumerate(corpus.ids)}
        embeddings = np.array(self.embeddings, dtype=np.float32)
        if changed:
            vectors = self.encoder.encode([self.doc_prefix + texts[d] for d in changed])
            embeddings[[position[d] for d in changed]] = vectors
        clone = copy.copy(self)
        clone.embeddings, clone.cache_hit = embeddings, False
        clone._query_vectors = dict(self._query_vectors)
        if self.backend != "exact":
            kind = self.backend.removeprefix("faiss-")
            clone._faiss = FaissIndex(
                embeddings, kind, hnsw_m=self.hnsw_m, ef_search=self.ef_search
            )
        return clone

    def _cache_path(self, ids: list[str], texts: list[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        parts = [
            self.encoder.fingerprint,
            corpus_fingerprint(ids, texts),
            str(self.encoder.max_length),
            self.encoder.pooling,
            str(self.encoder.normalize),
        ]
        if self.encoder.dtype != "fp32":  # fp32 keys stay those of earlier releases
            parts.append(self.encoder.dtype)
        key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
        return self.cache_dir / f"{key}.npy"

    def search(self, queries: Queries, k: int = 1000) -> Run:
        """Top-``k`` documents of every query by inner product (ties: lower corpus row)."""
        from rich.progress import Progress

        if self.embeddings is None or self._doc_ids is None:
            raise RankarenaError("retriever 'dense': call index(corpus) before search()")
        if k < 1:
            raise ParameterError(f"retriever 'dense': k must be at least 1, got {k}")
        n_docs = len(self._doc_ids)
        top = min(k, n_docs)
        if self._faiss is not None:
            search_bytes = 12 * len(queries) * top
        else:
            search_bytes = exact_search_bytes(
                len(queries),
                n_docs,
                self.embeddings.shape[1],
                k,
                chunk_size=self.chunk_size,
                query_batch=QUERY_BATCH,
                widened=self.embeddings.dtype != np.float32,
            )
        require_memory(
            "retriever 'dense'",
            len(queries) * top * RESULT_BYTES + search_bytes,
            f"to search {len(queries):,} queries at k={k:,}",
            "lower k, or search fewer queries at a time",
        )
        q = self.encode_queries(queries.table.column("text").to_pylist())
        if self._faiss is not None:
            scores, docs = self._faiss.search(q, k)
        else:
            with Progress(disable=not self.show_progress, transient=True) as progress:
                task = progress.add_task("searching", total=len(self._doc_ids))
                scores, docs = exact_search(
                    q,
                    self.embeddings,
                    k,
                    chunk_size=self.chunk_size,
                    query_batch=QUERY_BATCH,
                    device=str(self.encoder.device),
                    on_chunk=lambda n: progress.advance(task, n),
                )
        keep = (docs >= 0).ravel()  # FAISS pads missing results with -1
        query_ids = np.repeat(np.array(queries.ids, dtype=object), docs.shape[1])[keep]
        scores = scores.astype(np.float64).ravel()[keep]
        return Run.from_arrays(query_ids, self._doc_ids[docs.ravel()[keep]], scores)

    def score_pairs(self, queries: Queries, query_ids: list[str], doc_ids: list[str]) -> np.ndarray:
        """s(q, d) = e(q) · e(d) for each pair (query_ids[i], doc_ids[i]) of the indexed corpus."""
        if self.embeddings is None or self._doc_ids is None:
            raise RankarenaError("retriever 'dense': call index(corpus) before score_pairs()")
        wanted = list(dict.fromkeys(query_ids))
        texts = dict(zip(queries.ids, queries.table.column("text").to_pylist(), strict=True))
        encoded = self.encode_queries([texts[q] for q in wanted])
        row = {q: i for i, q in enumerate(wanted)}
        position = {d: i for i, d in enumerate(self._doc_ids.tolist())}
        docs = np.asarray(self.embeddings[[position[d] for d in doc_ids]], dtype=np.float32)
        q = encoded[[row[x] for x in query_ids]]
        return np.einsum("ij,ij->i", q, docs).astype(np.float64)


def write_cached(path: Path | None, vectors: np.ndarray) -> None:
    """Write a cache entry atomically (a reader never sees a partial file); no-op without
    a path."""
    if path is None:
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(vectors), allow_pickle=False)


def read_cache_entry(path: Path, mmap: bool = False) -> np.ndarray:
    """A ``.npy`` cache entry, read without unpickling anything (memory-mapped with
    ``mmap``); a ``ValueError`` saying why when it cannot be read."""
    try:
        vectors = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:  # truncated, pickled, unreadable
        text = str(exc).strip()
        raise ValueError(text.splitlines()[0] if text else type(exc).__name__) from None
    if not isinstance(vectors, np.ndarray):  # a zip archive loads as an (unread) NpzFile
        vectors.close()
        raise ValueError("a zip archive, not a .npy array")
    return vectors


def _discard(path: Path, reason: str) -> None:
    """Warn that a cache entry is not used; it is rebuilt and overwritten."""
    warnings.warn(
        f"{path}: embedding cache entry {reason}; discarded and rebuilt",
        RuntimeWarning,
        stacklevel=4,
    )


def check_dtype(dtype: str, report) -> str:
    """``dtype``, or for ``auto`` the first one ``report`` lists; checked against the report."""
    if dtype != "auto" and dtype not in DTYPES:
        raise ParameterError(
            f"retriever 'dense': unknown dtype {dtype!r}{did_you_mean(dtype, list(DTYPES))}; "
            f"valid: auto, {', '.join(DTYPES)}"
        )
    try:
        return choose_dtype(dtype, report, DTYPES)
    except ParameterError as exc:
        raise ParameterError(f"retriever 'dense': {exc}") from None


@rankarena.hookimpl
def register_retrievers(register) -> None:
    register("dense", DenseRetriever)
