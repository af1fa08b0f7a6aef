"""rankarena's dense models as MTEB 2.x encoders: ``mteb.evaluate(mteb_model("minilm"), tasks)``.

``mteb_model(model, **dense_params)`` wraps the ``dense`` retriever's model (a catalog alias
such as ``minilm``, a Hugging Face id, or a folder, including checkpoints that ``rankarena
train`` writes; the retriever is built through the plugin registry, and any retriever with
an ``encoder`` that has ``encode`` will do) in ``RankarenaMtebEncoder``, which implements
mteb's ``EncoderProtocol``
(``mteb/models/models_protocols.py``):

* ``encode(inputs, *, task_metadata, hf_split, hf_subset, prompt_type, **kwargs)`` takes
  mteb's ``DataLoader`` of batches (``{"text": [...], ...}``), runs the ``dense`` retriever's
  ``BiEncoder`` (``rankarena.retrieval.bi_encoder``: forward pass, pooling, normalisation) on all
  texts
  at once (sorted by length there, so batches pad little) and returns a float32
  ``[n, dim]`` array. ``query_prefix`` goes before queries (``prompt_type == "query"``),
  ``doc_prefix`` before documents; mteb joins a document's title and text itself
  (``title + " " + text``), and with ``with_title=False`` the adapter encodes the batch's
  ``body`` (the text without its title) instead, as the ``dense`` retriever would.
* ``similarity`` / ``similarity_pairwise``: cosine when the model L2-normalises (then equal
  to the inner product rankarena ranks by), the inner product (mteb's ``dot``) otherwise.
* ``mteb_model_meta``: an ``mteb.ModelMeta`` named ``rankarena/<model>`` (a folder by its
  last path component), ``revision`` = the first 12 hex digits of the weights' SHA-256
  (``BiEncoder.fingerprint``), ``embed_dim``, ``max_tokens`` (the truncation in effect),
  parameter counts and memory from the loaded network, ``similarity_fn_name``,
  ``framework``, license and languages from the folder's model card (``README.md``), and,
  for a catalog alias whose Hugging Face id mteb itself describes, that model's training
  data, citation and release date. Dense parameters other than the defaults (e.g.
  ``max_length=64``) are recorded as ``experiment_kwargs``, so mteb keeps their results
  apart.

``mteb`` is an optional dependency (``pip install 'rankarena[mteb]'``): importing rankarena
or this module never imports it; ``require_mteb()`` imports it on first use, or fails with
one line saying how to install it.
"""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import RankarenaError
from ..retrieval.models import model_catalog, resolve_model

if TYPE_CHECKING:
    from types import ModuleType

INSTALL_HINT = "pip install 'rankarena[mteb]'"


def require_mteb() -> ModuleType:
    """The ``mteb`` module, or a one-line ``RankarenaError`` saying how to install it."""
    try:
        return importlib.import_module("mteb")
    except ImportError:
        raise RankarenaError(f"this needs the optional package mteb: {INSTALL_HINT}") from None


