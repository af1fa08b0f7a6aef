"""The rankarena plugin API: every hook a plugin may implement.

A plugin is a module (or object) with functions marked ``@rankarena.hookimpl`` whose names
are the hooks below. Built-in plugins and pip-installed ones (entry-point group
``rankarena``) are loaded the same way.

Registration hooks receive a ``register(name, factory, **meta)`` callable rather than
returning values, so one plugin can register any number of components:

* ``name`` — the registry name users type (``"bm25"``, ``"ndcg"``); unique per kind.
* ``factory`` — a class or function; its keyword parameters (with type hints and defaults)
  are the component's parameters, checked by ``Registry.create`` before it is called.
* ``meta`` — optional ``description=...`` (one line; defaults to the factory docstring's
  first line) and ``aliases=[...]``.

Registration hooks are called plugin by plugin: a plugin whose hook raises is reported
by name and skipped; the others still register.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("rankarena")

# --------------------------------------------------------------------------------------
# Component registration
# --------------------------------------------------------------------------------------


@hookspec
def register_retrievers(register):
    """Register retriever factories.

    A retriever has ``index(corpus) -> self`` and ``search(queries, k) -> Run``.

    Optional members, used where present:

    * ``score_pairs(queries, query_ids, doc_ids) -> np.ndarray``: scores of arbitrary
      (query, document) pairs of the indexed corpus (positive-aware samplers,
      ``rankarena negatives stats``);
    * ``patched(corpus, changed) -> retriever``: a copy indexed on ``corpus``, which differs
      from the indexed one only in the documents ``changed`` (document perturbations and
      attacks re-index only those); without it the patched corpus is indexed afresh;
    * ``encode_queries(texts) -> np.ndarray`` with ``doc_prefix`` and ``with_title``
      attributes: needed of the surrogate of the topic-oriented attack;
    * a class attribute ``not_in_run_key``: names of constructor parameters that change
      where or how the work is done but not the results (``dense``: ``cache_dir``,
      ``shards``); run caches ignore them, as they ignore ``device`` and ``show_progress``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_rerankers(register):
    """Register reranker factories.

    A reranker has ``rerank(queries, corpus, run, k) -> Run``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_samplers(register):
    """Register hard-negative sampler factories.

    A sampler has ``sample(context, num_negatives) -> TrainingExamples``: ``context`` is a
    ``rankarena.training.mining.MiningContext`` (corpus, mining queries, the positives the sampler
    is
    shown, shared cached retrieval: ``context.retriever``, ``context.candidates``,
    ``context.score_pairs``, ``context.rng``); the result has one row per (query,
    positive) and never a shown positive as a negative (``rankarena.data.training_examples``).

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_losses(register):
    """Register loss factories.

    A loss is a ``torch.nn.Module`` called as ``loss(scores[B, L], targets[B, L], mask=None)``
    returning a scalar: row ``b`` holds one query's candidate scores, ``targets`` their labels
    (1 for the positive, 0 for negatives) or teacher scores, ``mask`` the valid candidates.
    ``rankarena train`` passes ``scale · cos(q, d)`` (``--scale``, default 20), or the raw
    similarities to a loss that sets the class attribute ``applies_scale = True`` (it has its
    own scale or temperature). Parameters the loss owns (``torch.nn.Parameter``) are trained
    with the encoder.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_aggregators(register):
    """Register leaderboard aggregator factories.

    An aggregator has ``aggregate(scores: ScoreTable) -> Ranking``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_perturbations(register):
    """Register robustness perturbation factories.

    A perturbation has ``apply(texts: dict[str, str], rng) -> dict[str, str]`` and a
    ``target`` of ``"queries"`` or ``"documents"``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_metrics(register):
    """Register evaluation metric factories.

    A metric has a ``name`` (as printed, e.g. ``"ndcg@10"``) and
    ``per_query(judged: JudgedRun) -> numpy.ndarray`` returning one value per evaluated
    query. Users name a metric as ``NAME`` or ``NAME@K``; ``@K`` is passed as ``k=K``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_datasets(register):
    """Register dataset source factories.

    A source has ``load(**params) -> Dataset``; a ``Dataset`` gives ``corpus``,
    ``queries(split)`` and ``qrels(split)``.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def paraphrase(texts, seed):
    """Paraphrase texts (the ``paraphrase`` query perturbation calls this).

    A model-backed plugin (a seq2seq paraphraser, an LLM client) implements it; the first
    plugin that returns a list wins, so one paraphraser serves every run. Without any, the
    ``paraphrase`` perturbation fails with a one-line error saying so.

    :param texts: the texts to rewrite (a list of str).
    :param seed: an int to seed any sampling with, so runs are reproducible.
    :return: a list of paraphrases, one per text in order, or ``None`` to decline.
    """


# --------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------


@hookspec
def report_devices():
    """Report the devices this plugin can run torch work on.

    The host collects every report and picks the highest priority (``select_device``);
    ``--device`` overrides the choice. Components never pick a device themselves.

    :return: a ``DeviceReport`` or a list of them (``None`` if the plugin has no device).
    """


# --------------------------------------------------------------------------------------
# Observers
# --------------------------------------------------------------------------------------


@hookspec
def on_run_start(run):
    """Observe the start of a run (an evaluation, a config-driven run, a training job).

    :param run: a ``RunInfo`` with ``run_id``, ``kind`` and ``config`` (a plain dict).
    """


@hookspec
def on_result(result):
    """Observe one result row as soon as it is computed.

    :param result: a dict with the ``Results`` columns: ``system, dataset, split, variant,
        metric, value, query_id`` (``None`` for the mean), ``run_id, created_at``.
    """


@hookspec
def on_run_end(run, results):
    """Observe the end of a run.

    :param run: the ``RunInfo`` given to ``on_run_start``.
    :param results: the run's ``Results`` table.
    """
