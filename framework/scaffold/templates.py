"""The template files under ``templates/`` and the placeholder scheme that fills them.

A template is the text of a file with placeholders ``{{key}}`` (``key``: lowercase letters
and ``_``), each replaced by ``values[key]``; nothing else is special, so Python, TOML and
TSV text is written as it will appear. A template of Python code may start with import
lines and a line ``# ---``: ``fragment`` splits the two, so that the imports of several
fragments can be merged into one block (``rankarena.scaffold.imports``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
"""A placeholder: ``{{name}}``, ``{{package}}``."""
SEPARATOR = "# ---"
"""The line between a fragment's imports and its body."""


def template(path: str) -> str:
    """The text of ``templates/PATH.tmpl`` (``path`` like ``"components/retriever.py"``)."""
    folder = resources.files(__package__).joinpath("templates")
    return folder.joinpath(f"{path}.tmpl").read_text(encoding="utf-8")


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{{key}}`` replaced by ``values[key]``; a key without a value is
    a ``KeyError`` (a template and its caller disagree: a bug, not bad input)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]

    return PLACEHOLDER.sub(value, text)


def fragment(text: str) -> tuple[list[str], str]:
    """``(import lines, body)`` of a fragment: the lines before ``# ---`` and the text after
    it (no ``# ---``: no imports, the whole text)."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.rstrip("\n") == SEPARATOR:
            imports = [entry.strip() for entry in lines[:number] if entry.strip()]
            return imports, "".join(lines[number + 1 :]).strip("\n") + "\n"
    return [], text.strip("\n") + "\n"
