"""Run ``lint-imports`` (import-linter) on rankarena's import graph.

The ``rankarena`` package is spread over three folders (``framework/``, ``plugins/`` and
``registries/``, mapped by setuptools' ``package-dir``), but grimp, which builds the graph
for import-linter, reads one folder per top-level package: the one ``rankarena`` resolves
to. So this script lays out the package as installed, a ``rankarena/`` folder of symbolic
links (framework's files, plus ``plugins`` and ``registries``), puts it first on
``PYTHONPATH`` and runs ``lint-imports`` with the contracts of ``pyproject.toml``.

Usage: ``python .ci/lint_imports.py [--tree DIR] [lint-imports options]``; ``--tree`` uses a
folder already laid out by ``build_tree`` (the tests add a wrong import to a copy there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = {"plugins": "plugins", "registries": "registries"}  # name -> folder in ROOT


def _link_files(source: Path, dest: Path) -> None:
    """``dest``: ``source``'s folders as folders, its files as symbolic links to them."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            _link_files(entry, dest / entry.name)
        else:
            (dest / entry.name).symlink_to(entry)


def build_tree(dest: Path, root: Path = ROOT) -> Path:
    """``dest/rankarena``: the package as installed, each file a symbolic link to ``root``'s
    (so that a test can replace one link by an edited copy and leave ``root`` untouched)."""
    package = dest / "rankarena"
    _link_files(root / "framework", package)
    for name, folder in SUBPACKAGES.items():
        _link_files(root / folder, package / name)
    return package


def lint_imports(tree: Path, args: list[str], root: Path = ROOT) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package laid out under ``tree``, output captured."""
    paths = [str(tree), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [command, "--no-cache", "--no-logo", *args, str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main(argv: list[str]) -> int:
    """Lay out the tree (or take ``--tree DIR``), run ``lint-imports``, print its output."""
    if argv[:1] == ["--tree"]:
        done = lint_imports(Path(argv[1]), argv[2:])
    else:
        with tempfile.TemporaryDirectory(prefix="rankarena-imports-") as tmp:
            build_tree(Path(tmp))
            done = lint_imports(Path(tmp), argv)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
