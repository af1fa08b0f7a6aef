"""Line-by-line reading (text lines, JSON Lines) with errors that name the file and line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from rankarena.errors import DataFormatError


def read_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 text file, failing clearly on bad bytes.

    Blank lines are skipped; an empty file (no non-blank line) is an error.
    """
    if not os.path.isfile(path):
        raise DataFormatError(path, "no such file")
    seen = False
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    path,
                    f"not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})",
                    number,
                ) from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            seen = True
            yield number, line
    if not seen:
        raise DataFormatError(path, "file is empty")


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)``; each line must be one JSON object."""
    for number, line in read_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                path, f"invalid JSON ({exc.msg} at column {exc.colno})", number
            ) from None
        if not isinstance(obj, dict):
            raise DataFormatError(path, f"expected a JSON object, got {type(obj).__name__}", number)
        yield number, obj


def id_field(obj: dict[str, Any], key: str, path, number: int) -> str:
    """A record's id as a string (JSON numbers are accepted and converted)."""
    if key not in obj or obj[key] is None:
        raise DataFormatError(path, f"missing {key!r}", number)
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataFormatError(path, f"{key!r} must be a string, got {type(value).__name__}", number)
    value = str(value)
    if not value:
        raise DataFormatError(path, f"{key!r} is empty", number)
    return value


def text_field(obj: dict[str, Any], key: str, path, number: int, required: bool = True) -> str:
    """A record's text field (``required``: present and a string)."""
    if key not in obj or obj[key] is None:
        if required:
            raise DataFormatError(path, f"missing {key!r}", number)
        return ""
    if not isinstance(obj[key], str):
        raise DataFormatError(
            path, f"{key!r} must be a string, got {type(obj[key]).__name__}", number
        )
    return obj[key]


class FirstLines:
    """Remembers the line where each key was first seen, and rejects a repeat."""

    def __init__(self, path) -> None:
        self.path = path
        self._first: dict[object, int] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def __len__(self) -> int:
        return len(self._first)

    def add(self, key: object, number: int, what: str) -> None:
        """Record ``key`` at line ``number``; a repeat raises ``duplicate {what}``."""
        first = self._first.setdefault(key, number)
        if first != number:
            raise DataFormatError(self.path, f"duplicate {what} (first at line {first})", number)
