"""Architecture: the framework's layers, the plugin API the built-ins keep, no cycles.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``); ``.ci/lint_imports.py``
runs import-linter on the package laid out as installed (CI runs it after ruff). Each test
that breaks a contract edits a *copy* of one file in a laid-out tree: the sources stay as
they are.
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parent.parent
LAYERS = "the framework's layers stack: no module imports a layer above its own"
FORBIDDEN = "the framework never imports a plugin"
PLUGIN_API = "plugins import only the plugin API (rankarena and rankarena.api.*)"
FAMILIES = "built-in plugin families do not import each other"
ACYCLIC = "no import cycles among framework modules"
ALL = (LAYERS, FORBIDDEN, PLUGIN_API, FAMILIES, ACYCLIC)


def _load_lint_imports():
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / ".ci" / "lint_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lint = _load_lint_imports()


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def _with_extra_lines(tree: Path, path: str, lines: str) -> None:
    """Replace the link to ``path`` (inside the laid-out package) by a copy with ``lines``."""
    target = tree / "rankarena" / path
    text = target.resolve().read_text(encoding="utf-8")
    target.unlink()
    target.write_text(text + lines, encoding="utf-8")


def _lint_with(tmp_path: Path, path: str, lines: str) -> tuple[str, set[str]]:
    lint.build_tree(tmp_path)
    _with_extra_lines(tmp_path, path, lines)
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    return output, {name for name in ALL if f"{name} BROKEN" in output}


def test_contracts_are_kept(tmp_path):
    lint.build_tree(tmp_path)
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for name in ALL:
        assert f"{name} KEPT" in output
    assert f"{len(ALL)} kept, 0 broken" in output


@pytest.mark.parametrize(
    "wrong",
    [
        "\n\ndef _wrong():\n    from rankarena.plugins.aggregators.swiss import sensitivity\n\n"
        "    return sensitivity\n",
        "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from rankarena.plugins.aggregators import swiss  # noqa: F401\n",
        "\nimport rankarena.plugins.aggregators.swiss  # noqa: E402, F401\n",
    ],
    ids=["inside-a-function", "type-checking", "module-level"],
)
def test_a_framework_module_importing_a_plugin_breaks_the_contract(tmp_path, wrong):
    output, broken = _lint_with(tmp_path, "report/builder.py", wrong)
    assert FORBIDDEN in broken
    assert "rankarena.report.builder -> rankarena.plugins.aggregators.swiss" in output


def test_an_upward_import_breaks_the_layers(tmp_path):
    lazy = "\n\ndef _up():\n    from ..runs import pipeline\n\n    return pipeline\n"
    output, broken = _lint_with(tmp_path, "data/qrels.py", lazy)
    assert LAYERS in broken
    assert "rankarena.data.qrels -> rankarena.runs.pipeline" in output


def test_a_new_framework_package_outside_the_layers_breaks_the_contract(tmp_path):
    lint.build_tree(tmp_path)
    (tmp_path / "rankarena" / "newthing").mkdir()
    (tmp_path / "rankarena" / "newthing" / "__init__.py").write_text('"""New."""\n')
    done = lint.lint_imports(tmp_path, [])
    output = done.stdout + done.stderr
    assert f"{LAYERS} BROKEN" in output
    assert "rankarena.newthing" in output and "not listed as layers" in output


@pytest.mark.parametrize(
    ("wrong", "edge"),
    [
        (
            "\nfrom rankarena.core.host import DEFAULT_PLUGINS  # noqa: E402, F401\n",
            "rankarena.plugins.aggregators.swiss -> rankarena.core.host",
        ),
        (
            "\n\ndef _private():\n    from rankarena.leaderboard.pairwise import outcomes\n\n"
            "    return outcomes\n",
            "rankarena.plugins.aggregators.swiss -> rankarena.leaderboard.pairwise",
        ),
    ],
    ids=["module-level", "inside-a-function"],
)
def test_a_plugin_importing_a_framework_internal_breaks_the_plugin_api(tmp_path, wrong, edge):
    output, broken = _lint_with(tmp_path, "plugins/aggregators/swiss.py", wrong)
    assert broken == {PLUGIN_API}
    assert edge in output


def test_a_plugin_family_importing_another_breaks_independence(tmp_path):
    wrong = "\nfrom rankarena.plugins.retrieval.dense import BiEncoder  # noqa: E402, F401\n"
    output, broken = _lint_with(tmp_path, "plugins/samplers/clusters.py", wrong)
    assert broken == {FAMILIES}
    assert "rankarena.plugins.samplers.clusters -> rankarena.plugins.retrieval.dense" in output


def test_a_new_import_cycle_breaks_the_acyclic_contract(tmp_path):
    cycle = "\n\ndef _cycle():\n    from . import bi_encoder\n\n    return bi_encoder\n"
    output, broken = _lint_with(tmp_path, "retrieval/models.py", cycle)
    assert ACYCLIC in broken
    assert ".models -> .bi_encoder" in output


def _framework_children() -> set[str]:
    """The packages and top-level modules of ``framework/`` (the import package rankarena)."""
    names = set()
    for entry in (ROOT / "framework").iterdir():
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.add(entry.name)
        elif entry.suffix == ".py" and entry.name != "__init__.py":
            names.add(entry.stem)
    return names


def test_every_framework_package_is_a_declared_layer():
    layers = _contract("framework-layers")["layers"]
    declared = {name.strip() for layer in layers for name in layer.split("|")}
    children = _framework_children()
    assert children == declared, (
        f"framework packages not in the layers contract (pyproject.toml): "
        f"{', '.join(sorted(children - declared)) or '-'}; "
        f"layers that are not framework packages: {', '.join(sorted(declared - children)) or '-'}"
    )
    modules = {p.stem for p in (ROOT / "framework").glob("*.py")} - {"__init__"}
    assert modules == {"errors"}, "framework/ keeps its modules in sub-packages"


def test_the_forbidden_contracts_cover_every_framework_package():
    sources = set(_contract("framework-never-imports-plugins")["source_modules"])
    internals = set(_contract("plugins-use-the-plugin-api")["forbidden_modules"])
    for child in _framework_children():
        assert f"rankarena.{child}" in sources
        if child != "api":
            assert f"rankarena.{child}" in internals
    families = set(_contract("plugin-families-independent")["modules"])
    on_disk = {
        f"rankarena.plugins.{p.name}"
        for p in (ROOT / "plugins").iterdir()
        if (p / "__init__.py").exists()
    }
    assert families == on_disk


def _private_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level or (node.module or "").startswith("rankarena")
        ):
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name} from "
                f"{'.' * node.level}{node.module or ''}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_no_module_imports_a_private_name_of_another():
    found = [
        line
        for folder in ("framework", "plugins")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in _private_imports(path)
    ]
    assert not found, "\n".join(found)


def test_the_private_name_check_sees_one(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text("from rankarena.plugins.samplers.baselines import _helper\n")
    root_relative = Path(ROOT / "tests" / "_private_probe.py")
    try:
        root_relative.write_text(wrong.read_text())
        assert _private_imports(root_relative) == [
            "tests/_private_probe.py:1 imports _helper from rankarena.plugins.samplers.baselines"
        ]
    finally:
        root_relative.unlink()


def test_the_dense_plugin_uses_the_framework_bi_encoder():
    from rankarena.plugins.retrieval import dense
    from rankarena.retrieval import bi_encoder

    assert dense.BiEncoder is bi_encoder.BiEncoder
    assert dense.model_fingerprint is bi_encoder.model_fingerprint


def test_every_package_folder_is_installed():
    """setuptools' ``packages`` (pyproject.toml) lists every package of the three folders, so
    a wheel holds them all (an editable install would hide a missing one)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"rankarena": "framework", "rankarena.plugins": "plugins"}
    found = {"rankarena.registries"}
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *parts)))
    # folders of package data only (the scaffold's templates): listed, with their data
    data_only = set(config["packages"]) - found
    for name in data_only:
        folder = ROOT / "framework" / Path(*name.split(".")[1:])
        assert folder.is_dir() and not list(folder.glob("*.py")), name
        assert name in config["package-data"], f"{name} is listed without its data"
    assert set(config["packages"]) == found | data_only
