"""A plugin's names: the one the user gives (``NAME``) and those derived from it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParameterError

NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]*")
"""What ``NAME`` must match: a lowercase letter, then lowercase letters, digits and ``-``."""
MAX_LENGTH = 30
"""The longest ``NAME``: the generated code keeps within 100 columns for any valid name."""
RESERVED = ("beir", "suite")
"""Names a dataset source may not take: rankarena's BEIR source and its suite prefix."""


@dataclass(frozen=True)
class PluginNames:
    """The names of one plugin package.

    ``name``: what the user gave, the entry point's name and the prefix of every component
    (``NAME-tfidf``); ``distribution``: ``rankarena-NAME`` (what pip installs);
    ``package``: ``rankarena_NAME`` (what Python imports, ``-`` written ``_``).
    """

    name: str
    distribution: str
    package: str


def plugin_names(name: str) -> PluginNames:
    """The names of plugin ``name``; a one-line ``ParameterError`` for a name that is not
    ``[a-z][a-z0-9-]*`` of 2 to ``MAX_LENGTH`` characters."""
    if not isinstance(name, str) or NAME_PATTERN.fullmatch(name) is None:
        raise ParameterError(
            f"plugin name {name!r} must match [a-z][a-z0-9-]* (a lowercase letter, then "
            "lowercase letters, digits and '-')"
        )
    if len(name) < 2:
        raise ParameterError(
            f"plugin name {name!r} is one letter; give at least 2 ({name}:/folder, a dataset "
            "reference, would read as a Windows drive)"
        )
    if len(name) > MAX_LENGTH:
        raise ParameterError(
            f"plugin name {name!r} has {len(name)} characters; at most {MAX_LENGTH}"
        )
    return PluginNames(name, f"rankarena-{name}", f"rankarena_{name.replace('-', '_')}")
