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

    An aggregator has ``aggregate(scores: ScoreTable) -> Ranking``, and declares (class or
    instance attributes; the conformance kit, ``rankarena.testing.check_aggregator``, holds
    it to them):

    * ``missing_cells``: how a missing (NaN) cell counts: ``"skip"`` (a task ranks only the
      systems scored on it), ``"strict"`` (a system missing any cell gets no score and ranks
      last), ``"tie"`` (a missing cell ties with everyone) or ``"error"`` (refused, one line);
    * ``order_dependence`` (optional): ``("tasks",)`` and/or ``("systems",)`` where the
      answer depends on the table's order by design (a tournament playing the tasks in the
      given order). Otherwise the order of rows and columns must not matter: an aggregator
      that draws random numbers by position computes on ``scores.in_name_order()``.

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
    It declares ``bounds`` (the range of a per-query value) and, where lower is better,
    ``higher_is_better = False``; ``rankarena.Metric`` gives ``(0.0, 1.0)`` and ``True``
    (the conformance kit, ``rankarena.testing.check_metric``, holds it to them). A metric
    whose values depend on all queries together (the pooled ``auc``) sets
    ``pools_queries = True``: ``eval`` then never evaluates it block by block.

    :param register: ``register(name, factory, **meta)``.
    """


@hookspec
def register_datasets(register):
    """Register dataset source factories.

    Every command opens datasets by reference (a run config's ``datasets``, ``--dataset``,
    a train or mine config's ``dataset``) through ``rankarena.core.datasets.open_dataset``:
    ``SOURCE:ARGUMENT`` calls the factory registered as ``SOURCE`` (``example:tiny``);
    anything else (a folder path, a catalog name such as ``scifact``, or ``beir:ARGUMENT``)
    goes to the built-in ``beir`` source. ``suite:NAME`` (several datasets, run configs
    only) is not a source; an unregistered ``SOURCE:`` is a one-line error listing the
    sources.

    The factory receives ``ARGUMENT`` (a ``str``) as its first parameter, by that
    parameter's name (``beir``: ``path``); it is called with no argument for ``SOURCE:``.
    It raises a one-line ``RankarenaError`` for an argument it cannot open, and returns a
    dataset with:

    - ``name``: ``str``, the ``dataset`` column of results and the name in logs;
    - ``corpus``: the ``Corpus`` (an attribute or a property; it may load lazily);
    - ``splits``: the split names that have judgements (a sequence of ``str``);
    - ``queries(split)``: the ``Queries`` judged in ``split``;
    - ``qrels(split)``: the ``Qrels`` of ``split``; an unknown split raises a one-line
      ``RankarenaError`` naming ``splits``;
    - ``fingerprint(split)``: ``str``, a digest of the content a run on ``split`` reads,
      every document (id, title, text) and the split's queries (ids, texts), equal for
      equal content and different whenever any of it changes (the qrels need not be in
      it: evaluations are keyed by the qrels' own digest). Run cache keys hold the
      reference and this digest; for every source but ``beir`` the framework adds its own
      digest of ``corpus`` and ``queries(split)``, so changed content is never served a
      cached run.

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


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


@hookspec
def register_commands(subparsers):
    """Add verbs to the ``rankarena`` command (``rankarena VERB ...``).

    ``subparsers`` works as ``argparse``'s: ``subparsers.add_parser(name, help=...)``
    (``aliases=[...]`` and ``argparse.ArgumentParser`` keywords allowed) returns the verb's
    parser; add its arguments, then ``parser.set_defaults(handler=fn)``. ``rankarena VERB``
    calls ``fn(args)`` with the parsed ``argparse.Namespace`` (the global ``--device`` and
    ``--debug`` included) and exits with the int it returns (``None`` counts as 0). A
    ``RankarenaError`` it raises is said in one line, exit status 2, as for built-in verbs.
    Components are at hand through ``rankarena.plugin_manager()``.

    A plugin's verbs are added all together or not at all: when the hook raises, a verb has
    no handler, or a name (or alias) is already a built-in verb's or an earlier-loaded
    plugin's, none of them is added and the failure is reported under the plugin's name
    (stage ``register_commands``); the built-in verb, or the first plugin's, keeps the name.
    The hook is called when the command line does not name a built-in verb (``--help``, a
    plugin's verb) and by ``rankarena plugins``.

    :param subparsers: has ``add_parser(name, **kwargs) -> argparse.ArgumentParser``.
    """
