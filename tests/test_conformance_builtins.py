"""Every built-in component passes the conformance kit (``rankarena.testing``): the kit is
proven on the registries' real components, and a built-in that breaks a rule fails here
under its own name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from offline_components import ReorderParaphraser, save_tiny_cross_encoder

import rankarena
from rankarena.testing import CHECKS, check_dataset_source
from rankarena.testing.sample import write_beir_folder

HOST = rankarena.plugin_manager()

PARAMS: dict[tuple[str, str], dict] = {
    ("metrics", "iprec_at_recall"): {"level": 0.5},
    ("metrics", "rprec_mult"): {"mult": 1.0},
}
"""Parameters for built-ins with required parameters (beyond a metric's cutoff)."""


def _builtins() -> Iterator[tuple[str, str]]:
    for kind in CHECKS:
        for spec in HOST.registry(kind).specs():
            if spec.plugin.startswith("rankarena.plugins."):
                yield kind, spec.name


BUILTINS = list(_builtins())


def test_the_kit_covers_sixty_plus_builtins():
    assert len(BUILTINS) >= 60, len(BUILTINS)
    assert {kind for kind, _ in BUILTINS} == set(CHECKS)


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> str:
    return str(save_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-cross-encoder")))


@pytest.mark.parametrize(("kind", "name"), BUILTINS, ids=[f"{k}:{n}" for k, n in BUILTINS])
def test_builtin_passes_the_kit(kind, name, request):
    spec = HOST.registry(kind).get(name)
    params = dict(PARAMS.get((kind, name), {}))
    if kind == "metrics" and getattr(spec.factory, "requires_k", False):
        params["k"] = 5
    if (kind, name) == ("rerankers", "cross-encoder"):
        params["model"] = request.getfixturevalue("tiny_cross_encoder")
    if (kind, name) == ("perturbations", "paraphrase"):
        HOST.register(ReorderParaphraser(), name="kit-paraphraser")
        request.addfinalizer(lambda: HOST.unregister("kit-paraphraser"))
    passed = CHECKS[kind](name, params, host=HOST)
    assert passed


def test_beir_source_passes_the_kit(tmp_path):
    write_beir_folder(tmp_path / "sample")
    passed = check_dataset_source("beir", str(tmp_path / "sample"), host=HOST)
    assert "run-and-eval" in passed
