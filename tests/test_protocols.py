"""Component protocols (``rankarena.core.protocols``): every built-in satisfies its kind's
protocol, and a plugin's component lacking a required member is a one-line failure naming
the plugin, at registration (class factories) or when it is built (function factories)."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pytest

import rankarena
import rankarena.api.protocols as api_protocols
from rankarena import PluginHost
from rankarena.core import protocols
from rankarena.core.host import DEFAULT_PLUGINS, KINDS
from rankarena.core.protocols import PROTOCOLS, missing_class_members, missing_members
from rankarena.errors import PluginError, UnknownNameError

# built-ins whose construction loads a model or a lexicon: their class is checked only
EXPENSIVE = {
    ("retrievers", "dense"),
    ("retrievers", "hybrid"),
    ("rerankers", "bi-encoder"),
    ("rerankers", "cross-encoder"),
    ("perturbations", "synonyms"),
}

RUN = rankarena.Run.from_dict({"q1": {"d1": 2.0, "d2": 1.0}})
QRELS = rankarena.Qrels.from_dict({"q1": {"d2": 1}})


def _plugin(kind: str, *components: tuple[str, object]) -> object:
    """A plugin object whose ``register_<kind>`` registers ``components`` (name, factory)."""

    def hook(self, register):
        for name, factory in components:
            register(name, factory)

    hook.__name__ = f"register_{kind}"
    return type("Plugin", (), {hook.__name__: rankarena.hookimpl(hook)})()


def _host(kind: str, *components: tuple[str, object]) -> PluginHost:
    """A host without built-ins, with plugin ``acme`` registering ``components`` (its
    registry of ``kind`` built, so that registration failures are in ``host.failures``)."""
    host = PluginHost(entry_points=False, disable=DEFAULT_PLUGINS)
    host.register(_plugin(kind, *components), name="acme")
    host.registry(kind)
    return host


# ------------------------------------------------------------------ the protocols


def test_every_kind_has_a_protocol():
    assert set(PROTOCOLS) == set(KINDS)
    for kind, protocol in PROTOCOLS.items():
        assert protocols.protocol_members(protocol), kind
        assert (protocol.__doc__ or "").strip(), kind


def test_required_members_per_kind():
    texts = {k: [m.text for m in protocols.protocol_members(p)] for k, p in PROTOCOLS.items()}
    assert texts == {
        "retrievers": ["index(corpus)", "search(queries, k)"],
        "rerankers": ["rerank(queries, corpus, run, k)"],
        "samplers": ["sample(context, num_negatives)"],
        "losses": [
            "__call__(scores, targets, mask=None)",
            "to(device)",
            "parameters()",
            "state_dict()",
            "load_state_dict(state_dict)",
        ],
        "aggregators": ["aggregate(scores)"],
        "perturbations": ["target", "apply(texts, rng)"],
        "metrics": ["name", "per_query(judged)"],
        "datasets": [
            "name",
            "corpus",
            "splits",
            "queries(split)",
            "qrels(split)",
            "fingerprint(split)",
        ],
    }


def test_protocols_are_in_the_plugin_api():
    for name in api_protocols.__all__:
        assert getattr(api_protocols, name) is getattr(protocols, name)
    from rankarena.evaluate import MetricLike  # where the evaluation engine had it

    assert MetricLike is api_protocols.Metric is api_protocols.MetricLike


# ------------------------------------------------------------------ the built-ins


@pytest.mark.parametrize("kind", KINDS)
def test_builtin_factories_satisfy_their_protocol(kind):
    host = PluginHost(entry_points=False)
    specs = host.registry(kind).specs()
    assert specs, f"no built-in {kind}"
    for spec in specs:
        if inspect.isclass(spec.factory):
            assert missing_class_members(kind, spec.factory) == [], spec.name
    assert host.failures == []


# values for the parameters some built-ins require (a cutoff, a recall level, a multiple of R)
SAMPLE_PARAMETERS = {"k": 10, "level": 0.5, "mult": 1.0}


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("rerankers", "datasets")])
def test_cheap_builtins_built_with_defaults_satisfy_their_protocol(kind):
    host = PluginHost(entry_points=False)
    built = 0
    for spec in host.registry(kind).specs():
        if (kind, spec.name) in EXPENSIVE:
            continue
        names = {p.name for p in spec.parameters}
        params = {name: value for name, value in SAMPLE_PARAMETERS.items() if name in names}
        component = host.registry(kind).create(spec.name, **params)  # create checks too
        assert missing_members(kind, component) == [], spec.name
        assert isinstance(component, PROTOCOLS[kind]), spec.name
        built += 1
    assert built


def test_builtin_dataset_source_returns_a_dataset_and_the_check_loads_nothing(scifact_dir):
    dataset = PluginHost(entry_points=False).datasets.create("beir", path=str(scifact_dir))
    assert "corpus" not in vars(dataset)  # the lazy corpus was not read by the check
    assert isinstance(dataset, api_protocols.Dataset)  # (isinstance reads it)


# ------------------------------------------------------------------ registration time


class IndexOnly:
    """Indexes, but cannot search."""

    def index(self, corpus):
        return self


class Nothing:
    """Finds nothing."""

    def index(self, corpus):
        return self

    def search(self, queries, k):
        return rankarena.Run.from_dict({})


def test_class_factory_without_a_required_method_is_one_line_naming_the_plugin(capsys):
    host = _host("retrievers", ("foo", IndexOnly), ("nothing", Nothing))
    assert "nothing" in host.retrievers  # the plugin's other components still register
    assert "foo" not in host.retrievers
    [failure] = host.failures
    assert (failure.plugin, failure.stage) == ("acme", "register_retrievers")
    assert failure.error == (
        "PluginError: plugin 'acme' registers retriever 'foo' without search(queries, k)"
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "plugin 'acme' registers retriever 'foo'" in err[0]
    host.register(object(), name="nothing-else")  # registries are rebuilt: reported once
    assert "nothing" in host.retrievers and len(host.failures) == 1
    with pytest.raises(UnknownNameError, match="unknown retriever 'foo'"):
        host.retrievers.create("foo")


class Empty:
    """Provides nothing."""


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("retrievers", "index(corpus), search(queries, k)"),
        ("rerankers", "rerank(queries, corpus, run, k)"),
        ("samplers", "sample(context, num_negatives)"),
        (
            "losses",
            "__call__(scores, targets, mask=None), to(device), parameters(), state_dict(), "
            "load_state_dict(state_dict) (a torch.nn.Module has them all)",
        ),
        ("aggregators", "aggregate(scores)"),
        ("perturbations", "apply(texts, rng)"),  # target may be set in __init__
        ("metrics", "per_query(judged)"),  # name too
        ("datasets", "queries(split), qrels(split), fingerprint(split)"),  # and data members
    ],
)
def test_each_kind_names_its_missing_methods(kind, missing):
    host = _host(kind, ("empty", Empty))
    assert "empty" not in host.registry(kind)
    kind_name = "loss" if kind == "losses" else kind[:-1]
    assert [f.error for f in host.failures] == [
        f"PluginError: plugin 'acme' registers {kind_name} 'empty' without {missing}"
    ]


def test_an_abstract_or_non_callable_method_counts_as_missing():
    class Unfinished(rankarena.Metric):
        key = "unfinished"  # per_query left abstract

    class Flat:
        index = None
        search = "bm25"

    metrics = _host("metrics", ("unfinished", Unfinished))
    assert [f.error for f in metrics.failures] == [
        "PluginError: plugin 'acme' registers metric 'unfinished' without per_query(judged) "
        "(abstract)"
    ]
    retrievers = _host("retrievers", ("flat", Flat))
    assert retrievers.failures[0].error.endswith(
        "without index(corpus) (not callable), search(queries, k) (not callable)"
    )


def test_without_a_failure_callback_register_raises():
    from rankarena.core.host import _make_register

    specs = []
    register = _make_register(specs, "aggregators", "acme")
    with pytest.raises(PluginError, match="registers aggregator 'x' without aggregate"):
        register("x", Empty)
    assert specs == []


# ------------------------------------------------------------------ create time


class Nameless:
    """A metric object that forgot its name."""

    def per_query(self, judged):
        return np.zeros(judged.n_queries)


def test_function_factory_is_checked_when_built():
    host = _host("metrics", ("nameless", lambda k=None: Nameless()))
    assert "nameless" in host.metrics and host.failures == []  # nothing to check yet
    message = (
        "plugin 'acme' registers metric 'nameless', whose factory returned a Nameless without name"
    )
    with pytest.raises(PluginError) as info:
        host.metrics.create("nameless")
    assert str(info.value) == message
    with pytest.raises(PluginError, match="whose factory returned a Nameless without name"):
        rankarena.evaluate(RUN, QRELS, ["nameless@5"], host=host)


def test_class_factory_data_members_are_checked_when_built():
    host = _host("metrics", ("nameless", Nameless))
    assert "nameless" in host.metrics  # a name may be set in __init__: not known yet
    with pytest.raises(PluginError, match="metric 'nameless', whose factory returned"):
        host.metrics.create("nameless")


def test_function_factory_result_without_a_method():
    host = _host("aggregators", ("half", lambda: types.SimpleNamespace(rank=print)))
    with pytest.raises(PluginError) as info:
        host.aggregators.create("half")
    assert str(info.value) == (
        "plugin 'acme' registers aggregator 'half', whose factory returned a SimpleNamespace "
        "without aggregate(scores)"
    )


# ------------------------------------------------------------------ what still passes


@dataclass
class Shout:
    """Upper-cases the texts (a dataclass; ``target`` a field with a default)."""

    target: str = "queries"

    def apply(self, texts, rng):
        return {key: text.upper() for key, text in texts.items()}


@dataclass
class Whisper:
    """Lower-cases the texts (``target`` a field without a default: an instance attribute)."""

    target: str

    def apply(self, texts, rng):
        return {key: text.lower() for key, text in texts.items()}


class NamedInInit:
    """A metric whose name is set in ``__init__``."""

    def __init__(self, k: int | None = None):
        self.name = "named" if k is None else f"named@{k}"

    def per_query(self, judged):
        return np.ones(judged.n_queries)


class Proxy:
    """Forwards every attribute to the object it wraps (``__getattr__``)."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)


