"""Typed registries of components, filled from the ``register_*`` hooks.

``Registry.create(name, **params)`` checks the parameters against the factory's signature
before calling it, so a typo in a config fails with a one-line message that lists the
valid names instead of a traceback from deep inside a component. What the factory returns
is checked against the protocol of its kind (``rankarena.core.protocols``): an object
without a required member is a one-line ``PluginError`` naming the plugin, not an
``AttributeError`` later. ``check_factory`` does the same for a class factory when a plugin
registers it.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import ParameterError, PluginError, UnknownNameError, did_you_mean
from .protocols import HINTS, missing_class_members, missing_members

T = TypeVar("T")


@dataclass(frozen=True)
class Parameter:
    """One constructor parameter of a component, as shown by ``rankarena plugins``."""

    name: str
    annotation: str
    default: Any
    required: bool

    def __str__(self) -> str:
        text = f"{self.name}: {self.annotation}" if self.annotation else self.name
        return text if self.required else f"{text} = {self.default!r}"


@dataclass(frozen=True)
class ComponentSpec(Generic[T]):
    """What one ``register(...)`` call recorded."""

    kind: str
    name: str
    factory: Callable[..., T]
    plugin: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def parameters(self) -> list[Parameter]:
        """The factory's keyword parameters (``*args``/``**kwargs`` are not listed)."""
        hints = _type_hints(self.factory)
        params = []
        for p in _signature(self.factory).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            hint = hints.get(p.name, p.annotation)
            params.append(
                Parameter(
                    name=p.name,
                    annotation=_annotation_text(hint),
                    default=None if p.default is p.empty else p.default,
                    required=p.default is p.empty,
                )
            )
        return params


class Registry(Generic[T]):
    """All components of one kind, by name (aliases resolve to the same spec)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._specs: dict[str, ComponentSpec[T]] = {}
        self._aliases: dict[str, str] = {}

    def add(self, spec: ComponentSpec[T]) -> None:
        """Record a spec; a name already taken by another plugin is an error."""
        self.add_all([spec])

    def add_all(self, specs: list[ComponentSpec[T]]) -> None:
        """Record several specs, or none of them if any name is taken (or given twice)."""
        names = [key for spec in specs for key in (spec.name, *spec.aliases)]
        for key in names:
            if names.count(key) > 1:
                raise ParameterError(f"{self.kind} {key!r} is registered twice by one plugin")
        for spec in specs:
            for key in (spec.name, *spec.aliases):
                owner = self._resolve(key)
                if owner is not None:
                    raise ParameterError(
                        f"{self.kind} {key!r} from plugin {spec.plugin!r} is already "
                        f"registered by plugin {self._specs[owner].plugin!r}"
                    )
        for spec in specs:
            self._specs[spec.name] = spec
            for alias in spec.aliases:
                self._aliases[alias] = spec.name

    def _resolve(self, name: str) -> str | None:
        if name in self._specs:
            return name
        return self._aliases.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._specs))

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        """Every registered name and alias, sorted."""
        return sorted([*self._specs, *self._aliases])

    def get(self, name: str) -> ComponentSpec[T]:
        """The spec registered as ``name`` (or an alias of it)."""
        key = self._resolve(name)
        if key is None:
            raise UnknownNameError(singular(self.kind), name, self.names())
        return self._specs[key]

    def specs(self) -> list[ComponentSpec[T]]:
        """Every spec, sorted by name."""
        return [self._specs[n] for n in sorted(self._specs)]

    def create(self, name: str, /, **params: Any) -> T:
        """Build the component ``name`` with ``params`` after checking them (``name`` is
        positional-only, so a factory may itself take a parameter called ``name``).

        Raises ``UnknownNameError`` for an unknown name, ``ParameterError`` for an
        unknown parameter, a missing required one, or a value of the wrong type, and
        ``PluginError`` when the built object lacks a member its kind requires.
        """
        spec = self.get(name)
        check_parameters(spec, params)
        component = spec.factory(**params)
        check_component(spec, component)
        return component


_SINGULAR = {"losses": "loss"}


def singular(kind: str) -> str:
    """``"metrics"`` -> ``"metric"``, ``"losses"`` -> ``"loss"``."""
    return _SINGULAR.get(kind, kind[:-1] if kind.endswith("s") else kind)


def check_factory(spec: ComponentSpec[Any]) -> None:
    """Check a class factory for the methods its kind requires (``rankarena.core.protocols``).

    A function factory passes: only what it returns can be checked (``check_component``).
    Raises ``PluginError``: ``plugin 'acme' registers retriever 'foo' without search(queries,
    k)``.
    """
    if not inspect.isclass(spec.factory):
        return
    missing = missing_class_members(spec.kind, spec.factory)
    if missing:
        raise PluginError(
            f"plugin {spec.plugin!r} registers {singular(spec.kind)} {spec.name!r} "
            f"without {', '.join(missing)}{_hint(spec.kind)}"
        )


def check_component(spec: ComponentSpec[Any], component: object) -> None:
    """Check a built component for every member its kind requires.

    Raises ``PluginError``: ``plugin 'acme' registers retriever 'foo', whose factory returned
    a Foo without search(queries, k)``.
    """
    missing = missing_members(spec.kind, component)
    if missing:
        raise PluginError(
            f"plugin {spec.plugin!r} registers {singular(spec.kind)} {spec.name!r}, whose "
            f"factory returned {_a(type(component).__name__)} without {', '.join(missing)}"
            f"{_hint(spec.kind)}"
        )


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _hint(kind: str) -> str:
    return f" ({HINTS[kind]})" if kind in HINTS else ""


def check_parameters(spec: ComponentSpec[Any], params: dict[str, Any]) -> None:
    """Check ``params`` against the factory's signature and its simple type hints."""
    signature = _signature(spec.factory)
    accepts_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    declared = {p.name: p for p in spec.parameters}
    where = f"{singular(spec.kind)} {spec.name!r}"
    for key in params:
        if key not in declared and not accepts_any:
            valid = ", ".join(declared) or "none"
            raise ParameterError(
                f"{where} has no parameter {key!r}{did_you_mean(key, declared)}; "
                f"valid parameters: {valid}"
            )
    missing = [p.name for p in declared.values() if p.required and p.name not in params]
    if missing:
        raise ParameterError(f"{where} needs parameter(s): {', '.join(missing)}")
    hints = _type_hints(spec.factory)
    for key, value in params.items():
        if key in hints and not _matches(value, hints[key]):
            raise ParameterError(
                f"{where}: parameter {key!r} must be {_annotation_text(hints[key])}, "
                f"got {type(value).__name__} {value!r}"
            )


def _signature(factory: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(factory)


def _type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target)
    except Exception:  # unresolvable forward references: fall back to no checking
        return {}


_SIMPLE = (bool, int, float, str)


def _matches(value: Any, hint: Any) -> bool:
    """True where ``value`` fits ``hint``; hints other than simple scalars are not checked."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in _SIMPLE:
        return isinstance(value, hint)
    return not (origin in (list, tuple) and not isinstance(value, (list, tuple)))


def _annotation_text(hint: Any) -> str:
    if hint is inspect.Parameter.empty:
        return ""
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")