class RankarenaMtebEncoder:
    """A rankarena dense model behind mteb's ``EncoderProtocol`` (see the module docstring).

    :param model: a catalog alias (``minilm``), a folder or a Hugging Face id.
    :param revision: accepted for mteb's loader signature; the revision is always the
        weights' hash.
    :param dense_params: parameters of the ``dense`` retriever (``max_length``,
        ``batch_size``, ``device``, ``dtype``, ``query_prefix``, ``doc_prefix``,
        ``with_title``, ...); search parameters (``backend``, ``chunk_size``, ...) are
        accepted and unused, since mteb searches itself.
    """

    def __init__(self, model: str = "minilm", revision: str | None = None, **dense_params: Any):
        require_mteb()
        from ..core.host import plugin_manager

        dense_params.setdefault("show_progress", False)
        self.model_name = model
        self.retriever = plugin_manager().retrievers.create("dense", model=model, **dense_params)
        self.encoder = dense_encoder(self.retriever)
        self.dense_params = dense_params
        self.mteb_model_meta = build_model_meta(model, self.retriever, dense_params)

    def encode(
        self,
        inputs: Any,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embeddings (float32, one row per input, in the DataLoader's order)."""
        field = "text"
        kind = getattr(prompt_type, "value", prompt_type)
        if kind == "query":
            prefix = self.retriever.query_prefix
        else:
            prefix = self.retriever.doc_prefix
            if kind == "document" and not self.retriever.with_title:
                field = "body"
        texts: list[str] = []
        for batch in inputs:
            column = batch.get(field) if field == "body" else None
            texts.extend(column if column is not None else batch["text"])
        if not texts:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        show = bool(kwargs.get("show_progress_bar", False)) and self.retriever.show_progress
        return self.encoder.encode([prefix + t for t in texts], show, "encoding for mteb")

    def encode_texts(self, texts: list[str], prompt_type: str | None = None) -> np.ndarray:
        """Embeddings of plain texts (a query or document prefix added), without a DataLoader."""
        prefix = (
            self.retriever.query_prefix if prompt_type == "query" else self.retriever.doc_prefix
        )
        return self.encoder.encode([prefix + t for t in texts])

    @property
    def embed_dim(self) -> int:
        """Dimensions of an embedding."""
        return int(self.encoder.network.config.hidden_size)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """``[n1, n2]`` scores: cosine for normalising models, else inner products."""
        from mteb.similarity_functions import cos_sim, dot_score

        if self.encoder.normalize:
            return cos_sim(embeddings1, embeddings2)
        return dot_score(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        """``[n]`` scores of corresponding rows (cosine or inner product, as ``similarity``)."""
        from mteb.similarity_functions import pairwise_cos_sim, pairwise_dot_score

        if self.encoder.normalize:
            return pairwise_cos_sim(embeddings1, embeddings2)
        return pairwise_dot_score(embeddings1, embeddings2)

    def __repr__(self) -> str:
        return f"RankarenaMtebEncoder({self.mteb_model_meta.name}@{self.mteb_model_meta.revision})"


def mteb_model(model: str = "minilm", **dense_params: Any) -> RankarenaMtebEncoder:
    """A rankarena dense model as an MTEB encoder: ``mteb.evaluate(mteb_model("minilm"), tasks)``.

    :param model: a catalog alias, a folder (e.g. a ``rankarena train`` checkpoint) or a
        Hugging Face id.
    :param dense_params: parameters of the ``dense`` retriever (``max_length=64``, ...).
    """
    return RankarenaMtebEncoder(model, **dense_params)


def _load_for_mteb(model_name: str, revision: str | None = None, **kwargs: Any):
    """``ModelMeta.loader``: rebuilds the encoder from ``loader_kwargs`` (``model`` + params)."""
    model = kwargs.pop("model", model_name.removeprefix("rankarena/"))
    return RankarenaMtebEncoder(model, revision, **kwargs)


def dense_encoder(retriever: Any) -> Any:
    """``retriever.encoder``, checked to be a bi-encoder (it has ``encode``), else one line."""
    encoder = getattr(retriever, "encoder", None)
    if not callable(getattr(encoder, "encode", None)):
        raise RankarenaError(
            f"{type(retriever).__name__} has no bi-encoder (an 'encoder' attribute with "
            "'encode'); the mteb adapter needs a dense retriever"
        )
    return encoder


def build_model_meta(model: str, retriever: Any, dense_params: dict[str, Any]) -> Any:
    """The ``mteb.ModelMeta`` of ``model`` as ``retriever`` (a dense retriever: its
    ``encoder``, a ``rankarena.retrieval.bi_encoder.BiEncoder``) runs it (see the module
    docstring)."""
    mteb = require_mteb()
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    encoder = dense_encoder(retriever)
    source = resolve_model(model)
    folder = Path(source.location) if source.local else None
    network = encoder.network
    n_parameters = int(sum(p.numel() for p in network.parameters()))
    n_embedding = None
    embeddings = (
        network.get_input_embeddings() if hasattr(network, "get_input_embeddings") else None
    )
    if embeddings is not None and hasattr(embeddings, "weight"):
        n_embedding = int(embeddings.weight.numel())
    bytes_per = {"fp32": 4, "fp16": 2, "bf16": 2}[encoder.dtype]
    card = _model_card(folder)
    hf_id = model_catalog().get(model, {}).get("hf_id") or (None if source.local else model)
    known = _known_meta(mteb, hf_id)
    frameworks = ["PyTorch", "Transformers"]
    if folder is not None and (folder / "modules.json").is_file():
        frameworks.append("Sentence Transformers")
    if folder is not None and any(folder.glob("*.safetensors")):
        frameworks.append("safetensors")
    experiment = _experiment_kwargs(dense_params)
    if Path(model).expanduser().is_dir():
        name = "rankarena/" + Path(source.location).name
    else:
        name = "rankarena/" + model.replace("/", "__")
    return ModelMeta(
        loader=_load_for_mteb,
        loader_kwargs={"model": model, **experiment},
        name=name,
        revision=encoder.fingerprint[:12],
        release_date=known.release_date if known else _release_date(folder),
        languages=card["languages"] or (known.languages if known else None),
        n_parameters=n_parameters,
        n_embedding_parameters=n_embedding,
        memory_usage_mb=round(n_parameters * bytes_per / 2**20, 1),
        max_tokens=float(encoder.max_length),
        embed_dim=int(network.config.hidden_size),
        license=card["license"] or (known.license if known else None),
        open_weights=True,
        public_training_code=known.public_training_code if known else None,
        public_training_data=known.public_training_data if known else None,
        framework=frameworks,
        reference=f"https://huggingface.co/{hf_id}" if hf_id else None,
        similarity_fn_name=ScoringFunction.COSINE
        if encoder.normalize
        else ScoringFunction.DOT_PRODUCT,
        use_instructions=bool(dense_params.get("query_prefix") or dense_params.get("doc_prefix")),
        training_datasets=known.training_datasets if known else None,
        citation=known.citation if known else None,
        modalities=["text"],
        model_type=["dense"],
        experiment_kwargs=experiment or None,
        output_dtypes=None,
    )


def _experiment_kwargs(dense_params: dict[str, Any]) -> dict[str, Any]:
    """The dense parameters that differ from the ``dense`` retriever's defaults (and matter)."""
    from ..core.host import plugin_manager

    defaults = {
        p.name: p.default
        for p in plugin_manager().retrievers.get("dense").parameters
        if not p.required
    }
    ignored = {
        "model",
        "show_progress",
        "cache_dir",
        "device",
        "backend",
        "chunk_size",
        "hnsw_m",
        "ef_search",
    }
    return {
        k: v
        for k, v in sorted(dense_params.items())
        if k not in ignored and defaults.get(k, object()) != v
    }


def _model_card(folder: Path | None) -> dict[str, Any]:
    """License and mteb language codes from a folder's ``README.md`` front matter."""
    found: dict[str, Any] = {"license": None, "languages": None}
    if folder is None or not (folder / "README.md").is_file():
        return found
    try:
        from huggingface_hub import ModelCard
        from mteb.languages.iso_mappings import _hf_langs_to_iso_lang_scripts

        data = ModelCard.load(folder / "README.md").data
    except Exception:  # a malformed card is no reason to refuse the model
        return found
    found["license"] = data.license if isinstance(data.license, str) else None
    language = data.language
    if isinstance(language, str):
        language = [language]
    if language:
        try:
            found["languages"] = _hf_langs_to_iso_lang_scripts(list(language)) or None
        except Exception:
            found["languages"] = None
    return found


def _known_meta(mteb: ModuleType, hf_id: str | None) -> Any:
    """mteb's own ``ModelMeta`` of ``hf_id`` if mteb's registry has it (no network)."""
    if not hf_id:
        return None
    from mteb.models.model_implementations import MODEL_REGISTRY

    return MODEL_REGISTRY.get(hf_id)


def _release_date(folder: Path | None) -> str | None:
    """The date (UTC) the weights were written, for a local folder."""
    if folder is None:
        return None
    weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        return None
    newest = max(p.stat().st_mtime for p in weights)
    return dt.datetime.fromtimestamp(newest, dt.UTC).date().isoformat()
