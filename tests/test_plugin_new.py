"""``rankarena plugin new``: the scaffold of a plugin package (``rankarena.scaffold``).

The command's one-line errors, the files it writes, the generated code against rankarena's
ruff settings and the plugin API, and, once: a package scaffolded with every kind,
pip-installed for real (``installed_plugin.installed_copy``, offline), listed by
``rankarena plugins`` and passing its own tests.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from installed_plugin import (
    RANKARENA,
    clean_env,
    installed_copy,
    pip,
    rankarena_imports_outside_the_plugin_api,
    run_ok,
    run_own_tests,
)

from rankarena.cli.main import main
from rankarena.errors import ParameterError
from rankarena.scaffold import KINDS, parse_kinds, write_plugin

REPO = Path(__file__).resolve().parents[1]
NAME = "scaffold-check"
DIST = f"rankarena-{NAME}"
PACKAGE = "rankarena_scaffold_check"
MODULES = {
    "retriever": "tfidf",
    "sampler": "margin",
    "loss": "hinge",
    "aggregator": "median_rank",
    "metric": "precision",
    "perturbation": "lowercase",
    "dataset": "tsv_dataset",
    "command": "stats",
}
COMPONENTS = {  # registry kind -> the component's name
    "retrievers": f"{NAME}-tfidf",
    "samplers": f"{NAME}-margin",
    "losses": f"{NAME}-hinge",
    "aggregators": f"{NAME}-median-rank",
    "metrics": f"{NAME}-precision",
    "perturbations": f"{NAME}-lowercase",
    "datasets": NAME,
}
HOOKS = sorted(f"register_{kind}" for kind in ("commands", *COMPONENTS))  # one per kind
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def error_line(capsys, argv: list[str]) -> str:
    """The one line ``rankarena ARGV`` says on stderr, exiting 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rankarena: error: "), err
    return err.removeprefix("rankarena: error: ").rstrip("\n")


def relative_files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["Bad", "9lives", "my_plugin", "café", "a b"])
def test_a_bad_name_is_one_line_saying_the_pattern(capsys, tmp_path, name):
    line = error_line(capsys, ["plugin", "new", name, "--kind", "loss", "--output", str(tmp_path)])
    assert f"plugin name {name!r} must match [a-z][a-z0-9-]*" in line
    assert not any(tmp_path.iterdir())


def test_too_short_and_too_long_names_are_refused(capsys, tmp_path):
    line = error_line(capsys, ["plugin", "new", "x", "--kind", "loss", "--output", str(tmp_path)])
    assert "one letter" in line
    line = error_line(capsys, ["plugin", "new", "a" * 31, "--kind", "loss"])
    assert "at most 30" in line


def test_an_unknown_kind_lists_the_valid_kinds(capsys, tmp_path):
    line = error_line(
        capsys, ["plugin", "new", "demo", "--kind", "loss,metrics", "--output", str(tmp_path)]
    )
    assert line == (
        "unknown kind 'metrics' (did you mean 'metric'?); valid kinds: retriever, sampler, "
        "loss, aggregator, metric, perturbation, dataset, command, or all"
    )
    assert not any(tmp_path.iterdir())


def test_a_non_empty_output_folder_is_refused(capsys, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    line = error_line(capsys, ["plugin", "new", "demo", "--kind", "all", "--output", str(tmp_path)])
    assert line == (
        f"output folder {str(tmp_path)!r} exists and is not empty; give a new one (--output)"
    )
    assert relative_files(tmp_path) == {"mine.txt"}
    (tmp_path / "file").write_text("")
    line = error_line(
        capsys, ["plugin", "new", "demo", "--kind", "all", "--output", str(tmp_path / "file")]
    )
    assert "exists and is not a folder" in line


def test_a_reserved_dataset_source_name_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="'beir' is taken"):
        write_plugin("beir", ["dataset"], tmp_path)
    write_plugin("beir", ["loss"], tmp_path)  # no dataset source: no clash


