"""Helpers for tests that pip-install a plugin distribution for real (docs/plugin-example,
bridges/*): a copy of the package is installed into the running environment (offline:
``--no-index --no-build-isolation --no-deps``) and uninstalled afterwards, and every check
runs in a new process, so that the ``rankarena`` entry points are read afresh, exactly as a
user's ``rankarena`` command reads them."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

RANKARENA = Path(sysconfig.get_path("scripts")) / "rankarena"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pip ARGS`` in the running environment, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the plugin switches of the calling process, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANKARENA_DISABLE_PLUGINS", "RANKARENA_TRACE_PLUGINS")
    }
    env.update(extra)
    return env


def run_ok(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``args`` in ``cwd``; assert exit status 0 (stderr shown otherwise)."""
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=300, cwd=cwd, env=clean_env(**env)
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


@contextmanager
def installed_copy(package: Path, dist: str, folder: Path) -> Iterator[Path]:
    """Install a copy of ``package`` (made in ``folder``, so that its build files stay out of
    the checkout) as distribution ``dist``; uninstall it on exit. Yields the copy."""
    if pip("show", "--quiet", dist).returncode == 0:
        pytest.fail(
            f"{dist} is already installed in {sys.prefix}; this test installs and removes "
            f"it itself: run `{sys.executable} -m pip uninstall -y {dist}` first"
        )
    source = folder / dist
    shutil.copytree(
        package,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    try:
        result = pip(
            "install", "--no-index", "--no-build-isolation", "--no-deps", "--quiet", str(source)
        )
        assert result.returncode == 0, f"pip install failed:\n{result.stdout}{result.stderr}"
        yield source
    finally:
        removed = pip("uninstall", "--yes", dist)
        assert removed.returncode == 0, f"pip uninstall failed:\n{removed.stderr}"


def run_own_tests(installed: Path, workdir: Path) -> None:
    """Run the installed package's own ``tests/`` folder in a new process (from ``workdir``,
    so that the installed copy, not the checkout, is imported); every test must pass."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(installed / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [0-9.]+s", summary), summary


def rankarena_imports_outside_the_plugin_api(package: Path) -> list[tuple[Path, str]]:
    """The ``rankarena`` modules ``package``'s ``*.py`` files import other than
    ``rankarena`` and ``rankarena.api.*`` (the rule import-linter holds built-in plugins
    to; bridges and the example are outside its reach, so their tests read the imports)."""
    outside = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.startswith("rankarena.") and not name.startswith("rankarena.api."):
                    outside.append((path, name))
    return outside


def assert_listed(workdir: Path, dist: str, plugin: str, hook: str, kind: str, params: list[str]):
    """``rankarena plugins`` (JSON and table) lists the installed ``dist`` as plugin
    ``plugin`` implementing ``hook``, with one ``kind`` component of that name taking
    ``params``, and no plugin failed to load."""
    payload = json.loads(run_ok([str(RANKARENA), "plugins", "--json"], workdir).stdout)
    plugins = {p["name"]: p for p in payload["plugins"]}
    assert plugins[plugin]["distribution"] == dist
    assert plugins[plugin]["hooks"] == [hook]
    components = {c["name"]: c for c in payload["components"][kind]}
    assert components[plugin]["plugin"] == plugin
    assert components[plugin]["parameters"] == params
    assert payload["failures"] == []
    table = run_ok([str(RANKARENA), "plugins"], workdir).stdout
    assert f"{dist} 0.1.0" in table
