"""Walking an MTEB results folder: ``results/<model>/<revision>/<Task>.json`` (the public
results repository's layout, and what ``mteb`` writes), each file read with
``mteb.results.TaskResult.from_disk``. Needs the ``mteb`` extra; callers check for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..data.jsonl import parse_json
from ..errors import DataFormatError


def results_root(folder: Path) -> Path:
    """``folder/results`` when it exists (a checkout of the results repository), else
    ``folder``."""
    return folder / "results" if (folder / "results").is_dir() else folder


def meta_name(revision_dir: Path) -> str | None:
    """The model name in ``revision_dir/model_meta.json`` (None when the file or its
    ``name`` is absent); a file that is not a JSON object is a ``DataFormatError``."""
    meta = revision_dir / "model_meta.json"
    if not meta.is_file():
        return None
    try:
        text = meta.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(meta, f"cannot read ({exc})") from None
    document = parse_json(text, meta)
    if not isinstance(document, dict):
        raise DataFormatError(meta, f"expected a JSON object, got {type(document).__name__}")
    name = document.get("name")
    return str(name) if name else None


def revision_results(root: Path) -> Iterator[tuple[Path, Path, list[Any]]]:
    """``(model folder, revision folder, task results)`` for every revision folder below
    ``root``, in name order; ``model_meta.json`` is not a task result. A file mteb cannot
    read is a one-line ``DataFormatError`` naming it."""
    from mteb.results import TaskResult

    for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for revision_dir in sorted(p for p in model_dir.iterdir() if p.is_dir()):
            results = []
            for file in sorted(revision_dir.glob("*.json")):
                if file.name == "model_meta.json":
                    continue
                try:
                    results.append(TaskResult.from_disk(file))
                except Exception as exc:  # mteb raises several types for a bad file
                    text = str(exc).strip()
                    first = text.splitlines()[0] if text else type(exc).__name__
                    raise DataFormatError(file, f"not an MTEB task result ({first})") from None
            yield model_dir, revision_dir, results
