"""Plugin API for retrievers and rerankers: encoders, models, executors, search, fusion."""

from ..core.devices import choose_dtype
from ..data import atomic_path
from ..retrieval.adaptive_fusion import TermStatistics
from ..retrieval.bi_encoder import DTYPES, TRAINER_RECORDS, BiEncoder, model_fingerprint
from ..retrieval.executors import EncoderSpec, current_executor, encode_sharded
from ..retrieval.fusion import FUSION_METHODS, NORMALIZATIONS, fuse
from ..retrieval.models import load_pretrained, resolve_model
from ..retrieval.stemming import load_stemmer
from ..retrieval.vector_search import (
    FaissIndex,
    check_backend,
    exact_search,
    exact_search_bytes,
)

__all__ = [
    "DTYPES",
    "FUSION_METHODS",
    "NORMALIZATIONS",
    "TRAINER_RECORDS",
    "BiEncoder",
    "EncoderSpec",
    "FaissIndex",
    "TermStatistics",
    "atomic_path",
    "check_backend",
    "choose_dtype",
    "current_executor",
    "encode_sharded",
    "exact_search",
    "exact_search_bytes",
    "fuse",
    "load_pretrained",
    "load_stemmer",
    "model_fingerprint",
    "resolve_model",
]
