"""Advisory file locks that let several processes share one results store or output folder.

``file_lock(path)`` holds an exclusive ``flock`` on ``path`` (a small lock file, created if
absent and never deleted, so that every process locks the same inode) for the duration of
a ``with`` block. The lock is released when the block ends or the process dies: a killed
run never leaves a stale lock behind. Where ``fcntl`` is missing (Windows), ``msvcrt``
locks the file's first byte instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _try_lock(fd: int) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows

    try:  # pragma: no cover - Windows
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:  # pragma: no cover - Windows
        return False
    return True  # pragma: no cover - Windows


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


_thread_locks: dict[str, threading.RLock] = {}
_depth: dict[str, int] = {}
_registry = threading.Lock()


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike[str],
    waiting: Callable[[], None] | None = None,
    poll: float = 0.05,
) -> Iterator[None]:
    """Hold an exclusive lock on the lock file ``path`` while the block runs.

    :param waiting: called once if another process holds the lock (e.g. to say so).
    :param poll: seconds between attempts while waiting.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    with _registry:
        in_process = _thread_locks.setdefault(key, threading.RLock())
    with in_process:
        if _depth.get(key, 0):  # this thread holds it already
            _depth[key] += 1
            try:
                yield
            finally:
                _depth[key] -= 1
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            told = False
            while not _try_lock(fd):
                if waiting is not None and not told:
                    waiting()
                    told = True
                time.sleep(poll)
            _depth[key] = 1
            try:
                yield
            finally:
                _depth[key] = 0
                _unlock(fd)
        finally:
            os.close(fd)


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``target``: ``.NAME.lock`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


OUTPUT_LOCK = ".rankarena.lock"


def output_lock(folder: str | os.PathLike[str], log: Callable[[str], None] = print):
    """The lock of a command's output folder (``FOLDER/.rankarena.lock``): ``rankarena
    run``, ``robustness`` and ``train`` hold it while they work, so that a second process
    on the same folder waits (saying so), then reuses what the first one computed."""
    folder = Path(folder)
    return file_lock(
        folder / OUTPUT_LOCK,
        waiting=lambda: log(f"{folder}: another rankarena process is using it; waiting"),
    )
