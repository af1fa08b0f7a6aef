"""Conformance rules of perturbations (``register_perturbations``), checked on the kit's
sample queries or documents (as the perturbation's ``target`` says).

* ``declares-target``: the factory (read before building one, as the robustness runner
  does) has ``target`` ``"queries"`` or ``"documents"``;
* ``intensity-zero-identity``: at ``intensity=0`` every text comes back unchanged;
* ``ids-untouched``: the ids out are the ids in (documents: a subset, the changed ones);
  every text out is a ``str``;
* ``seeded``: two generators with the same seed give the same texts;
* ``perturbs``: at ``intensity=1`` some text changes.

A perturbation whose ``apply`` takes ``terms`` gets, per document, the words of the
queries it is judged relevant to.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.host import PluginHost
from . import sample
from .components import Component, subject
from .rules import Checklist, broken, require

TARGETS = ("queries", "documents")


def _texts(target: str) -> dict[str, str]:
    if target == "queries":
        return {q: t for q, t in sample.QUERIES.items() if t}
    return {d: f"{title}. {text}" for d, (title, text) in sample.DOCUMENTS.items()}


def _terms() -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {}
    for query, judged in sample.QRELS.items():
        for doc, grade in judged.items():
            if grade > 0:
                terms.setdefault(doc, []).extend(sample.QUERIES[query].split())
    return terms


def _apply(perturbation: Any, texts: dict[str, str], seed: int) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    try:
        takes_terms = "terms" in inspect.signature(perturbation.apply).parameters
    except (TypeError, ValueError):
        takes_terms = False
    if takes_terms:
        return perturbation.apply(dict(texts), rng, terms=_terms())
    return perturbation.apply(dict(texts), rng)


def check_perturbation(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a perturbation against every rule above; returns the rules passed.

    :param component: a registered perturbation name (``"typos"``) or its factory.
    :param params: its parameters other than ``intensity`` (the kit sets that).
    :raises ConformanceError: naming each broken rule.
    """
    who = subject("perturbations", component, params, host)
    rules = Checklist(who.label)

    def declared() -> str:
        target = getattr(who.factory, "target", None)  # read before building, as the runner does
        if target not in TARGETS:
            broken(f"the factory's target is {target!r}, not one of {TARGETS} (a class attribute)")
        return target

    target = rules.rule("declares-target", declared)
    if target is None:
        return rules.verdict()
    texts = _texts(target)

    def identity():
        out = _apply(who.make(intensity=0.0), texts, 0)
        changed = [i for i, t in out.items() if texts.get(i) != t]
        if changed:
            broken(f"intensity 0 changed {changed[0]!r}: {out[changed[0]]!r}")

    rules.rule("intensity-zero-identity", identity)

    def ids():
        out = _apply(who.make(intensity=0.5), texts, 0)
        require(isinstance(out, dict), f"apply returned {type(out).__name__}, not a dict")
        stray = sorted(set(out) - set(texts))
        require(not stray, f"returned id {stray[:1]} that was not given" if stray else "")
        if target == "queries":
            lost = sorted(set(texts) - set(out))
            require(not lost, f"query {lost[:1]} was dropped" if lost else "")
        odd = [i for i, t in out.items() if not isinstance(t, str)]
        require(not odd, f"text of {odd[:1]} is not a str" if odd else "")

    rules.rule("ids-untouched", ids)

    def seeded():
        first = _apply(who.make(intensity=0.5), texts, 7)
        again = _apply(who.make(intensity=0.5), texts, 7)
        require(first == again, "the same seed gave other texts")

    rules.rule("seeded", seeded)

    def perturbs():
        out = _apply(who.make(intensity=1.0), texts, 0)
        require(any(texts[i] != t for i, t in out.items()), "intensity 1 changed no text")

    rules.rule("perturbs", perturbs)
    return rules.verdict()