def test_kinds_are_parsed_in_a_fixed_order():
    assert parse_kinds("metric, retriever") == ["retriever", "metric"]
    assert parse_kinds(["loss", "sampler,loss"]) == ["sampler", "loss"]
    assert parse_kinds(["metric", "all"]) == list(KINDS)
    with pytest.raises(ParameterError, match="no kind given"):
        parse_kinds(" , ")


# ----------------------------------------------------------------------------- files


def test_kind_all_writes_the_expected_files(capsys, tmp_path):
    folder = tmp_path / "out"
    assert main(["plugin", "new", "demo-x", "--kind", "all", "--output", str(folder)]) == 0
    package = "rankarena_demo_x"
    expected = {
        "pyproject.toml",
        "README.md",
        f"{package}/__init__.py",
        *(f"{package}/{module}.py" for module in MODULES.values()),
        *(f"{package}/sample/{name}" for name in ("corpus.tsv", "queries.tsv", "qrels.tsv")),
        "tests/conftest.py",
        "tests/test_components.py",
        "tests/test_conformance.py",
    }
    assert relative_files(folder) == expected
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wrote {len(expected)} files to {folder}:"
    assert {line.strip() for line in out[1 : len(expected) + 1]} == {
        str(folder / path) for path in expected
    }
    assert out[len(expected) + 1 :] == [
        "next:",
        f"  pip install -e {folder}",
        f"  pytest {folder / 'tests'}",
        "  rankarena plugins",
    ]
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'name = "rankarena-demo-x"' in pyproject
    assert f'[project.entry-points.rankarena]\ndemo-x = "{package}"' in pyproject
    assert 'dependencies = ["rankarena"]' in pyproject and 'test = ["pytest>=8"]' in pyproject
    assert f'{package} = ["sample/*.tsv"]' in pyproject
    corpus = (folder / package / "sample" / "corpus.tsv").read_text(encoding="utf-8")
    assert len(corpus.splitlines()) == 12 and not corpus.isascii()
    readme = (folder / "README.md").read_text()
    assert "python -m pip wheel --no-deps -w dist ." in readme
    assert "`rankarena plugin new demo-x --kind all`" in readme


def test_only_the_kinds_asked_for_are_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", "two", "--kind", "metric", "--kind", "loss"]) == 0
    folder = tmp_path / "rankarena-two"  # the default output folder
    assert relative_files(folder) == {
        "pyproject.toml",
        "README.md",
        "rankarena_two/__init__.py",
        "rankarena_two/hinge.py",
        "rankarena_two/precision.py",
        "tests/test_components.py",
        "tests/test_conformance.py",
    }
    init = ast.parse((folder / "rankarena_two" / "__init__.py").read_text())
    hooks = [node.name for node in init.body if isinstance(node, ast.FunctionDef)]
    assert hooks == ["register_losses", "register_metrics"]
    conformance = (folder / "tests" / "test_conformance.py").read_text()
    assert "from rankarena.testing import check_loss, check_metric\n" in conformance
    assert "package-data" not in (folder / "pyproject.toml").read_text()


def test_a_command_without_a_dataset_source_tests_on_a_beir_folder(tmp_path):
    write_plugin("verb-only", ["command"], tmp_path)
    conftest = (tmp_path / "tests" / "conftest.py").read_text()
    assert "corpus.jsonl" in conftest and "verb-only:" not in conftest


