"""The plugin API: what a plugin may import, besides the ``rankarena`` package's own names.

A plugin (built-in or third-party) imports ``rankarena`` (``rankarena.hookimpl``, the data
model, errors, ``Metric``, ``ScoreTable`` ...) and the helper modules of this package, one per
component family:

* ``rankarena.api.checks`` — one-line parameter checks and name hints.
* ``rankarena.api.datasets`` — BEIR folders, the dataset catalog, atomic file writes.
* ``rankarena.api.retrieval`` — bi-encoders, model resolution, sharded encoding, vector
  search, fusion, stemming, dtype choice.
* ``rankarena.api.mining`` — ``MiningContext`` and ``TrainingExamples`` for samplers.
* ``rankarena.api.aggregation`` — pairwise preference counting for aggregators.
* ``rankarena.api.perturbation`` — word-level text-noise helpers for perturbations.
* ``rankarena.api.protocols`` — what each kind of component must provide (``Retriever``,
  ``Reranker``, ``Sampler``, ``Loss``, ``Aggregator``, ``Metric``, ``Perturbation``,
  ``Dataset``), as ``typing.Protocol`` classes the host checks components against.

Everything else under ``rankarena`` is internal and may change without notice; CI keeps the
built-in plugins to this API (import-linter, see ``pyproject.toml``).
"""
