"""The plugin host: loads built-in and installed plugins and builds the registries.

Load order: the modules in ``DEFAULT_PLUGINS``, then every entry point of the ``rankarena``
group, skipping the names listed (comma-separated) in ``RANKARENA_DISABLE_PLUGINS``. A
plugin that fails to import, fails validation or raises in a hook is reported by name
(``PluginHost.failures`` and one line on stderr) and skipped; the host keeps working.

Every component a plugin registers is checked against the protocol of its kind
(``rankarena.core.protocols``): a class factory lacking a required method is such a
failure (stage ``register_<kind>``), and that component alone is left out; the plugin's
other components still register. A function factory is checked on what it returns, when
``Registry.create`` builds it (a ``PluginError``).

``RANKARENA_TRACE_PLUGINS=1`` prints every hook call, plugin by plugin, with its duration.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from ..errors import PluginError, RankarenaError, UnknownNameError
from . import hookspecs
from .devices import DeviceReport, select_device
from .registry import ComponentSpec, Registry, check_factory

ENTRY_POINT_GROUP = "rankarena"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "rankarena.plugins.devices.torch_devices",
    "rankarena.plugins.metrics.trec_eval",
    "rankarena.plugins.metrics.ir_measures",
    "rankarena.plugins.metrics.pooled_auc",
    "rankarena.plugins.datasets.beir",
    "rankarena.plugins.retrieval.bm25",
    "rankarena.plugins.retrieval.dense",
    "rankarena.plugins.retrieval.hybrid",
    "rankarena.plugins.rerankers.cross_encoder",
    "rankarena.plugins.aggregators.mteb_columns",
    "rankarena.plugins.aggregators.social_choice",
    "rankarena.plugins.aggregators.kemeny",
    "rankarena.plugins.aggregators.ratings",
    "rankarena.plugins.aggregators.swiss",
    "rankarena.plugins.samplers.baselines",
    "rankarena.plugins.rerankers.dense_reranker",
    "rankarena.plugins.samplers.denoised",
    "rankarena.plugins.samplers.mixes",
    "rankarena.plugins.samplers.clusters",
    "rankarena.plugins.samplers.dynamic",
    "rankarena.plugins.losses.contrastive",
    "rankarena.plugins.losses.pairwise",
    "rankarena.plugins.losses.listwise",
    "rankarena.plugins.losses.distillation",
    "rankarena.plugins.perturbations.queries",
    "rankarena.plugins.perturbations.documents",
    "rankarena.plugins.perturbations.paraphrase",
)

# the built-ins' module names before plugins/ was split by kind (0.1), still accepted by
# ``disable`` and RANKARENA_DISABLE_PLUGINS so that existing settings keep working
FORMER_NAMES: dict[str, str] = {
    "retrievers": "rankarena.plugins.retrieval.bm25",
    "rerankers": "rankarena.plugins.rerankers.cross_encoder",
    "score_aggregators": "rankarena.plugins.aggregators.mteb_columns",
    "samplers": "rankarena.plugins.samplers.baselines",
    "sampler_denoised": "rankarena.plugins.samplers.denoised",
    "sampler_mixes": "rankarena.plugins.samplers.mixes",
    "sampler_clusters": "rankarena.plugins.samplers.clusters",
    "sampler_dynamic": "rankarena.plugins.samplers.dynamic",
    "losses_contrastive": "rankarena.plugins.losses.contrastive",
    "losses_pairwise": "rankarena.plugins.losses.pairwise",
    "losses_listwise": "rankarena.plugins.losses.listwise",
    "losses_distillation": "rankarena.plugins.losses.distillation",
    "perturbations_queries": "rankarena.plugins.perturbations.queries",
    "perturbations_documents": "rankarena.plugins.perturbations.documents",
    "perturbations_paraphrase": "rankarena.plugins.perturbations.paraphrase",
}


def builtin_names(module_name: str) -> set[str]:
    """Every name that disables the built-in ``module_name``: the module, its last part,
    ``family.last`` and its family (``rankarena.plugins.aggregators.swiss``: ``swiss``,
    ``aggregators.swiss``, ``aggregators``), plus its name before the split (``FORMER_NAMES``)."""
    family, last = module_name.rsplit(".", 2)[-2:]
    names = {module_name, last, f"{family}.{last}", family}
    return names | {old for old, new in FORMER_NAMES.items() if new == module_name}


KINDS: tuple[str, ...] = (
    "retrievers",
    "rerankers",
    "samplers",
    "losses",
    "aggregators",
    "perturbations",
    "metrics",
    "datasets",
)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that did not load, or a hook of it that raised."""

    plugin: str
    stage: str
    error: str

    def __str__(self) -> str:
        return f"rankarena: plugin {self.plugin!r} failed in {self.stage}: {self.error}"


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its name, where it comes from and which hooks it implements."""

    name: str
    hooks: tuple[str, ...]
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False


def disabled_plugins(value: str | None = None) -> set[str]:
    """The names in ``RANKARENA_DISABLE_PLUGINS`` (or ``value``), comma-separated."""
    raw = os.environ.get("RANKARENA_DISABLE_PLUGINS", "") if value is None else value
    return {part.strip() for part in raw.split(",") if part.strip()}


def tracing_enabled() -> bool:
    """True where ``RANKARENA_TRACE_PLUGINS`` is set to something other than 0/empty."""
    return os.environ.get("RANKARENA_TRACE_PLUGINS", "") not in ("", "0", "false", "no")


class PluginHost:
    """A ``pluggy.PluginManager`` plus one ``Registry`` per component kind.

    :param entry_points: load the ``rankarena`` entry-point group (installed plugins).
    :param disable: plugin names to skip; defaults to ``RANKARENA_DISABLE_PLUGINS``.
        A built-in is named by its module (``rankarena.plugins.metrics.trec_eval``) or its last
        part (``metrics``).
    """

    def __init__(self, entry_points: bool = True, disable: Iterable[str] | None = None):
        self.pm = pluggy.PluginManager("rankarena")
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._distributions: dict[str, tuple[str, str]] = {}
        self._builtins: set[str] = set()
        self._registries: dict[str, Registry[Any]] = {}
        self._trace = tracing_enabled()
        skip = disabled_plugins() if disable is None else set(disable)
        for module_name in DEFAULT_PLUGINS:
            if builtin_names(module_name) & skip:
                continue
            self.pm.register(importlib.import_module(module_name), name=module_name)
            self._builtins.add(module_name)
        if entry_points:
            self._load_entry_points(skip)

    # ---------------------------------------------------------------- loading

    def _load_entry_points(self, skip: set[str]) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in skip:
                continue
            if self.pm.has_plugin(ep.name):
                self.record_failure(
                    ep.name, "import", PluginError("a plugin of that name is loaded")
                )
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the host down
                self.record_failure(ep.name, "import", exc)
                continue
            unknown = self._unknown_hooks(ep.name)
            if unknown:
                self.pm.unregister(name=ep.name)
                self.record_failure(
                    ep.name,
                    "validation",
                    PluginError(f"implements unknown hook(s) {', '.join(unknown)}"),
                )
                continue
            if ep.dist is not None:
                self._distributions[ep.name] = (ep.dist.name, ep.dist.version)

    def _unknown_hooks(self, name: str) -> list[str]:
        """Hook names a plugin implements that no hookspec defines (e.g. misspelled)."""
        plugin = self.pm.get_plugin(name)
        callers = self.pm.get_hookcallers(plugin) or []
        return sorted(
            caller.name
            for caller in callers
            if not caller.has_spec() and not caller.name.startswith("_")
        )

    def record_failure(self, plugin: str, stage: str, exc: BaseException) -> None:
        """Record that ``plugin`` failed in ``stage`` (a hook name, ``import``): once, in
        ``failures`` and as one line on stderr. For callers that call a hook themselves,
        like the command line's ``register_commands``."""
        failure = PluginFailure(plugin, stage, f"{type(exc).__name__}: {exc}".splitlines()[0])
        if failure in self.failures:  # registries are rebuilt after register(); report once
            return
        self.failures.append(failure)
        print(str(failure), file=sys.stderr)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object or module at run time (tests, notebooks).

        Raises ``PluginError`` if it implements a hook that no hookspec defines.
        """
        registered = self.pm.register(plugin, name=name) or (name or "")
        unknown = self._unknown_hooks(registered)
        if unknown:
            self.pm.unregister(name=registered)
            raise PluginError(
                f"plugin {registered!r} implements unknown hook(s) {', '.join(unknown)}"
            )
        self._registries.clear()
        return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name``."""
        self.pm.unregister(name=name)
        self._registries.clear()

    # ---------------------------------------------------------------- calling hooks

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook_name`` on each plugin separately: ``[(plugin_name, result), ...]``.

        A plugin whose implementation raises is reported and skipped. ``None`` results
        are dropped, as pluggy does.
        """
        caller = getattr(self.pm.hook, hook_name)
        results = []
        for impl in caller.get_hookimpls():
            if impl.hookwrapper or getattr(impl, "wrapper", False):
                continue
            args = {name: kwargs[name] for name in impl.argnames}
            start = time.perf_counter()
            try:
                result = impl.function(**args)
            except Exception as exc:
                self.record_failure(impl.plugin_name, hook_name, exc)
                continue
            finally:
                if self._trace:
                    took = (time.perf_counter() - start) * 1e3
                    print(
                        f"rankarena trace: {hook_name}({', '.join(args)}) -> "
                        f"{impl.plugin_name} [{took:.2f} ms]",
                        file=sys.stderr,
                    )
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    # ---------------------------------------------------------------- registries

    def registry(self, kind: str) -> Registry[Any]:
        """The registry of ``kind`` (one of ``KINDS``), built from the hooks on first use."""
        if kind not in KINDS:
            raise UnknownNameError("component kind", kind, KINDS)
        if kind not in self._registries:
            self._registries[kind] = self._build_registry(kind)
        return self._registries[kind]

    def _build_registry(self, kind: str) -> Registry[Any]:
        registry: Registry[Any] = Registry(kind)
        caller = getattr(self.pm.hook, f"register_{kind}")
        for impl in caller.get_hookimpls():
            plugin = impl.plugin_name
            specs: list[ComponentSpec[Any]] = []
            start = time.perf_counter()
            try:
                reject = functools.partial(self.record_failure, plugin, f"register_{kind}")
                impl.function(register=_make_register(specs, kind, plugin, reject))
                registry.add_all(specs)  # all of a plugin's components, or none of them
            except Exception as exc:
                self.record_failure(plugin, f"register_{kind}", exc)
            finally:
                if self._trace:
                    took = (time.perf_counter() - start) * 1e3
                    print(
                        f"rankarena trace: register_{kind}(register) -> {plugin} [{took:.2f} ms]",
                        file=sys.stderr,
                    )
        return registry

    @property
    def retrievers(self) -> Registry[Any]:
        return self.registry("retrievers")

    @property
    def rerankers(self) -> Registry[Any]:
        return self.registry("rerankers")

    @property
    def samplers(self) -> Registry[Any]:
        return self.registry("samplers")

    @property
    def losses(self) -> Registry[Any]:
        return self.registry("losses")

    @property
    def aggregators(self) -> Registry[Any]:
        return self.registry("aggregators")

    @property
    def perturbations(self) -> Registry[Any]:
        return self.registry("perturbations")

    @property
    def metrics(self) -> Registry[Any]:
        return self.registry("metrics")

    @property
    def datasets(self) -> Registry[Any]:
        return self.registry("datasets")

    # ---------------------------------------------------------------- devices

    def device_reports(self) -> list[DeviceReport]:
        """Every device any plugin reports, in plugin load order."""
        reports: list[DeviceReport] = []
        for plugin, result in self.call_each("report_devices"):
            items = result if isinstance(result, (list, tuple)) else [result]
            for item in items:
                if not isinstance(item, DeviceReport):
                    self.record_failure(
                        plugin, "report_devices", TypeError(f"not a DeviceReport: {item!r}")
                    )
                    continue
                reports.append(DeviceReport(**{**item.__dict__, "plugin": plugin}))
        return reports

    def select_device(self, override: str | None = None) -> DeviceReport:
        """The device every torch-using component gets (``override`` = ``--device``)."""
        return select_device(self.device_reports(), override)

    def paraphrase(self, texts: list[str], seed: int) -> list[str] | None:
        """The first plugin's paraphrases of ``texts`` (``None`` if no plugin gives any);
        a result of the wrong length is that plugin's error (reported, skipped)."""
        for plugin, result in self.call_each("paraphrase", texts=list(texts), seed=seed):
            if (
                isinstance(result, list)
                and len(result) == len(texts)
                and all(isinstance(t, str) for t in result)
            ):
                return result
            self.record_failure(
                plugin, "paraphrase", TypeError(f"expected {len(texts)} strings, got {result!r}")
            )
        return None

    # ---------------------------------------------------------------- observers

    def notify_run_start(self, run: Any) -> None:
        """Call ``on_run_start`` on every plugin."""
        self.call_each("on_run_start", run=run)

    def notify_result(self, result: dict[str, Any]) -> None:
        """Call ``on_result`` on every plugin."""
        self.call_each("on_result", result=result)

    def notify_run_end(self, run: Any, results: Any) -> None:
        """Call ``on_run_end`` on every plugin."""
        self.call_each("on_run_end", run=run, results=results)

    # ---------------------------------------------------------------- listing

    def plugin_infos(self) -> list[PluginInfo]:
        """The loaded plugins, built-ins first, with their hooks and versions."""
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or []))
            dist, version = self._distributions.get(name, (None, None))
            infos.append(PluginInfo(name, hooks, dist, version, builtin=name in self._builtins))
        infos.sort(key=lambda i: (not i.builtin, i.name))
        return infos