def _ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("ab", ["all"]),
        ("a" * 10 + "-" + "b" * 19, ["all"]),  # the longest name: 30 characters
        ("ab", ["command"]),
        ("ab", ["retriever", "perturbation"]),
    ],
)
def test_the_generated_code_is_ruff_clean(tmp_path, name, kinds):
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (the dev extra)")
    write_plugin(name, kinds, tmp_path)
    # the package's own [tool.ruff] (rankarena's settings), and rankarena's pyproject itself
    for config in ([], ["--config", str(REPO / "pyproject.toml")]):
        if config:  # rankarena's config knows rankarena, not the new package, as first-party
            config += [
                "--config",
                f"lint.isort.known-first-party=['rankarena', '{package_of(name)}']",
            ]
        checked = _ruff("check", "--no-cache", *config, ".", cwd=tmp_path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        formatted = _ruff("format", "--no-cache", "--check", *config, ".", cwd=tmp_path)
        assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def package_of(name: str) -> str:
    return f"rankarena_{name.replace('-', '_')}"


def test_the_generated_package_imports_only_the_plugin_api(tmp_path):
    write_plugin("api-only", ["all"], tmp_path)
    assert rankarena_imports_outside_the_plugin_api(tmp_path / "rankarena_api_only") == []


def test_the_scaffold_imports_only_errors_and_the_standard_library():
    folder = REPO / "framework" / "scaffold"
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                assert node.level == 1 or node.module == "errors", (path, node.module)
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                )
                for name in names:
                    assert name.split(".")[0] in sys.stdlib_module_names, (path, name)


# ----------------------------------------------------------------------------- installed


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Path]:
    """A package scaffolded with every kind, pip-installed (a copy; uninstalled after)."""
    source = tmp_path_factory.mktemp("scaffolded") / "source"
    write_plugin(NAME, ["all"], source)
    with installed_copy(source, DIST, tmp_path_factory.mktemp("installed")) as copy:
        yield copy


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A working folder for the subprocesses, away from any source copy of the plugin."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    return folder


def test_rankarena_plugins_lists_every_component(installed, workdir):
    payload = json.loads(run_ok([str(RANKARENA), "plugins", "--json"], workdir).stdout)
    plugins = {p["name"]: p for p in payload["plugins"]}
    assert plugins[NAME] == {
        "name": NAME,
        "distribution": DIST,
        "version": "0.1.0",
        "builtin": False,
        "hooks": HOOKS,
    }
    for kind, name in COMPONENTS.items():
        listed = {c["name"]: c for c in payload["components"][kind]}
        assert listed[name]["plugin"] == NAME, kind
    assert payload["failures"] == []
    stats = run_ok([str(RANKARENA), f"{NAME}-stats", f"{NAME}:"], workdir).stdout
    assert stats == f"{NAME}-sample: 12 documents\n  test: 4 queries, 7 judgements\n"


def test_the_generated_tests_pass(installed, workdir):
    run_own_tests(installed, workdir)


BREAKS = {  # kind -> (module, the code as scaffolded, a typical fault, the rule it breaks)
    "retriever": ("tfidf", "ranked[: max(k, 0)]", "ranked[: max(k, 0) + 1]", "at-most-k"),
    "sampler": (
        "margin",
        "if doc not in shown and score < positive_score",
        "if score < positive_score",  # forgets the query's other positives
        "no-shown-positive",
    ),
    "loss": ("hinge", "if mask is not None:", "if mask is not None and False:", "mask-honoured"),
    "aggregator": (
        "median_rank",
        "scores.systems, -medians,",
        "scores.systems, -medians - 1e-9 * np.arange(len(medians)),",  # ties go to row order
        "system-order",
    ),
    "metric": ("precision", "return hits / self.k", "return hits", "range"),
    "perturbation": (
        "lowercase",
        "draws = rng.random(len(words))",
        "draws = np.random.default_rng().random(len(words))",  # its own, unseeded, generator
        "seeded",
    ),
    "dataset": (
        "tsv_dataset",
        "if split not in self.splits:",
        "if split not in self.splits and False:",  # any split silently serves qrels.tsv
        "unknown-split",
    ),
    "command": ("stats", "    return 0", "    return 1", "runs"),
}