class LazyDataset:
    """A dataset whose corpus is expensive: reading it is counted."""

    name = "lazy"
    splits = ("test",)
    reads = 0

    @cached_property
    def corpus(self):
        type(self).reads += 1
        return rankarena.Corpus.from_dict({"d1": {"title": "", "text": "x"}})

    def queries(self, split):
        return rankarena.Queries.from_dict({"q1": "x"})

    def qrels(self, split):
        return QRELS

    def fingerprint(self, split):
        return f"lazy/{split}"


@dataclass
class Ranked:
    """An aggregator whose rule is a field (a dataclass field without a default)."""

    aggregate: Callable[[rankarena.ScoreTable], rankarena.Ranking]


def _by_mean(scores):
    return rankarena.Ranking.from_scores("by-mean", scores.systems, np.nanmean(scores.scores, 1))


def test_reasonable_third_party_components_pass():
    aggregators = _host("aggregators", ("ranked", Ranked))
    assert aggregators.failures == []  # the method is an instance field: checked when built
    table = rankarena.ScoreTable(("a", "b"), ("t",), np.array([[1.0], [2.0]]))
    ranking = aggregators.aggregators.create("ranked", aggregate=_by_mean).aggregate(table)
    assert ranking.ranks.tolist() == [2, 1]

    perturbations = _host(
        "perturbations",
        ("shout", Shout),
        ("whisper", Whisper),
        ("whisper-made", lambda: Whisper("documents")),
    )
    assert perturbations.failures == []
    rng = np.random.default_rng(0)
    assert perturbations.perturbations.create("shout").apply({"q": "a"}, rng) == {"q": "A"}
    assert perturbations.perturbations.create("whisper", target="queries").target == "queries"
    assert perturbations.perturbations.create("whisper-made").target == "documents"

    metrics = _host("metrics", ("named", NamedInInit), ("proxied", lambda: Proxy(Shout())))
    assert metrics.failures == []
    assert rankarena.evaluate(RUN, QRELS, ["named@5"], host=metrics).mean == {"named@5": 1.0}
    with pytest.raises(PluginError, match="returned a Proxy without name, per_query"):
        metrics.metrics.create("proxied")  # __getattr__ is asked, and Shout has neither

    retrievers = _host("retrievers", ("proxied", lambda: Proxy(Nothing())))
    assert isinstance(retrievers.retrievers.create("proxied"), Proxy)

    datasets = _host("datasets", ("lazy", LazyDataset), ("made", lambda: LazyDataset()))
    assert datasets.failures == []
    datasets.datasets.create("lazy")
    datasets.datasets.create("made")
    assert LazyDataset.reads == 0  # the check did not compute the lazy corpus


def test_a_dataset_without_splits_and_fingerprint_fails_when_built():
    class Plain:
        name, corpus = "plain", None

        def queries(self, split):
            return rankarena.Queries.from_dict({})

        def qrels(self, split):
            return QRELS

    host = _host("datasets", ("plain", lambda: Plain()))
    with pytest.raises(PluginError) as info:
        host.datasets.create("plain")
    assert str(info.value) == (
        "plugin 'acme' registers dataset 'plain', whose factory returned a Plain without "
        "splits, fingerprint(split)"
    )
