"""The plugin host: loading, disabling, broken plugins, registries, tracing."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import numpy as np
import pytest

import rankarena
from rankarena import PluginHost
from rankarena.core.host import DEFAULT_PLUGINS, disabled_plugins
from rankarena.errors import ParameterError, PluginError, UnknownNameError


class Widget:
    """A component with typed parameters (a retriever that finds nothing)."""

    def __init__(self, size: int, ratio: float = 0.5, label: str | None = None):
        self.size, self.ratio, self.label = size, ratio, label

    def index(self, corpus: rankarena.Corpus) -> Widget:
        return self

    def search(self, queries: rankarena.Queries, k: int) -> rankarena.Run:
        return rankarena.Run.from_dict({})


class Zero(rankarena.Metric):
    """A metric that is 0 for every query."""

    key = "zero"

    def per_query(self, judged):
        return np.zeros(judged.n_queries)


class WidgetPlugin:
    @rankarena.hookimpl
    def register_retrievers(self, register):
        register("widget", Widget, aliases=["gadget"])


def test_builtins_load_in_order():
    host = PluginHost(entry_points=False)
    names = [i.name for i in host.plugin_infos() if i.builtin]
    assert names == sorted(DEFAULT_PLUGINS)
    assert host.failures == []


def test_loading_the_builtins_imports_neither_torch_nor_scipy():
    """``rankarena eval`` starts in a fraction of a second: the built-in plugins import torch
    (losses, encoders), scipy (ratings, significance) and numba (exact search) when a
    component needs it, not when the host loads them. A fresh interpreter, since this one
    has imported them."""
    import subprocess

    code = (
        "import sys, rankarena\n"
        "host = rankarena.PluginHost(entry_points=False)\n"
        "assert len(host.metrics.names()) > 10\n"
        "print(sorted(m for m in ('torch', 'scipy', 'transformers', 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {"hinge", "infonce", "listnet", "margin-mse"} <= set(
        PluginHost(entry_points=False).losses.names()
    )


def test_disable_builtin_by_short_or_full_name(monkeypatch):
    monkeypatch.setenv("RANKARENA_DISABLE_PLUGINS", " metrics , rankarena.plugins.datasets.beir")
    assert disabled_plugins() == {"metrics", "rankarena.plugins.datasets.beir"}
    host = PluginHost(entry_points=False)
    assert len(host.metrics) == 0 and len(host.datasets) == 0
    assert host.select_device().name  # devices still load


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="rankarena")


def test_plugin_that_fails_to_import_is_reported_not_fatal(monkeypatch, capsys):
    broken = _entry_point("broken", "rankarena_no_such_module_xyz")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken])
    host = PluginHost()
    assert [(f.plugin, f.stage) for f in host.failures] == [("broken", "import")]
    assert "ModuleNotFoundError" in host.failures[0].error
    err = capsys.readouterr().err
    assert "plugin 'broken' failed in import" in err and len(err.strip().splitlines()) == 1
    assert "ndcg" in host.metrics  # the built-ins still work


def test_entry_point_disabled_is_not_imported(monkeypatch):
    broken = _entry_point("broken", "rankarena_no_such_module_xyz")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken])
    monkeypatch.setenv("RANKARENA_DISABLE_PLUGINS", "broken")
    assert PluginHost().failures == []


def test_misspelled_hook_is_rejected(monkeypatch):
    class Typo:
        @rankarena.hookimpl
        def register_metric(self, register):  # no such hook: register_metrics
            raise AssertionError("never called")

    host = PluginHost(entry_points=False)
    with pytest.raises(PluginError, match=r"unknown hook.*register_metric"):
        host.register(Typo(), name="typo")
    assert not host.pm.has_plugin("typo")
    # the same plugin installed through an entry point is reported and skipped
    module = types.ModuleType("rankarena_typo_plugin")

    @rankarena.hookimpl
    def register_metric(register):
        raise AssertionError("never called")

    module.register_metric = register_metric
    monkeypatch.setitem(sys.modules, "rankarena_typo_plugin", module)
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda group: [_entry_point("typo", "rankarena_typo_plugin")],
    )
    host = PluginHost()
    assert [(f.plugin, f.stage) for f in host.failures] == [("typo", "validation")]
    assert not host.pm.has_plugin("typo")


def test_registration_hook_that_raises_keeps_nothing_and_others_still_register():
    class HalfBroken:
        @rankarena.hookimpl
        def register_retrievers(self, register):
            register("half", Widget)
            raise RuntimeError("boom")

    host = PluginHost(entry_points=False)
    host.register(HalfBroken(), name="half-broken")
    host.register(WidgetPlugin(), name="widgets")
    assert "widget" in host.retrievers and "half" not in host.retrievers
    assert [(f.plugin, f.stage) for f in host.failures] == [("half-broken", "register_retrievers")]
    host.register(object(), name="nothing")  # rebuilding registries reports the failure once
    assert "widget" in host.retrievers
    assert len(host.failures) == 1


def test_name_collision_is_reported_and_first_plugin_keeps_the_name():
    class Impostor:
        @rankarena.hookimpl
        def register_metrics(self, register):
            register("mine", Zero)
            register("ndcg", Zero)

    host = PluginHost(entry_points=False)
    host.register(Impostor(), name="impostor")
    assert host.metrics.get("ndcg").plugin == "rankarena.plugins.metrics.trec_eval"
    assert "mine" not in host.metrics
    clash = "already registered by plugin 'rankarena.plugins.metrics.trec_eval'"
    assert clash in host.failures[0].error


def test_registry_create_checks_parameters():
    host = PluginHost(entry_points=False, disable=DEFAULT_PLUGINS)  # no built-in retrievers
    host.register(WidgetPlugin(), name="widgets")
    widget = host.retrievers.create("gadget", size=3, label="x")
    assert (widget.size, widget.ratio, widget.label) == (3, 0.5, "x")
    assert host.retrievers.create("widget", size=1, ratio=2).ratio == 2  # int is a float
    with pytest.raises(UnknownNameError) as info:
        host.retrievers.create("widgte", size=1)
    assert str(info.value) == (
        "unknown retriever 'widgte' (did you mean 'widget'?); known: gadget, widget"
    )
    with pytest.raises(ParameterError) as info:
        host.retrievers.create("widget", size=1, raito=0.1)
    assert str(info.value) == (
        "retriever 'widget' has no parameter 'raito' (did you mean 'ratio'?); "
        "valid parameters: size, ratio, label"
    )
    with pytest.raises(ParameterError, match=r"retriever 'widget' needs parameter.*: size"):
        host.retrievers.create("widget")
    with pytest.raises(ParameterError, match="'size' must be int, got str '3'"):
        host.retrievers.create("widget", size="3")
    with pytest.raises(ParameterError, match="'size' must be int, got bool"):
        host.retrievers.create("widget", size=True)
    with pytest.raises(ParameterError, match=r"'label' must be str \| None, got int 5"):
        host.retrievers.create("widget", size=1, label=5)


def test_metric_parameters_are_checked_through_the_registry():
    host = PluginHost(entry_points=False)
    with pytest.raises(ParameterError, match="cutoff k must be a positive integer"):
        rankarena.evaluate(
            rankarena.Run.from_dict({"q": {"d": 1.0}}),
            rankarena.Qrels.from_dict({"q": {"d": 1}}),
            [host.metrics.get("ndcg").factory(k=0)],
        )
    with pytest.raises(ParameterError, match="metric 'p' needs a cutoff: write p@K"):
        host.metrics.create("p")
    with pytest.raises(UnknownNameError, match="unknown metric 'ndgc' \\(did you mean 'ndcg'"):
        host.metrics.create("ndgc", k=10)


def test_unknown_kind():
    with pytest.raises(UnknownNameError, match="unknown component kind 'metric'"):
        PluginHost(entry_points=False).registry("metric")


def test_tracing_prints_every_hook_call(monkeypatch, capsys):
    monkeypatch.setenv("RANKARENA_TRACE_PLUGINS", "1")
    host = PluginHost(entry_points=False)
    host.metrics  # noqa: B018 - builds the registry
    host.select_device()
    err = capsys.readouterr().err.splitlines()
    assert any(
        line.startswith(
            "rankarena trace: register_metrics(register) -> rankarena.plugins.metrics.trec_eval"
        )
        for line in err
    )
    devices = "report_devices() -> rankarena.plugins.devices.torch_devices ["
    assert any(devices in line for line in err)


def test_no_tracing_by_default(monkeypatch, capsys):
    monkeypatch.delenv("RANKARENA_TRACE_PLUGINS", raising=False)
    PluginHost(entry_points=False).metrics  # noqa: B018
    assert "trace" not in capsys.readouterr().err


def test_plugin_manager_is_cached():
    assert rankarena.plugin_manager() is rankarena.plugin_manager()


def test_entry_point_named_like_a_loaded_plugin_is_reported(monkeypatch):
    metrics = "rankarena.plugins.metrics.trec_eval"
    clash = _entry_point(metrics, metrics)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [clash])
    host = PluginHost()
    assert [(f.plugin, f.stage) for f in host.failures] == [
        ("rankarena.plugins.metrics.trec_eval", "import")
    ]
    assert "ndcg" in host.metrics


def test_one_plugin_registering_a_name_twice_is_rejected_whole():
    class Twice:
        @rankarena.hookimpl
        def register_retrievers(self, register):
            register("one", Widget)
            register("two", Widget, aliases=["one"])

    host = PluginHost(entry_points=False, disable=DEFAULT_PLUGINS)
    host.register(Twice(), name="twice")
    assert len(host.retrievers) == 0
    assert "retrievers 'one' is registered twice by one plugin" in host.failures[0].error
