"""The kinds of component a plugin package can be made with, and how each is written.

One ``Kind`` per entry of ``KINDS``: the hook that registers it, the module and the object
the package gets, the registry name (always prefixed by the plugin's name, so that two
generated packages never clash) and the line the README and the package docstring show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ParameterError, did_you_mean

KINDS: tuple[str, ...] = (
    "retriever",
    "sampler",
    "loss",
    "aggregator",
    "metric",
    "perturbation",
    "dataset",
    "command",
)
"""Every kind ``write_plugin`` makes, in the order it writes them."""
ALL = "all"
"""The word that stands for every kind (``--kind all``)."""


@dataclass(frozen=True)
class Kind:
    """How one kind of component is written into a package.

    ``suffix`` follows ``NAME`` in the registry name (``-tfidf``; empty for the dataset
    source, which is ``NAME`` itself so that users write ``NAME:FOLDER``); ``module`` is
    the package module holding ``factory``; ``label`` and ``summary`` make the line that
    lists it.
    """

    kind: str
    hook: str
    module: str
    factory: str
    suffix: str
    label: str
    summary: str

    def component(self, name: str) -> str:
        """The registry name of this kind's component in plugin ``name``."""
        return f"{name}{self.suffix}"


SPECS: dict[str, Kind] = {
    spec.kind: spec
    for spec in (
        Kind(
            "retriever",
            "register_retrievers",
            "tfidf",
            "TfidfRetriever",
            "-tfidf",
            "retriever",
            "TF-IDF vectors compared by cosine similarity",
        ),
        Kind(
            "sampler",
            "register_samplers",
            "margin",
            "MarginSampler",
            "-margin",
            "sampler",
            "a retriever's top candidates scoring below the positive by a margin",
        ),
        Kind(
            "loss",
            "register_losses",
            "hinge",
            "HingeLoss",
            "-hinge",
            "loss",
            "the hinge over (positive, negative) pairs",
        ),
        Kind(
            "aggregator",
            "register_aggregators",
            "median_rank",
            "MedianRank",
            "-median-rank",
            "aggregator",
            "systems ranked by their median rank over tasks",
        ),
        Kind(
            "metric",
            "register_metrics",
            "precision",
            "Precision",
            "-precision",
            "metric",
            "precision at k",
        ),
        Kind(
            "perturbation",
            "register_perturbations",
            "lowercase",
            "Lowercase",
            "-lowercase",
            "perturbation",
            "query words lowercased with probability intensity",
        ),
        Kind(
            "dataset",
            "register_datasets",
            "tsv_dataset",
            "TsvDataset",
            "",
            "dataset source",
            "a folder of three TSV files, or the sample shipped with the package",
        ),
        Kind(
            "command",
            "register_commands",
            "stats",
            "stats_command",
            "-stats",
            "command",
            "the documents, queries and judgements of a dataset",
        ),
    )
}
"""The ``Kind`` of each entry of ``KINDS``."""


def parse_kinds(values: str | Iterable[str]) -> list[str]:
    """The kinds ``values`` names, each once, in ``KINDS`` order.

    ``values`` is a comma-separated string or strings (``"retriever,metric"``,
    ``["loss", "sampler,metric"]``); ``all`` stands for every kind. An unknown kind, or
    none at all, is a one-line ``ParameterError`` listing the valid kinds.
    """
    texts = [values] if isinstance(values, str) else list(values)
    asked = [part.strip() for text in texts for part in str(text).split(",") if part.strip()]
    valid = f"valid kinds: {', '.join(KINDS)}, or {ALL}"
    if not asked:
        raise ParameterError(f"no kind given; {valid}")
    for kind in asked:
        if kind != ALL and kind not in SPECS:
            raise ParameterError(f"unknown kind {kind!r}{did_you_mean(kind, KINDS)}; {valid}")
    if ALL in asked:
        return list(KINDS)
    return [kind for kind in KINDS if kind in asked]
