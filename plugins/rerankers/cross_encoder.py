"""Built-in reranker ``cross-encoder``: rescore a run's top k with a sequence classifier.

A cross-encoder reads the query and the document together and outputs a relevance score
(Nogueira & Cho, "Passage Re-ranking with BERT", 2019). Score: the logit for a one-label
model, else the log-probability of the last (relevant) label.
"""

from __future__ import annotations

import sys

import numpy as np

import rankarena
from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run
from rankarena.api.retrieval import load_pretrained


class CrossEncoderReranker:
    """Rerank the top ``k`` documents of every query of a run.

    :param model: a local folder, a ``registries/models.toml`` alias or a Hugging Face id of
        an ``AutoModelForSequenceClassification`` model.
    :param batch_size: (query, document) pairs per forward pass, sorted by length.
    :param max_length: tokens per pair (truncating the document first).
    :param device: overrides the host's device choice.
    :param with_title: read ``title + " " + text`` for documents.
    :param show_progress: progress bar (default: when stderr is a terminal).

    Only the reranked top ``k`` is returned, ranked by the cross-encoder's scores.
    """

    def __init__(
        self,
        model: str,
        batch_size: int = 32,
        max_length: int = 512,
        device: str | None = None,
        with_title: bool = True,
        show_progress: bool | None = None,
    ):
        import torch
        from transformers import AutoModelForSequenceClassification

        if batch_size < 1 or max_length < 8:
            raise ParameterError("reranker 'cross-encoder': batch_size >= 1, max_length >= 8")
        _, self.tokenizer, self.network = load_pretrained(model, AutoModelForSequenceClassification)
        device = device or rankarena.plugin_manager().select_device().name
        self.device = torch.device(device)
        self.network.to(self.device).eval()
        self.batch_size, self.max_length = batch_size, max_length
        self.with_title = with_title
        self.show_progress = sys.stderr.isatty() if show_progress is None else show_progress

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Relevance scores of (query, document) pairs, in input order."""
        import torch
        from rich.progress import track

        out = np.zeros(len(pairs), dtype=np.float64)
        order = np.argsort([-(len(q) + len(d)) for q, d in pairs], kind="stable")
        starts = range(0, len(pairs), self.batch_size)
        for start in track(starts, description="reranking", disable=not self.show_progress):
            rows = order[start : start + self.batch_size]
            inputs = self.tokenizer(
                [pairs[i][0] for i in rows],
                [pairs[i][1] for i in rows],
                padding=True,
                truncation="only_second",
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits = self.network(**inputs).logits.float()
            if logits.shape[1] == 1:
                values = logits[:, 0]
            else:
                values = torch.log_softmax(logits, dim=-1)[:, -1]
            out[rows] = values.cpu().numpy()
        return out

    def rerank(self, queries: Queries, corpus: Corpus, run: Run, k: int = 100) -> Run:
        """The top ``k`` of ``run`` for each query, reordered by cross-encoder score."""
        if k < 1:
            raise ParameterError(f"reranker 'cross-encoder': k must be at least 1, got {k}")
        top = run.top(k).table
        query_text = queries.to_dict()
        doc_text = dict(zip(corpus.ids, corpus.texts(with_title=self.with_title), strict=True))
        qids = top.column("query_id").to_pylist()
        dids = top.column("doc_id").to_pylist()
        missing = next((q for q in qids if q not in query_text), None)
        if missing is not None:
            raise RankarenaError(f"reranker 'cross-encoder': run query {missing!r} has no text")
        missing = next((d for d in dids if d not in doc_text), None)
        if missing is not None:
            raise RankarenaError(
                f"reranker 'cross-encoder': run document {missing!r} not in corpus"
            )
        scores = self.score([(query_text[q], doc_text[d]) for q, d in zip(qids, dids, strict=True)])
        return Run.from_arrays(qids, dids, scores)


@rankarena.hookimpl
def register_rerankers(register) -> None:
    register("cross-encoder", CrossEncoderReranker)
