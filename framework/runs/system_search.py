"""One system's run for given queries (``SystemSearch``), on a dataset or on a copy whose
corpus differs in a few documents (``PatchedDataset``).

A system of a run config (``[systems.NAME]``) retrieves with a retriever, or fuses the runs
of other systems, and may rerank the result; ``SystemSearch`` carries out that definition.
Document perturbations and attacks search a ``PatchedDataset``: a retriever that implements
``patched(corpus, changed)`` (``dense``) re-encodes only the changed documents of its index
of the base corpus; any other retriever indexes the patched corpus afresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..data import Corpus, Run
from ..errors import ParameterError
from ..retrieval.adaptive_fusion import adaptive_weights
from ..retrieval.fusion import fuse

if TYPE_CHECKING:
    from .config import RunConfig


class SystemSearch:
    """Produces one system's run for given queries: retrieval, fusion of other systems' runs,
    reranking (the ``[systems.NAME]`` semantics of a run config).

    :param keep_indexes: keep every retriever indexed on an unpatched dataset for later
        queries and patches (robustness runs search one index many times); by default a
        retriever is dropped after its search.
    """

    def __init__(
        self,
        config: RunConfig,
        definition: RunConfig,
        host,
        device: str | None = None,
        log=print,
        keep_indexes: bool = False,
    ):
        self.config, self.definition, self.host = config, definition, host
        self.device, self.log = device, log
        self.keep_indexes = keep_indexes
        self._indexed: dict[tuple[str, str], Any] = {}

    def run(self, name: str, dataset, queries, input_run) -> Run:
        """System ``name``'s run of ``queries`` on ``dataset``; ``input_run(source)`` gives the
        run of an input system (for fusions)."""
        system = self.config.systems[name]
        if "inputs" in system:
            runs = [input_run(source) for source in system["inputs"]]
            params = dict(system.get("fusion_params", {}))
            method = system.get("fusion", "rrf")
            if method == "adaptive-rrf":
                stemmer = params.pop("stemmer", "porter")
                params["weights"] = adaptive_weights(dataset.corpus, queries, stemmer=stemmer)
                method = "rrf"
            run = fuse(runs, method, **params).top(self.config.k)
        else:
            run = self.retriever(name, dataset).search(queries, k=self.config.k)
        if "reranker" in system:
            self.log(f"{name} on {dataset.name}: reranking")
            params = self.definition.systems[name].get("reranker_params", {})
            reranker = self.create("rerankers", system["reranker"], params)
            run = reranker.rerank(queries, dataset.corpus, run, k=system.get("rerank_k", 100))
        return run

    def retriever(self, name: str, dataset):
        """System ``name``'s retriever, indexed on ``dataset``'s corpus.

        For a ``PatchedDataset`` (``base`` and ``changed`` attributes) and a retriever with
        ``patched(corpus, changed)``, the base corpus is indexed (or its kept index reused;
        cached embeddings make this cheap) and patched, so only the changed documents are
        re-encoded; other retrievers index the patched corpus afresh.
        """
        key = (name, dataset.name)
        if key in self._indexed:
            return self._indexed[key]
        base = getattr(dataset, "base", None)  # a PatchedDataset: a few documents changed
        indexed = self._indexed.get((name, base.name)) if base is not None else None
        if indexed is None:
            fresh = self._new(name)
            if base is not None and hasattr(fresh, "patched"):
                indexed = self._index(name, base, fresh)
                if self.keep_indexes:
                    self._indexed[(name, base.name)] = indexed
            else:
                retriever = self._index(name, dataset, fresh)
        if indexed is not None:
            if hasattr(indexed, "patched"):
                retriever = indexed.patched(dataset.corpus, dataset.changed)
            else:
                retriever = self._index(name, dataset, self._new(name))
        if self.keep_indexes and base is None:
            self._indexed[key] = retriever
        return retriever

    def _new(self, name: str):
        params = self.definition.systems[name].get("params", {})
        return self.create("retrievers", self.config.systems[name]["retriever"], params)

    def _index(self, name: str, dataset, retriever):
        self.log(f"{name} on {dataset.name}: indexing")
        retriever.index(dataset.corpus)
        return retriever

    def create(self, kind: str, name: str, params: dict[str, Any]):
        """A component built from the config's parameters (``device`` added if it takes one)."""
        registry = self.host.registry(kind)
        params = dict(params)
        spec = registry.get(name)
        if self.device and "device" in {p.name for p in spec.parameters}:
            params.setdefault("device", self.device)
        try:
            return registry.create(name, **params)
        except ParameterError as exc:
            raise ParameterError(f"{exc} (in the run config)") from None


class PatchedDataset:
    """``base`` with the ``text`` of the documents in ``changed`` (id → new text) replaced;
    titles, queries and qrels are the base's. Its name is ``BASE#LABEL``."""

    def __init__(self, base, changed: dict[str, str], label: str = "patched"):
        self.base, self.changed = base, list(changed)
        self.corpus = patch_corpus(base.corpus, changed)
        self.name = f"{base.name}#{label}"

    def queries(self, split: str | None = None):
        return self.base.queries(split)

    def qrels(self, split: str):
        return self.base.qrels(split)


def patch_corpus(corpus: Corpus, texts: dict[str, str]) -> Corpus:
    """``corpus`` with the ``text`` of the given documents replaced (titles kept)."""
    ids = corpus.table.column("_id").to_pylist()
    column = corpus.table.column("text").to_pylist()
    new = [texts.get(d, t) for d, t in zip(ids, column, strict=True)]
    index = corpus.table.schema.get_field_index("text")
    return Corpus(corpus.table.set_column(index, "text", pa.array(new, pa.string())))
