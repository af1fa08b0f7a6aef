"""Plugin API: what each kind of component must provide, as ``typing.Protocol`` classes.

Re-exports of ``rankarena.core.protocols`` (see docs/plugins.md, "What each component must
provide"). The host checks registered components against them: a class factory's methods
when it is registered, a built object's members when ``Registry.create`` returns it. Use
them to annotate and type-check a plugin's components; subclassing them is not needed.
"""

from ..core.protocols import (
    PROTOCOLS,
    Aggregator,
    Dataset,
    DatasetSource,
    Loss,
    Metric,
    MetricLike,
    PairScoringRetriever,
    PatchableRetriever,
    Perturbation,
    Reranker,
    Retriever,
    Sampler,
)

__all__ = [
    "PROTOCOLS",
    "Aggregator",
    "Dataset",
    "DatasetSource",
    "Loss",
    "Metric",
    "MetricLike",
    "PairScoringRetriever",
    "PatchableRetriever",
    "Perturbation",
    "Reranker",
    "Retriever",
    "Sampler",
]