def _make_register(
    specs: list[ComponentSpec[Any]],
    kind: str,
    plugin: str,
    reject: Callable[[PluginError], None] | None = None,
) -> Callable[..., None]:
    """The ``register`` callable given to ``plugin``'s ``register_<kind>`` hook: it appends
    one ``ComponentSpec`` to ``specs`` per call. A component that fails its protocol check
    (``check_factory``) is passed to ``reject`` and left out (raised without ``reject``)."""

    def register(
        name: str,
        factory: Callable[..., Any],
        *,
        description: str | None = None,
        aliases: Iterable[str] = (),
        **meta: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise RankarenaError(f"{kind} names must be non-empty strings, got {name!r}")
        if not callable(factory):
            raise RankarenaError(f"{kind} {name!r}: factory {factory!r} is not callable")
        if description is None:
            doc = (factory.__doc__ or "").strip()
            description = doc.splitlines()[0] if doc else ""
        spec = ComponentSpec(
            kind=kind,
            name=name,
            factory=factory,
            plugin=plugin,
            description=description,
            aliases=tuple(aliases),
            meta=meta,
        )
        try:
            check_factory(spec)
        except PluginError as exc:
            if reject is None:
                raise
            reject(exc)
            return
        specs.append(spec)

    return register


_HOST: PluginHost | None = None


def plugin_manager(reload: bool = False) -> PluginHost:
    """The process-wide ``PluginHost`` (built-ins + entry points), created once."""
    global _HOST
    if _HOST is None or reload:
        _HOST = PluginHost()
    return _HOST
