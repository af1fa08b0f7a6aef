"""Plugin API for samplers: the mining context they read and the examples they return."""

from ..data.training_examples import TrainingExamples
from ..retrieval.fusion import fuse
from ..retrieval.vector_search import exact_search
from ..training.mining import MiningContext

__all__ = ["MiningContext", "TrainingExamples", "exact_search", "fuse"]
