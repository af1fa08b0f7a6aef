"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted write (exception, Ctrl-C, killed process) leaves the previous file intact
and no truncated output; ``os.replace`` is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; use the usual mode
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8"
) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``path`` only if the block completes."""
    with atomic_path(path) as tmp:
        kwargs = {"encoding": encoding, "newline": ""} if "b" not in mode else {}
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
