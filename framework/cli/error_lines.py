"""Foreseeable failures of a command, each said in one line (``rankarena: error: LINE``).

``error_line(exc)`` gives the line for the exceptions a user can cause without a bug in
rankarena, and None for every other exception (a bug, whose traceback must stay visible):

* ``RankarenaError``: bad input, already said on purpose (its message);
* ``OSError`` of any kind, pyarrow's I/O errors included (``pyarrow.lib.ArrowIOError`` is
  ``OSError``): ``PATH: strerror``, or ``cannot write TARGET: strerror`` when the failure
  happened while writing TARGET (``No space left on device``, ``Permission denied``; a
  path through a file reads ``A is a file, not a folder``);
* ``UnicodeDecodeError``: ``FILE: not valid UTF-8 (byte N: b'\\xe9')``, N counted from the
  start of the file when the file is known;
* ``csv.Error``: ``FILE:LINE: not a readable CSV file (field larger than field limit ...)``;
* ``RecursionError``: ``FILE: nested too deeply to read (...)``;
* ``MemoryError``: ``out of memory: Unable to allocate 37.3 GiB for an array with shape
  ...`` (NumPy says how much it asked for).

Where an exception does not carry its path, the traceback does: the destination of the
atomic write in progress (a frame holding its temporary file, or ``atomic_path`` and
``rankarena.data.locks.file_lock`` failing to start), or the file or CSV reader open in
the innermost frame that has one.
Temporary and lock files are named by their destination (``.x.parquet.123@host.ab.tmp``
and ``.x.parquet.lock`` are ``x.parquet``; ``FOLDER/.rankarena.lock`` is ``FOLDER``).
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from ..errors import RankarenaError

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.\d+@[A-Za-z0-9-]+\.[^.]+\.tmp$")
_LOCK = re.compile(r"^\.(?P<name>.+)\.lock$")
_OUTPUT_LOCK = ".rankarena.lock"  # rankarena.data.locks.OUTPUT_LOCK: guards its folder
_ARROW_PATH = re.compile(r"(?:local file|file|path) '(?P<path>[^']+)'")
_WRITERS = {  # (module, function) -> the local naming what it writes
    ("rankarena.data.atomic", "atomic_path"): "target",
    ("rankarena.data.locks", "file_lock"): "path",
}
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}
_SCAN_BLOCK = 1 << 20


def error_line(exc: BaseException) -> str | None:
    """The one-line message of a foreseeable failure, or None for anything else."""
    for kind, describe in _DESCRIBERS:
        if isinstance(exc, kind):
            return single_line(describe(exc))
    return None


def single_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces, and bytes that are not UTF-8 (a
    path given as such: ``\\udcff`` in ``sys.argv``) shown as ``\\xff``."""
    joined = " ".join(part.strip() for part in text.splitlines() if part.strip())
    try:
        raw = joined.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        raw = joined.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


# ----------------------------------------------------------------------------- OSError


def os_error_line(exc: OSError) -> str:
    """``cannot write TARGET: reason`` during a write, else ``PATH: reason``."""
    path = _destination(exc.filename) if exc.filename is not None else _arrow_path(exc)
    target = _written_target(exc) or (path if _stands_in(exc.filename) else None)
    if target is not None and path is not None and not _on_the_way(path, target):
        target = None  # a write was under way, but this error is about another file
    if target is not None:
        return f"cannot write {target}: {_os_reason(exc, path or target, target)}"
    if path is None:
        reason = _os_reason(exc, None, None)
        return f"cannot write: {reason}" if exc.errno in _WRITE_ERRNOS else reason
    return f"{path}: {_os_reason(exc, path, path)}"


def _os_reason(exc: OSError, path: str | None, subject: str | None) -> str:
    """strerror of the errno, or ``A is a file, not a folder`` when the file A blocks
    ``path`` (``is a file, not a folder`` when A is the line's ``subject``)."""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and path is not None:
        blocking = _file_in_the_way(path)
        if blocking is not None:
            return f"{'' if blocking == subject else blocking + ' '}is a file, not a folder"
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc.strerror or exc) or type(exc).__name__


def _on_the_way(path: str, target: str) -> bool:
    """Whether ``path`` is ``target`` or one of its folders."""
    here, there = Path(os.path.abspath(path)), Path(os.path.abspath(target))
    return here == there or here in there.parents


def _file_in_the_way(path: str) -> str | None:
    """The first of ``path`` and its parents that exists but is not a folder, if any."""
    candidate = Path(path)
    for folder in (candidate, *candidate.parents):
        if folder.is_dir():
            return None
        if folder.exists():
            return str(folder)
    return None


