"""A cache of the per-task tables read from MTEB results folders (``leaderboard_scores``).

Reading a results folder with mteb's own code costs seconds (importing mteb, its model and
task registries, parsing every file); the table it yields is stored as JSON under
``$RANKARENA_CACHE_DIR/mteb-leaderboards/<key>.json`` (default ``~/.cache/rankarena``) and
reused while nothing it depends on changed. The key is a BLAKE2b digest of:

* every file below the folder: its relative path, size, modification time (ns) and inode,
  so an added, removed, replaced or edited file gives a new key (the walk reads no file);
* the benchmark asked for;
* the installed mteb version (its registries and filtering rules decide the table) and
  this cache's format version.

A cache hit needs no mteb import. A damaged cache file is ignored and rewritten; writes are
atomic, so concurrent readers see a whole file or none.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path

from ..data.atomic import atomic_write
from ..data.catalog import CACHE_DIR_ENV
from .folder import LeaderboardScores, leaderboard_scores

FORMAT = 2  # 2: with mteb's Borda basis


def cache_folder() -> Path:
    """``$RANKARENA_CACHE_DIR/mteb-leaderboards`` (default ``~/.cache/rankarena/...``)."""
    root = os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "rankarena"
    return Path(root).expanduser() / "mteb-leaderboards"


def folder_key(root: Path, benchmark: str | None) -> str:
    """The cache key of ``root`` read for ``benchmark`` (see the module docstring)."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        version = importlib.metadata.version("mteb")
    except importlib.metadata.PackageNotFoundError:
        version = "none"
    digest.update(json.dumps([FORMAT, version, benchmark]).encode())
    stack = [root]
    entries = []
    while stack:
        with os.scandir(stack.pop()) as scan:
            for entry in scan:
                if entry.is_dir():
                    stack.append(Path(entry.path))
                else:
                    stat = entry.stat()
                    relative = os.path.relpath(entry.path, root)
                    entries.append(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}")
    for line in sorted(entries):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def cached_leaderboard_scores(root: Path, benchmark: str | None = None) -> LeaderboardScores:
    """``leaderboard_scores(root, benchmark)``, from the cache when the folder, the benchmark
    and mteb are unchanged since it was stored."""
    path = cache_folder() / f"{folder_key(root, benchmark)}.json"
    stored = _load(path, root)
    if stored is not None:
        return stored
    found = leaderboard_scores(root, benchmark)
    document = {
        "format": FORMAT,
        "rows": found.rows,
        "tasks": found.tasks,
        "types": found.types,
        "skipped": [[str(p.relative_to(root)), error] for p, error in found.skipped],
        "unlisted": found.unlisted,
        "borda": found.borda,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as out:
            json.dump(document, out)
    except OSError:  # a read-only or full cache costs time, never the answer
        pass
    return found


def _load(path: Path, root: Path) -> LeaderboardScores | None:
    """The stored table at ``path`` (skipped files relative to ``root``), or None."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            return None
        return LeaderboardScores(
            [(m, t, s) for m, t, s in document["rows"]],
            list(document["tasks"]),
            dict(document["types"]),
            [(root / p, e) for p, e in document["skipped"]],
            list(document["unlisted"]),
            document["borda"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
