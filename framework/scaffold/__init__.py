"""``rankarena plugin new``: write a new plugin package, one working component per kind.

``write_plugin(name, kinds, folder)`` writes the distribution ``rankarena-NAME`` (import
package ``rankarena_NAME``) into ``folder``: its ``pyproject.toml`` (entry point group
``rankarena``), one module per kind asked for with a small but real component, the
``@rankarena.hookimpl`` functions that register them, a README and tests (the conformance
kit's checks and one behavioural test per component). ``KINDS`` lists the kinds in the order
they are written.

The files come from templates under ``templates/`` filled with ``{{placeholder}}``
values (``rankarena.scaffold.templates``). This package imports only ``rankarena.errors``
and the standard library: it writes code for the plugin API, it does not use it.
"""

from __future__ import annotations

from .kinds import KINDS, parse_kinds
from .names import PluginNames, plugin_names
from .writer import write_plugin

__all__ = ["KINDS", "PluginNames", "parse_kinds", "plugin_names", "write_plugin"]