SOLO = {kind: f"solo-{kind}" for kind in KINDS}
"""One package per kind: its plugin name."""
SUBJECTS = {  # how the kit names the component of each solo package
    "retriever": "retriever 'solo-retriever-tfidf'",
    "sampler": "sampler 'solo-sampler-margin'",
    "loss": "loss 'solo-loss-hinge'",
    "aggregator": "aggregator 'solo-aggregator-median-rank'",
    "metric": "metric 'solo-metric-precision'",
    "perturbation": "perturbation 'solo-perturbation-lowercase'",
    "dataset": "dataset source 'solo-dataset' (solo-dataset:)",
    "command": "command 'solo-command-stats'",
}


@pytest.fixture(scope="module")
def solo_packages(tmp_path_factory) -> Iterator[dict[str, Path]]:
    """One package per kind, scaffolded and pip-installed editable (so that a test can break
    its code in place); all uninstalled after."""
    root = tmp_path_factory.mktemp("solo")
    folders = {kind: root / f"rankarena-{name}" for kind, name in SOLO.items()}
    dists = [f"rankarena-{name}" for name in SOLO.values()]
    for kind, folder in folders.items():
        write_plugin(SOLO[kind], [kind], folder)
    installed = [d for d in dists if pip("show", "--quiet", d).returncode == 0]
    if installed:
        pytest.fail(f"{installed[0]} is already installed; uninstall it first")
    editable = [arg for folder in folders.values() for arg in ("-e", str(folder))]
    result = pip("install", "--no-index", "--no-build-isolation", "--no-deps", "-q", *editable)
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        yield folders
    finally:
        removed = pip("uninstall", "--yes", *dists)
        assert removed.returncode == 0, removed.stderr


def _solo_tests(folders: dict[str, Path], workdir: Path, *files: str) -> str:
    """Run the packages' tests (``files`` of each ``tests/``, or all) in a new process."""
    paths = [str(f / "tests" / name) for f in folders.values() for name in files or ("",)]
    result = subprocess.run(
        [*PYTEST, "--import-mode=importlib", *paths],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
        env=clean_env(PYTHONDONTWRITEBYTECODE="1"),
    )
    return result.stdout


def test_one_package_per_kind_is_listed_and_passes_its_tests(solo_packages, workdir):
    payload = json.loads(run_ok([str(RANKARENA), "plugins", "--json"], workdir).stdout)
    plugins = {p["name"]: p for p in payload["plugins"]}
    for kind, name in SOLO.items():
        hook = "register_datasets" if kind == "dataset" else f"register_{kind}s"
        hook = hook.replace("register_losss", "register_losses")
        assert plugins[name]["hooks"] == [hook], (kind, plugins[name])
    assert payload["failures"] == []
    said = _solo_tests(solo_packages, workdir)
    assert re.search(r"^\d+ passed in", said.strip().splitlines()[-1]), said[-3000:]


def test_the_kit_names_each_broken_rule(solo_packages, workdir):
    """Each package's component broken in a typical way (in place: installed editable):
    its conformance test fails, naming the rule broken."""
    originals = {}
    try:
        for kind, (file, sound, faulty, _) in BREAKS.items():
            path = solo_packages[kind] / package_of(SOLO[kind]) / f"{file}.py"
            originals[path] = code = path.read_text(encoding="utf-8")
            assert code.count(sound) == 1, (kind, sound)
            path.write_text(code.replace(sound, faulty), encoding="utf-8")
        said = _solo_tests(solo_packages, workdir, "test_conformance.py")
    finally:
        for path, code in originals.items():
            path.write_text(code, encoding="utf-8")
    assert said.strip().splitlines()[-1].startswith(f"{len(BREAKS)} failed in"), said[-3000:]
    for kind, (_, _, _, rule) in BREAKS.items():
        pattern = re.escape(SUBJECTS[kind]) + rf" breaks conformance rules? ([\w-]+, )*{rule}\b"
        assert re.search(pattern, said), (kind, rule, said[-3000:])