def _destination(name: object) -> str:
    """The file a temporary or lock file stands for (else the name itself), as text."""
    path = Path(_text(name))
    if path.name == _OUTPUT_LOCK:
        return str(path.parent)
    for pattern in (_TEMPORARY, _LOCK):
        match = pattern.match(path.name)
        if match:
            return str(path.with_name(match.group("name")))
    return _text(name)


def _stands_in(name: object) -> bool:
    """Whether ``name`` is a temporary or lock file of a write (see ``_destination``)."""
    return name is not None and _destination(name) != _text(name)


def _text(name: object) -> str:
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)


def _arrow_path(exc: OSError) -> str | None:
    """The path in a pyarrow I/O message (``Failed to open local file '/x/y.parquet'``)."""
    match = _ARROW_PATH.search(str(exc))
    return _destination(match.group("path")) if match else None


def _written_target(exc: BaseException) -> str | None:
    """The destination of the write in progress, if any: in the innermost frame that has
    one, a local naming an atomic temporary file (a path, or a file open on it), or the
    destination of ``atomic_path`` / the lock of ``file_lock`` failing to get started."""
    for frame in reversed(list(_frames(exc))):
        writer = _WRITERS.get((frame.f_globals.get("__name__"), frame.f_code.co_name))
        if writer is not None and frame.f_locals.get(writer) is not None:
            return _destination(frame.f_locals[writer])
        for value in frame.f_locals.values():
            name = getattr(value, "name", None) if isinstance(value, io.IOBase) else value
            if isinstance(name, (str, os.PathLike)) and _TEMPORARY.match(Path(name).name):
                return _destination(name)
    return None


def _frames(exc: BaseException) -> Iterator[FrameType]:
    """The frames of ``exc``'s traceback, outermost first."""
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


# ----------------------------------------------------------------------- decoding, CSV


def _open_file(exc: BaseException) -> tuple[str | None, int | None]:
    """(file name, CSV line) from the innermost frame holding an open file or CSV reader."""
    for frame in reversed(list(_frames(exc))):
        if frame.f_code.co_name == "<module>":
            continue
        name, line = None, None
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and _is_file_name(getattr(value, "name", None)):
                name = name or value.name
            elif type(value).__name__ == "reader" and hasattr(value, "line_num"):
                line = value.line_num
        if name is not None:
            return _destination(name), line
    return None, None


def _is_file_name(name: object) -> bool:
    """A path name (not a descriptor number, not ``<stdin>``)."""
    return isinstance(name, str) and not name.startswith("<")


def decode_error_line(exc: UnicodeDecodeError) -> str:
    """``FILE: not valid UTF-8 (byte N: b'\\xe9')``; N from the file's start when known."""
    encoding = "UTF-8" if codecs.lookup(exc.encoding).name == "utf-8" else exc.encoding
    bad = bytes(exc.object[exc.start : exc.end])
    name, _ = _open_file(exc)
    offset = _first_bad_byte(name, exc.encoding) if name else None
    if offset is None:
        where = f"byte {exc.start} of the text read" if name else f"byte {exc.start}"
        return f"{name + ': ' if name else ''}not valid {encoding} ({where}: {bad!r})"
    return f"{name}: not valid {encoding} (byte {offset}: {bad!r})"


def _first_bad_byte(path: str, encoding: str) -> int | None:
    """Offset of the first byte of ``path`` that ``encoding`` cannot decode (read in
    blocks with an incremental decoder), or None if it decodes or cannot be read."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    try:
        with open(path, "rb") as handle:
            while block := handle.read(_SCAN_BLOCK):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    return done + exc.start - len(decoder.getstate()[0])
                done += len(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return done + exc.start - len(decoder.getstate()[0])
    except OSError:
        return None
    return None


def csv_error_line(exc: csv.Error) -> str:
    """``FILE:LINE: not a readable CSV file (reason)`` (file and line when known)."""
    name, line = _open_file(exc)
    where = f"{name}:{line}: " if name and line else f"{name}: " if name else ""
    return f"{where}not a readable CSV file ({exc})"


def recursion_error_line(exc: RecursionError) -> str:
    """``FILE: nested too deeply to read (maximum recursion depth exceeded ...)``."""
    name, _ = _open_file(exc)
    return f"{name + ': ' if name else ''}nested too deeply to read ({exc})"


def memory_error_line(exc: MemoryError) -> str:
    """``out of memory: Unable to allocate 37.3 GiB for an array with shape ...``."""
    detail = str(exc)
    return f"out of memory: {detail}" if detail else "out of memory"


_DESCRIBERS = (
    (RankarenaError, str),
    (OSError, os_error_line),
    (UnicodeDecodeError, decode_error_line),
    (csv.Error, csv_error_line),
    (RecursionError, recursion_error_line),
    (MemoryError, memory_error_line),
)
