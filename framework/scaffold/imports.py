"""Import blocks written as ruff's import sorting (rule I001) writes them.

The sections, in order and separated by a blank line: ``__future__``, the standard library,
third-party packages, first-party packages (``rankarena`` and the plugin's own package, as
the generated ``pyproject.toml`` declares them) and relative imports. Within a section the
``import x`` lines come first, then the ``from x import y`` lines, each sorted by module;
one module's ``from`` imports are merged into one line whose names are sorted constants
first, then classes, then the rest; a line longer than ``LINE_LENGTH`` is wrapped one name
per line, with a trailing comma, as ruff's formatter keeps it.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable

LINE_LENGTH = 100
"""The line length of the generated package (that of rankarena's ruff settings)."""
SECTIONS = ("future", "standard-library", "third-party", "first-party", "local-folder")
"""The sections of an import block, in order."""


def section(module: str, first_party: Collection[str]) -> str:
    """The section of an import of ``module`` (``".tfidf"`` for a relative import)."""
    if module.startswith("."):
        return "local-folder"
    top = module.split(".")[0]
    if top == "__future__":
        return "future"
    if top in first_party:
        return "first-party"
    if top in sys.stdlib_module_names:
        return "standard-library"
    return "third-party"


def import_block(statements: Iterable[str], first_party: Collection[str]) -> str:
    """The sorted block of ``statements`` (each ``import x [as y]`` or ``from x import a,
    b``, on one line), without a trailing newline; duplicates are written once."""
    plain: dict[str, set[str]] = {name: set() for name in SECTIONS}
    names: dict[str, dict[str, set[str]]] = {name: {} for name in SECTIONS}
    for statement in statements:
        words = statement.split()
        if words[0] == "import":
            module = words[1]
            plain[section(module, first_party)].add(" ".join(words[1:]))
        elif words[0] == "from" and words[2] == "import":
            module = words[1]
            members = statement.split(" import ", 1)[1].split(",")
            found = names[section(module, first_party)].setdefault(module, set())
            found.update(member.strip() for member in members if member.strip())
        else:
            raise ValueError(f"not an import statement: {statement!r}")
    blocks = []
    for name in SECTIONS:
        lines = [f"import {entry}" for entry in sorted(plain[name], key=_module_key)]
        lines += [
            _from_line(module, members)
            for module, members in sorted(
                names[name].items(), key=lambda item: _module_key(item[0])
            )
        ]
        if lines:
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _module_key(module: str) -> tuple[str, str]:
    """Sort key of a module (or ``module as alias``): case-insensitive, then as written."""
    return module.lower(), module


def _member_key(member: str) -> tuple[int, str, str]:
    """Sort key of an imported name: constants, then classes, then the rest."""
    name = member.split(" as ")[0]
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, name.lower(), name


def _from_line(module: str, members: set[str]) -> str:
    """``from MODULE import a, b`` on one line, or wrapped one name per line."""
    ordered = sorted(members, key=_member_key)
    line = f"from {module} import {', '.join(ordered)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"    {member},\n" for member in ordered)
    return f"from {module} import (\n{body})"
