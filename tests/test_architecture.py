"""Architecture: the framework never imports a plugin, and its modules import no cycle.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); ``.ci/lint_imports.py``
runs import-linter on the package laid out as installed (CI runs it after ruff).
"""

from __future__ import annotations

import importlib.util
import shutil
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = "the framework never imports a plugin"
ACYCLIC = "no import cycles among framework modules"


def _load_lint_imports():
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / ".ci" / "lint_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lint = _load_lint_imports()


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _framework_modules() -> set[str]:
    """Every module of ``framework/`` (the import package ``rankarena``), by its name."""
    names = set()
    for path in (ROOT / "framework").rglob("*.py"):
        parts = ("rankarena", *path.relative_to(ROOT / "framework").with_suffix("").parts)
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _with_extra_lines(tree: Path, module: str, lines: str) -> None:
    """Replace the link to ``module`` in the laid-out ``tree`` by a copy with ``lines`` added."""
    target = tree / "rankarena" / module
    source = target.resolve()
    target.unlink()
    shutil.copyfile(source, target)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(lines)


def test_contracts_are_kept(tmp_path):
    lint.build_tree(tmp_path)
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"{FORBIDDEN} KEPT" in output
    assert f"{ACYCLIC} KEPT" in output
    assert "2 kept, 0 broken" in output


@pytest.mark.parametrize(
    "wrong",
    [
        "\n\ndef _wrong():\n    from rankarena.plugins.swiss import sensitivity\n\n"
        "    return sensitivity\n",
        "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from rankarena.plugins import swiss  # noqa: F401\n",
        "\nimport rankarena.plugins.swiss  # noqa: E402, F401\n",
    ],
    ids=["inside-a-function", "type-checking", "module-level"],
)
def test_a_framework_module_importing_a_plugin_breaks_the_contract(tmp_path, wrong):
    lint.build_tree(tmp_path)
    _with_extra_lines(tmp_path, "report.py", wrong)  # a copy: framework/ stays untouched
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"{FORBIDDEN} BROKEN" in output
    assert "rankarena.report -> rankarena.plugins.swiss" in output
    assert f"{ACYCLIC} KEPT" in output


def test_a_new_import_cycle_breaks_the_acyclic_contract(tmp_path):
    lint.build_tree(tmp_path)  # bi_encoder imports models; models importing it closes a cycle
    _with_extra_lines(
        tmp_path, "models.py", "\n\ndef _cycle():\n    from rankarena import bi_encoder\n"
    )
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert f"{ACYCLIC} BROKEN" in output
    assert ".models -> .bi_encoder" in output


def test_the_forbidden_contract_names_every_framework_module():
    listed = set(_contract("framework-never-imports-plugins")["source_modules"])
    modules = _framework_modules()
    missing = sorted(modules - listed)
    assert not missing, (
        f"framework modules not in the forbidden contract's source_modules (pyproject.toml): "
        f"{', '.join(missing)}"
    )
    assert not sorted(listed - modules), "source_modules names modules that do not exist"
    assert "rankarena.bi_encoder" in modules


def test_the_dense_plugin_reexports_the_framework_bi_encoder():
    from rankarena import bi_encoder
    from rankarena.plugins import dense

    assert dense.BiEncoder is bi_encoder.BiEncoder
    assert dense.model_fingerprint is bi_encoder.model_fingerprint
