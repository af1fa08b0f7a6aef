"""The conformance kit: checks that a component keeps the contract the host relies on.

Import it from any plugin's tests (plain functions), or use its pytest plugin (registered
through pytest's ``pytest11`` entry point; fixtures ``rankarena_conformance`` and
``rankarena_sample``)::

    from rankarena.testing import check_retriever

    def test_my_retriever_conforms():
        check_retriever("my-tfidf")          # a registered name, or the factory itself

Each ``check_*`` runs every rule of its kind on the small collection the kit ships
(``rankarena.testing.sample``) and returns the names of the rules passed; when any rule
breaks it raises ``ConformanceError`` (an ``AssertionError``) naming each broken rule and
what was seen. The rules of each kind are listed in its module's docstring and in
docs/plugins.md ("The conformance kit"):

* ``check_retriever``, ``check_reranker`` (``rankarena.testing.retrievers``);
* ``check_sampler`` (``samplers``), ``check_loss`` (``losses``);
* ``check_aggregator`` (``aggregators``: reads ``missing_cells`` and ``order_dependence``);
* ``check_metric`` (``metrics``: reads ``bounds`` and ``higher_is_better``);
* ``check_perturbation`` (``perturbations``);
* ``check_dataset_source`` (``datasets``), ``check_command`` (``commands``).
"""

from __future__ import annotations

from .aggregators import check_aggregator
from .commands import check_command
from .datasets import check_dataset_source
from .losses import check_loss
from .metrics import check_metric
from .perturbations import check_perturbation
from .retrievers import check_reranker, check_retriever
from .rules import ConformanceError
from .samplers import check_sampler

CHECKS = {
    "retrievers": check_retriever,
    "rerankers": check_reranker,
    "samplers": check_sampler,
    "losses": check_loss,
    "aggregators": check_aggregator,
    "metrics": check_metric,
    "perturbations": check_perturbation,
}
"""The check of each component kind that is checked by name and parameters."""

__all__ = [
    "CHECKS",
    "ConformanceError",
    "check_aggregator",
    "check_command",
    "check_dataset_source",
    "check_loss",
    "check_metric",
    "check_perturbation",
    "check_reranker",
    "check_retriever",
    "check_sampler",
]
