"""The conformance kit's pytest plugin, registered through pytest's ``pytest11`` entry point
(``rankarena = "rankarena.testing.pytest_plugin"``): any test suite in an environment where
rankarena is installed gets its fixtures, no import or ``conftest.py`` needed.

* ``rankarena_conformance``: the ``rankarena.testing`` module (``check_retriever`` ...);
* ``rankarena_sample``: the kit's sample collection module (``corpus()``, ``queries()``,
  ``qrels()``, ``write_beir_folder(path)``).

rankarena itself is imported only when a test asks for a fixture, so that the plugin costs
nothing in suites that do not use it.
"""

from __future__ import annotations

from types import ModuleType

import pytest


@pytest.fixture
def rankarena_conformance() -> ModuleType:
    """The conformance kit: ``rankarena_conformance.check_retriever("my-retriever")``."""
    import rankarena.testing

    return rankarena.testing


@pytest.fixture
def rankarena_sample() -> ModuleType:
    """The kit's sample collection (32 documents, 9 queries, graded judgements)."""
    import rankarena.testing.sample

    return rankarena.testing.sample
