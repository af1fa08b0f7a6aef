"""Atomic file writes: write to a temporary file beside the target, then rename.

An interrupted write (exception, Ctrl-C) leaves the previous file intact and no truncated
output; ``os.replace`` is atomic on POSIX and Windows.

A writer killed outright (SIGKILL, power cut) cannot delete its temporary file. Temporary
names therefore record their writer, ``.NAME.PID@HOST.RANDOM.tmp``, and the next write to
the same target removes the ones whose writer was on this host and is no longer running.
Temporary files of live writers and of other hosts (a shared file system) are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def writer_tag() -> str:
    """``PID@HOST`` of this process, as written into its temporary file names."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"
    return f"{os.getpid()}@{host}"


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files of ``target`` left by dead writers on this host; return them."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)@([A-Za-z0-9-]+)\.[^.]+\.tmp$")
    host = writer_tag().split("@", 1)[1]
    removed = []
    for path in target.parent.glob(f".{target.name}.*.tmp"):
        match = pattern.match(path.name)
        if match is None or match.group(2) != host or _running(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):  # another writer removed it first
            path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{writer_tag()}.", suffix=".tmp", dir=target.parent
    )
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


def _running(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts as running).

    Only POSIX can ask without side effects (``os.kill(pid, 0)`` terminates on Windows), so
    elsewhere every writer counts as running and nothing is removed.
    """
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
