"""The rankarena retriever ``pyterrier``: a PyTerrier pipeline as a rankarena retriever.

Its one parameter, ``pipeline``, names the pipeline as ``module:attribute`` (as a run
config or ``--param pipeline=...`` can): the attribute is either a ``pt.Transformer``, used
as it is (a pipeline with its own index), or a factory ``f(corpus) -> pt.Transformer``, which
``index(corpus)`` calls with the rankarena ``Corpus``. ``search(queries, k)`` transforms the
queries frame ``(qid, query)`` and keeps the top ``k`` of its ``(qid, docno, score)`` rows,
ranked by score as trec_eval ranks them. ``>>``, ``%``, ``+`` ... inside the pipeline are
PyTerrier's own: the pipeline is just a ``pt.Transformer``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys
from typing import Any

from rankarena import Corpus, ParameterError, Queries, RankarenaError, Run

NAME = "retriever 'pyterrier'"
SYNTAX = (
    "pipeline must be 'module:attribute' (e.g. 'mypkg.pipes:bm25_top10'), an importable "
    "pt.Transformer or factory f(corpus) -> pt.Transformer"
)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def split_reference(pipeline: str) -> tuple[str, str]:
    """``"module:attr.path"`` -> (module, attr.path); a one-line ParameterError otherwise."""
    module, sep, attribute = str(pipeline).partition(":")
    parts = attribute.split(".")
    if (
        not sep
        or not all(p.isidentifier() for p in module.split("."))
        or not all(p.isidentifier() for p in parts)
    ):
        raise ParameterError(f"{NAME}: bad pipeline {pipeline!r}: {SYNTAX}")
    return module, attribute


def _import(module_name: str) -> Any:
    """Import ``module_name``; the working folder is searched too (last), as ``python -m``
    would, since the ``rankarena`` command does not put it on ``sys.path``."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        return importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(cwd)


def load_pipeline(pipeline: str) -> Any:
    """The object ``pipeline`` (``module:attribute``) names; a one-line ParameterError when
    the module cannot be imported or lacks the attribute."""
    module_name, attribute = split_reference(pipeline)
    try:
        obj: Any = _import(module_name)
    except Exception as exc:  # ImportError, or the user's module failing
        raise ParameterError(
            f"{NAME}: cannot import {module_name!r} of pipeline {pipeline!r} "
            f"({_one_line(exc)}); {SYNTAX}"
        ) from exc
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ParameterError(
                f"{NAME}: {module_name!r} has no attribute {attribute!r} (pipeline "
                f"{pipeline!r}); {SYNTAX}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ParameterError(f"{NAME}: {pipeline!r} is a {type(obj).__name__}; {SYNTAX}")
    return obj


class PyTerrierRetriever:
    """A PyTerrier pipeline as a rankarena retriever.

    :param pipeline: ``module:attribute``: a ``pt.Transformer``, or a factory
        ``f(corpus) -> pt.Transformer`` called at indexing time with the rankarena Corpus.
    """

    def __init__(self, pipeline: str):
        self.pipeline = pipeline
        self._target = load_pipeline(pipeline)
        self._transformer = None

    @staticmethod
    def run_key_content(params: dict[str, Any]) -> str:
        """The digest of the pipeline module's source, so that run caches notice edits."""
        try:
            module = _import(split_reference(params["pipeline"])[0])
            source = inspect.getsource(module)
        except Exception:  # no source (a compiled module): the name alone keys the run
            return ""
        return hashlib.sha256(source.encode()).hexdigest()[:32]

    def index(self, corpus: Corpus) -> PyTerrierRetriever:
        """Build the pipeline for ``corpus`` (call the factory); returns ``self``."""
        import pyterrier as pt

        target = self._target
        if isinstance(target, pt.Transformer):
            transformer = target
        else:
            try:
                transformer = target(corpus)
            except RankarenaError:
                raise
            except Exception as exc:
                raise RankarenaError(
                    f"{NAME}: the factory {self.pipeline!r} failed: {_one_line(exc)}"
                ) from exc
        if not isinstance(transformer, pt.Transformer):
            raise RankarenaError(
                f"{NAME}: the factory {self.pipeline!r} returned a "
                f"{type(transformer).__name__}, not a pt.Transformer"
            )
        self._transformer = transformer
        return self

    def search(self, queries: Queries, k: int = 1000) -> Run:
        """The pipeline's results for ``queries``: the top ``k`` of each by score."""
        import pandas as pd

        if self._transformer is None:
            raise RankarenaError(f"{NAME}: call index(corpus) before search()")
        if k < 1:
            raise ParameterError(f"{NAME}: k must be at least 1, got {k}")
        topics = pd.DataFrame(
            {"qid": queries.ids, "query": queries.table.column("text").to_pylist()}
        )
        out = self._transformer.transform(topics)
        missing = [c for c in ("qid", "docno", "score") if c not in out.columns]
        if missing:
            raise RankarenaError(
                f"{NAME}: pipeline {self.pipeline!r} returned no {', '.join(missing)} column "
                f"(columns: {', '.join(map(str, out.columns))}); a retrieval pipeline "
                "returns qid, docno, score"
            )
        run = Run.from_arrays(
            out["qid"].astype(str).tolist(), out["docno"].astype(str).tolist(), out["score"]
        )
        return run.top(k)
