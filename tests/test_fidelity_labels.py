"""Every built-in loss and sampler says how faithful it is to its source, the same way in
its docstring and in the docs' fidelity column: exact, adapted or unverified."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import rankarena

LABELS = ("exact", "adapted", "unverified")
DOCS = Path(__file__).resolve().parents[1] / "docs"
TABLES = {"losses": (DOCS / "losses.md", 1), "samplers": (DOCS / "negatives.md", 0)}
"""Registry → (the page, the column of the table that names the component)."""


def labels_in(text: str) -> set[str]:
    return {word for word in LABELS if re.search(rf"\b{word}\b", text)}


def fidelity_cells(page: Path, name_column: int) -> dict[str, str]:
    """``{component name: its fidelity cell}`` from the page's table with a fidelity
    column; every backticked name of the name cell (aliases too) maps to the row's cell."""
    cells: dict[str, str] = {}
    header = None
    for line in page.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        row = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            header = row
            continue
        if "fidelity" not in header or set(line) <= set("|- "):
            continue
        names = re.findall(r"`([a-z0-9-]+)`", row[name_column])
        for name in names:
            cells.setdefault(name, row[header.index("fidelity")])
    return cells


def built_in(kind: str) -> list[tuple[str, object]]:
    registry = getattr(rankarena.plugin_manager(), kind)
    specs = [(name, registry.get(name).factory) for name in registry.names()]
    return [(n, f) for n, f in specs if f.__module__.startswith("rankarena.plugins.")]


@pytest.mark.parametrize("kind", sorted(TABLES))
def test_docstring_and_docs_give_the_same_fidelity(kind):
    page, column = TABLES[kind]
    cells = fidelity_cells(page, column)
    components = built_in(kind)
    assert len(components) >= 10
    for name, factory in components:
        doc = inspect.getdoc(factory) or ""
        head = doc.split("\n\n", 1)[0]  # the summary paragraph
        assert doc.split()[0].strip("(:") in LABELS, f"{name}: docstring starts {doc[:30]!r}"
        assert name in cells, f"{name}: no row in {page.name}'s fidelity table"
        assert labels_in(head) == labels_in(cells[name]), (
            f"{name}: docstring says {sorted(labels_in(head))}, {page.name} says "
            f"{sorted(labels_in(cells[name]))}"
        )
