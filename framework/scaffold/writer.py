"""``write_plugin``: check the request, refuse to overwrite, write the package's files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import ParameterError
from .kinds import parse_kinds
from .layout import package_files
from .names import RESERVED, plugin_names


def write_plugin(name: str, kinds: Iterable[str], folder: Path) -> list[Path]:
    """Write the plugin package ``rankarena-NAME`` with one component of each of ``kinds``
    into ``folder`` (created; it may exist only empty) and return the files written.

    ``kinds``: entries of ``KINDS``, comma-separated lists of them or ``all``. A bad name,
    an unknown kind or a folder that exists and is not empty is a one-line
    ``ParameterError``, and nothing is written.
    """
    names = plugin_names(name)
    chosen = parse_kinds(kinds)
    if "dataset" in chosen and name in RESERVED:
        raise ParameterError(
            f"plugin name {name!r} is taken by rankarena's datasets ({', '.join(RESERVED)}); "
            "its dataset source would be unreachable: choose another name"
        )
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"output {str(folder)!r} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise ParameterError(
            f"output folder {str(folder)!r} exists and is not empty; give a new one (--output)"
        )
    files = package_files(names, chosen)
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
