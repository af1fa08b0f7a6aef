"""Dataset names: which folder ``scifact`` (or ``suite:beir-small``) stands for.

``registries/datasets.toml`` lists the BEIR datasets (official zip, size, md5, licence,
splits) and ``registries/suites.toml`` named sets of them. ``resolve_dataset(name)`` turns a
folder path or a catalog name into a BEIR folder, first hit wins:

1. an existing folder (absolute, or relative to ``base``);
2. ``$RANKARENA_DATA_DIR/<name>``;
3. the cache, ``$RANKARENA_CACHE_DIR/datasets/<name>`` (default ``~/.cache/rankarena``);
4. a download of the official zip into the cache, with a progress bar: the zip goes to a
   temporary file, its md5 is checked, it is unzipped into a temporary folder beside the
   final one and renamed onto it, so an interrupted download leaves nothing under the name.

Errors are one ``RankarenaError`` line that says where to put the folder by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import IO, TypedDict

from ..errors import DataFormatError, RankarenaError, UnknownNameError

DATA_DIR_ENV = "RANKARENA_DATA_DIR"
CACHE_DIR_ENV = "RANKARENA_CACHE_DIR"
SUITE_PREFIX = "suite:"
REQUIRED_KEYS = ("description", "domain", "licence", "splits")
"""Keys every catalog entry has; public entries also have ``url`` and ``size``."""
DOWNLOAD_KEYS = ("url", "size")
CHUNK = 1 << 20


class DatasetEntry(TypedDict, total=False):
    """One table of ``registries/datasets.toml``."""

    url: str
    size: str
    md5: str
    licence: str
    domain: str
    splits: list[str]
    public: bool
    description: str


def load_dataset_catalog() -> dict[str, DatasetEntry]:
    """The entries of ``registries/datasets.toml``, by dataset name."""
    return _read_registry("datasets.toml")  # type: ignore[return-value]


def load_suites() -> dict[str, list[str]]:
    """The suites of ``registries/suites.toml``: suite name -> dataset names, in order."""
    return {name: list(suite["datasets"]) for name, suite in _read_registry("suites.toml").items()}


def is_public(entry: DatasetEntry) -> bool:
    """True where the entry can be downloaded (``public`` is absent or true, and a url is set)."""
    return bool(entry.get("public", True)) and bool(entry.get("url"))


def dataset_cache_dir() -> Path:
    """Where downloaded datasets go: ``$RANKARENA_CACHE_DIR/datasets`` (default
    ``~/.cache/rankarena/datasets``)."""
    root = os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "rankarena"
    return Path(root).expanduser() / "datasets"


def expand_suites(items: Iterable[str], suites: Mapping[str, list[str]] | None = None) -> list[str]:
    """Replace every ``suite:NAME`` in ``items`` by the datasets of that suite.

    Other items are kept as they are; a dataset named twice is kept once, where it first
    appears. An unknown suite raises ``UnknownNameError`` listing the suites.

    :param suites: suite name -> dataset names (default: ``load_suites()``).
    """
    expanded: list[str] = []
    for item in items:
        if item.startswith(SUITE_PREFIX):
            suites = load_suites() if suites is None else suites
            name = item[len(SUITE_PREFIX) :]
            if name not in suites:
                raise UnknownNameError("suite", name, suites)
            expanded.extend(suites[name])
        else:
            expanded.append(item)
    return list(dict.fromkeys(expanded))


def resolve_dataset(
    name_or_path: str,
    *,
    base: Path | None = None,
    download: bool = True,
    show_progress: bool | None = None,
    catalog: Mapping[str, DatasetEntry] | None = None,
) -> Path:
    """The BEIR folder that ``name_or_path`` stands for (see the module docstring).

    :param name_or_path: a folder path, or a dataset name of the catalog.
    :param base: the folder that relative paths are relative to (default: the current one).
    :param download: fetch a public dataset that is found nowhere locally.
    :param show_progress: draw a download progress bar (default: when stderr is a terminal).
    :param catalog: the entries to look names up in (default: ``load_dataset_catalog()``).
    :raises DataFormatError: a path (it has a ``/`` or starts with ``.`` or ``~``) that is
        not a folder.
    :raises UnknownNameError: neither a folder nor a catalog name; lists the names.
    :raises RankarenaError: a known dataset that is nowhere locally and cannot be downloaded.
    """
    if not name_or_path.strip():
        raise RankarenaError("dataset: empty name; give a BEIR folder or a dataset name")
    path = Path(name_or_path).expanduser()
    folder = path if path.is_absolute() or base is None else Path(base) / path
    if folder.is_dir():
        return _absolute(folder)
    if _looks_like_path(name_or_path):
        raise DataFormatError(folder, "not a folder (expected a BEIR dataset folder)")
    catalog = load_dataset_catalog() if catalog is None else catalog
    name = name_or_path
    if name not in catalog:
        raise UnknownNameError("dataset", name, catalog)
    for candidate in _local_candidates(name):
        if candidate.is_dir():
            return _absolute(candidate)
    entry = catalog[name]
    target = dataset_cache_dir() / name
    if not is_public(entry):
        raise RankarenaError(
            f"dataset {name!r} is not downloadable (no public url); {_put_it_at(name, target)}"
        )
    if not download:
        raise RankarenaError(
            f"dataset {name!r} is not on disk and downloading is off; {_put_it_at(name, target)}"
        )
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    return download_dataset(name, entry, target, show_progress=show_progress)


def download_dataset(
    name: str, entry: DatasetEntry, target: Path, *, show_progress: bool = False
) -> Path:
    """Download ``entry["url"]`` (a zip of a BEIR folder) and unzip it at ``target``.

    The md5 is checked where the entry has one. Nothing is left under ``target`` unless the
    whole download and extraction succeeded; temporary files go beside it.
    """
    url = entry["url"]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".zip.part", dir=target.parent)
    except OSError as exc:
        raise RankarenaError(
            f"dataset {name!r}: cannot write to the cache {target.parent} ({_reason(exc)}); "
            f"set {CACHE_DIR_ENV}, or {_put_it_at(name, target)}"
        ) from None
    archive = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(name, url, out, target, show_progress)
        expected = entry.get("md5")
        if expected and digest != expected.lower():
            raise RankarenaError(
                f"dataset {name!r}: the file downloaded from {url} has md5 {digest}, expected "
                f"{expected}; nothing was kept; {_put_it_at(name, target)}"
            )
        _extract(name, url, archive, target)
    finally:
        archive.unlink(missing_ok=True)
    return _absolute(target)


def _read_registry(filename: str) -> dict[str, dict]:
    text = resources.files("rankarena.registries").joinpath(filename).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _absolute(path: Path) -> Path:
    """``path`` made absolute without following symlinks (the folder keeps its name)."""
    return Path(os.path.abspath(path))


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.startswith((".", "~")) or Path(text).is_absolute()


def _local_candidates(name: str) -> list[Path]:
    data_dir = os.environ.get(DATA_DIR_ENV)
    found = [Path(data_dir).expanduser() / name] if data_dir else []
    return [*found, dataset_cache_dir() / name]


def _put_it_at(name: str, target: Path) -> str:
    data_dir = os.environ.get(DATA_DIR_ENV)
    first = Path(data_dir).expanduser() / name if data_dir else f"${DATA_DIR_ENV}/{name}"
    return f"put its BEIR folder at {first} or {target}"


def _fetch(name: str, url: str, out: IO[bytes], target: Path, show_progress: bool) -> str:
    """Stream ``url`` into ``out``; return the md5 of what was received."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            Progress(*columns, console=Console(stderr=True), disable=not show_progress) as bar,
        ):
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            task = bar.add_task(f"downloading {name}", total=total)
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.advance(task, len(chunk))
        if total is not None and received != total:
            raise OSError(f"connection closed after {received} of {total} bytes")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise RankarenaError(
            f"dataset {name!r} could not be downloaded from {url} ({_reason(exc)}); "
            f"{_put_it_at(name, target)}"
        ) from None
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = str(exc.reason)
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _extract(name: str, url: str, archive: Path, target: Path) -> None:
    """Unzip into a temporary folder beside ``target``, then rename the BEIR folder onto it."""
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".unzip", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(staging)  # drops absolute paths and '..' from member names
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise RankarenaError(
                f"dataset {name!r}: the file downloaded from {url} is not a readable zip "
                f"({_reason(exc)}); nothing was kept; {_put_it_at(name, target)}"
            ) from None
        root = _beir_root(staging, name)
        if root is None:
            raise RankarenaError(
                f"dataset {name!r}: the zip from {url} holds no BEIR folder (corpus.jsonl); "
                f"nothing was kept; {_put_it_at(name, target)}"
            )
        try:
            os.replace(root, target)
        except OSError:
            if not target.is_dir():  # else another process finished the same download first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _beir_root(staging: Path, name: str) -> Path | None:
    """The folder of an unzipped archive that holds the dataset.

    BEIR zips hold ``<name>/``; a zip of the files themselves, or of one other folder, is
    accepted too. CQADupStack holds one BEIR folder per forum.
    """
    entries = [p for p in staging.iterdir() if p.name != "__MACOSX"]
    folders = [p for p in entries if p.is_dir()]
    if (staging / name).is_dir():
        root = staging / name
    elif not (staging / "corpus.jsonl").is_file() and len(folders) == 1 and len(entries) == 1:
        root = folders[0]
    else:
        root = staging
    if (root / "corpus.jsonl").is_file() or any(root.glob("*/corpus.jsonl")):
        return root
    return None
