"""How the conformance kit gets the component it checks: by registry name or by factory.

``component`` is either a registered name (looked up in the plugin host, so a pip-installed
plugin's components are found by the name users type) or a factory (a class or function,
for a component not registered yet). ``params`` are its keyword parameters, checked as
``Registry.create`` checks a config's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.host import PluginHost, plugin_manager
from ..core.protocols import missing_members
from ..core.registry import singular
from .rules import broken

Component = str | Callable[..., Any]
"""A registered name or a factory."""


@dataclass
class Subject:
    """The component under check: its kind, how to build it, and its name in messages."""

    kind: str
    factory: Callable[..., Any]
    label: str
    build: Callable[..., Any]
    host: PluginHost

    def make(self, **extra: Any) -> Any:
        """A new component, with the checked ``params`` plus ``extra``."""
        return self.build(**extra)


def subject(
    kind: str,
    component: Component,
    params: Mapping[str, Any] | None,
    host: PluginHost | None,
) -> Subject:
    """The ``Subject`` for ``component`` of registry ``kind`` (``"retrievers"``...)."""
    host = host or plugin_manager()
    params = dict(params or {})
    if isinstance(component, str):
        registry = host.registry(kind)
        spec = registry.get(component)  # an unknown name: UnknownNameError listing the names

        def build(**extra: Any) -> Any:
            return registry.create(component, **{**params, **extra})

        return Subject(kind, spec.factory, f"{singular(kind)} {component!r}", build, host)
    if not callable(component):
        raise TypeError(f"component must be a registered name or a factory, got {component!r}")

    def build_from_factory(**extra: Any) -> Any:
        made = component(**{**params, **extra})
        missing = missing_members(kind, made)
        if missing:
            broken(f"the built object lacks {', '.join(missing)}")
        return made

    name = getattr(component, "__qualname__", repr(component))
    return Subject(kind, component, f"{singular(kind)} {name}", build_from_factory, host)
