"""What a generated package holds: each file's path (relative to the package folder) and
its text, for a plugin's names and kinds. Nothing is written here (``writer`` does).

The package ``rankarena-NAME``::

    pyproject.toml              setuptools; entry point ``NAME = "rankarena_NAME"``
    README.md                   what it registers; install, test, publish
    rankarena_NAME/__init__.py  the @rankarena.hookimpl functions, one per kind
    rankarena_NAME/MODULE.py    one module per kind (``Kind.module``)
    rankarena_NAME/sample/      the sample collection (with the dataset kind)
    tests/conftest.py           the stats verb's dataset (with the command kind)
    tests/test_components.py    one behavioural test per kind
    tests/test_conformance.py   the conformance kit's check of each component
"""

from __future__ import annotations

from .imports import import_block
from .kinds import KINDS, SPECS
from .names import PluginNames
from .templates import fill, fragment, template

SAMPLE_FILES = ("corpus.tsv", "queries.tsv", "qrels.tsv")
"""The sample collection's files (``templates/sample/``)."""


def package_files(names: PluginNames, kinds: list[str]) -> dict[str, str]:
    """Every file of the package of ``names`` with components of ``kinds`` (``KINDS``
    entries, in ``KINDS`` order): relative path → text."""
    values = _values(names, kinds)
    package = names.package
    files = {
        "pyproject.toml": fill(template("package/pyproject.toml"), values),
        "README.md": fill(template("package/README.md"), values),
        f"{package}/__init__.py": _python(
            "package/__init__.py", [f"hooks/{kind}.py" for kind in kinds], values, names
        ),
    }
    for kind in kinds:
        module = SPECS[kind].module
        files[f"{package}/{module}.py"] = fill(template(f"components/{kind}.py"), values)
    if "dataset" in kinds:
        for name in SAMPLE_FILES:
            files[f"{package}/sample/{name}"] = template(f"sample/{name}")
    if "command" in kinds:
        source = "sample" if "dataset" in kinds else "folder"
        files["tests/conftest.py"] = fill(template(f"tests/conftest_{source}.py"), values)
    for test in ("components", "conformance"):
        parts = [f"tests/{test}/{kind}.py" for kind in kinds]
        files[f"tests/test_{test}.py"] = _python(f"package/test_{test}.py", parts, values, names)
    return files


def _values(names: PluginNames, kinds: list[str]) -> dict[str, str]:
    """The placeholder values shared by every template of the package."""
    specs = [SPECS[kind] for kind in kinds]
    registers = "\n".join(
        f"* {spec.label} ``{spec.component(names.name)}`` ({spec.module}.py):\n  {spec.summary};"
        for spec in specs
    )
    package_data = (
        "include-package-data = false  # data files: only those listed below\n\n"
        f'[tool.setuptools.package-data]\n{names.package} = ["sample/*.tsv"]\n'
        if "dataset" in kinds
        else ""
    )
    return {
        "name": names.name,
        "distribution": names.distribution,
        "package": names.package,
        "registers": registers.rstrip(";") + ".",
        "kinds": ", ".join(kinds),
        "kind_option": "all" if kinds == list(KINDS) else ",".join(kinds),
        "package_data": package_data,
    }


def _python(header: str, parts: list[str], values: dict[str, str], names: PluginNames) -> str:
    """A Python file: the template ``header`` (whose ``{{imports}}`` and ``{{body}}`` are
    filled here) followed by the fragments ``parts``, their imports merged into one block."""
    imports: list[str] = []
    bodies = []
    for part in parts:
        lines, body = fragment(fill(template(part), values))
        imports += lines
        bodies.append(body)
    head_imports, head = fragment(template(header))
    block = import_block(
        [fill(line, values) for line in head_imports] + imports,
        first_party=("rankarena", names.package),
    )
    text = fill(head, {**values, "imports": block, "body": "\n\n".join(bodies)})
    return text.rstrip("\n") + "\n"
