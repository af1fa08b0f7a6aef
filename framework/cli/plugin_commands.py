"""The verbs plugins add to ``rankarena`` through the ``register_commands`` hook.

Each plugin's hook gets its own ``PluginCommands`` as ``subparsers``; what it adds is held
back until the hook has returned, then checked: every verb needs a handler
(``set_defaults(handler=fn)``) and a name (aliases included) that no built-in verb and no
plugin called before has. A plugin's verbs are then added all together, or, when the hook
raises or a check fails, none of them: the failure is reported like any other plugin
failure (one line on stderr, ``PluginHost.failures``, stage ``register_commands``), and the
built-in verb, or the first plugin's, keeps the name.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..core.host import PluginHost, tracing_enabled
from ..errors import PluginError
from .arguments import OneLineParser

HOOK = "register_commands"


@dataclass(frozen=True)
class PluginVerb:
    """A verb a plugin added: its name, aliases, ``add_parser`` options and parser."""

    name: str
    aliases: tuple[str, ...]
    options: dict[str, Any]
    parser: argparse.ArgumentParser

    @property
    def names(self) -> tuple[str, ...]:
        """The name and the aliases."""
        return (self.name, *self.aliases)


class PluginCommands:
    """The ``subparsers`` a ``register_commands`` hook gets: ``add_parser`` as argparse's
    subparsers have it, with the verbs kept in ``verbs`` until they are checked and added.

    :param prog: the command the verbs belong to (``rankarena``), for their usage lines.
    """

    def __init__(self, prog: str):
        self.prog = prog
        self.verbs: list[PluginVerb] = []

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A new verb ``name``: returns its parser, to which the plugin adds arguments and
        ``set_defaults(handler=fn)``. ``help=`` is its line in ``rankarena --help``,
        ``aliases=[...]`` other names; the other keywords go to ``argparse.ArgumentParser``.
        """
        aliases = tuple(kwargs.pop("aliases", ()))
        taken = {n for verb in self.verbs for n in verb.names}
        for verb_name in (name, *aliases):
            if not isinstance(verb_name, str) or not verb_name or verb_name.startswith("-"):
                raise PluginError(f"a verb name must be a word, got {verb_name!r}")
            if verb_name in taken:
                raise PluginError(f"verb {verb_name!r} is added twice")
            taken.add(verb_name)
        options = {key: kwargs.pop(key) for key in ("help", "deprecated") if key in kwargs}
        kwargs.setdefault("prog", f"{self.prog} {name}")
        parser = OneLineParser(**kwargs)
        self.verbs.append(PluginVerb(name, aliases, options, parser))
        return parser

    def check(self, owners: dict[str, str]) -> None:
        """Raise ``PluginError`` for a verb without a handler, or one whose name (or alias)
        is in ``owners`` (``{verb: who has it}``)."""
        for verb in self.verbs:
            if not callable(verb.parser.get_default("handler")):
                raise PluginError(
                    f"verb {verb.name!r} has no handler: call set_defaults(handler=fn) "
                    "on its parser"
                )
            for name in verb.names:
                if name in owners:
                    raise PluginError(
                        f"verb {name!r} is taken by {owners[name]}; "
                        "none of the plugin's verbs were added"
                    )


def add_plugin_commands(
    subparsers: argparse._SubParsersAction, host: PluginHost, prog: str = "rankarena"
) -> None:
    """Add the verbs of every plugin of ``host`` that implements ``register_commands``, in
    load order, after the built-in ones already in ``subparsers`` (made with
    ``parser_class=arguments.verb_parser``); a plugin whose verbs cannot all be added adds
    none and is reported (``host.failures``). ``prog``: the command, for usage lines."""
    owners = {name: "a built-in verb" for name in subparsers.choices}
    trace = tracing_enabled()
    for impl in getattr(host.pm.hook, HOOK).get_hookimpls():
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue
        plugin = impl.plugin_name
        staged = PluginCommands(prog)
        start = time.perf_counter()
        try:
            impl.function(**{name: staged for name in impl.argnames})
            staged.check(owners)
        except Exception as exc:  # a broken plugin must not take the command line down
            host.record_failure(plugin, HOOK, exc)
            continue
        finally:
            if trace:
                took = (time.perf_counter() - start) * 1e3
                print(
                    f"rankarena trace: {HOOK}(subparsers) -> {plugin} [{took:.2f} ms]",
                    file=sys.stderr,
                )
        for verb in staged.verbs:
            subparsers.add_parser(
                verb.name, aliases=verb.aliases, adopt=verb.parser, **verb.options
            )
            owners.update(dict.fromkeys(verb.names, f"plugin {plugin!r}"))
