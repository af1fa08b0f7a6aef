"""Line-by-line reading (text lines, JSON Lines) and the fields read from the lines (ids,
scores, grades), with errors that name the file and line.

Numbers are read as trec_eval reads them, which uses C's ``atof`` for scores and ``atol`` for
relevance grades: a score is a plain C decimal literal (``2``, ``-0.5``, ``.5``, ``3.``,
``1e-3``) or ``inf``, ``infinity``, ``nan`` (any case, optional sign); a grade is a plain
integer, optionally with a point and zeros (``1.0``). What Python's ``float`` accepts
beyond that (``1_0``, non-ASCII digits, blanks around the number) and what ``atof`` or
``atol`` would read differently from its value (``1e2`` as a grade, read as 1 by ``atol``)
is refused with the file and line, never read as some other number.

Ids must not contain whitespace: every id may end up in a TREC file, whose fields are
separated by whitespace.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DataFormatError

C_SPACE = " \t\n\v\f\r"
"""The characters C's ``isspace`` accepts (C locale): trec_eval's field separators."""

_C_SPACES = re.compile(f"[{C_SPACE}]+")
_C_SPACE_BYTES = C_SPACE.encode("ascii")
_BOM = b"\xef\xbb\xbf"
_SCORE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf|infinity|nan)",
    re.ASCII | re.IGNORECASE,
)
_GRADE = re.compile(r"([+-]?[0-9]+)(?:\.0*)?", re.ASCII)
_WHITESPACE = re.compile(r"\s")  # str patterns: exactly the characters of str.isspace
WHITESPACE_RE2 = r"[\t\n\x0b\x0c\r\x1c-\x1f\x{85}\p{Z}]"
"""The same characters as a RE2 class, for ``pyarrow.compute`` on Arrow string columns."""


def read_lines(path: str | os.PathLike[str], comments: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` of a UTF-8 text file, failing clearly on bad bytes.

    Blank lines are skipped; an empty file (no non-blank line) is an error. With
    ``comments``, a line whose first character other than C whitespace is ``#`` is skipped
    too, before it is decoded (a comment may hold any bytes), as trec_eval skips them; a
    file of nothing but such lines is an error as well.
    """
    if not os.path.isfile(path):
        raise DataFormatError(path, "no such file")
    seen = skipped = False
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if comments:
                body = raw[3:] if number == 1 and raw.startswith(_BOM) else raw
                if body.lstrip(_C_SPACE_BYTES).startswith(b"#"):
                    skipped = True
                    continue
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
        raise DataFormatError(
            path, "file is empty (nothing but # comment lines)" if skipped else "file is empty"
        )


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)``; each line must be one JSON object."""
    for number, line in read_lines(path):
        obj = parse_json(line, path, number)
        if not isinstance(obj, dict):
            raise DataFormatError(path, f"expected a JSON object, got {type(obj).__name__}", number)
        yield number, obj


def parse_json(text: str, path, number: int | None = None) -> Any:
    """One JSON document; bad JSON, too deep nesting or a too long integer is a
    ``DataFormatError`` naming ``path`` (and line ``number``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        reason = "invalid JSON (nested too deeply)"
    except ValueError as exc:  # an integer beyond Python's digit limit
        reason = f"invalid JSON ({str(exc).split(':')[0]})"
    raise DataFormatError(path, reason, number)


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
    return check_id(value, repr(key), path, number)


def string_table(columns: dict[str, list[str]], key: str, seen: FirstLines) -> pa.Table:
    """``pa.table(columns)`` of records read from ``seen.path``; a string Arrow cannot hold
    (an unpaired surrogate, which a JSON escape such as ``\\ud800`` can produce) is an error
    naming the line of its record (found through the record's ``key`` column)."""
    try:
        return pa.table(columns)
    except UnicodeEncodeError:
        pass
    for name, values in columns.items():
        for index, value in enumerate(values):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                char = value[exc.start]
                raise DataFormatError(
                    seen.path,
                    f"{name!r} is not valid Unicode (unpaired surrogate {char!r})",
                    seen.line(columns[key][index]),
                ) from None
    raise AssertionError("unreachable: pa.table failed on encodable strings")


def check_id(value: str, what: str, path, number: int) -> str:
    """``value`` if it holds no whitespace (an id must survive a TREC file), else an error."""
    plain = value.isascii() and value.isprintable() and " " not in value  # the usual case
    if not plain and _WHITESPACE.search(value):
        raise DataFormatError(
            path,
            f"{what} {value!r} contains whitespace (ids may not: TREC files split on it)",
            number,
        )
    return value


def check_id_columns(table: pa.Table, columns: tuple[str, ...], source) -> None:
    """Raise ``DataFormatError`` naming the first row of ``table`` whose id in one of
    ``columns`` (string columns; others cannot hold whitespace) contains whitespace."""
    for name in columns:
        column = table.column(name) if name in table.column_names else None
        if column is None or not (
            pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        ):
            continue
        found = pc.match_substring_regex(column, WHITESPACE_RE2)
        if pc.any(found).as_py():
            row = int(pc.index(found, True).as_py())
            raise DataFormatError(
                source,
                f"row {row + 1}: {name} {column[row].as_py()!r} contains whitespace "
                "(ids may not: TREC files split on it)",
            )


def split_fields(line: str) -> list[str]:
    """The fields of a line separated by C whitespace, as trec_eval separates them (other
    Unicode blanks stay inside a field, where the id checks refuse them)."""
    if line.isascii() and line.replace("\t", " ").isprintable():
        return line.split()  # only spaces and tabs: Python's split is C's, and faster
    return _C_SPACES.split(line.strip(C_SPACE))


def parse_score(text: str, path, number: int, what: str = "score") -> float:
    """A score read as C's ``atof`` would read the whole field (see the module docstring);
    ``nan`` is returned as NaN, for the caller to refuse or keep."""
    if _SCORE.fullmatch(text) is None:
        raise DataFormatError(path, f"{what} {text!r} is not a number", number)
    return float(text)


def parse_grade(text: str, path, number: int) -> int:
    """A relevance grade: an integer (``"2"``, ``"-1"``; ``"1.0"`` is accepted as 1) in the
    int32 range."""
    match = _GRADE.fullmatch(text)
    if match is None:
        value = parse_score(text, path, number, "relevance")
        if value.is_integer():  # 1e2: atol would read 1
            raise DataFormatError(
                path,
                f"relevance {text!r} has an exponent: write the grade as a plain integer "
                "(trec_eval reads grades with atol)",
                number,
            )
        raise DataFormatError(path, f"relevance {text!r} is not an integer grade", number)
    digits = match.group(1)
    if len(digits.lstrip("+-").lstrip("0")) > 10 or not -(2**31) <= int(digits) < 2**31:
        raise DataFormatError(path, f"relevance {text!r} is outside the int32 range", number)
    return int(digits)


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

    def line(self, key: object) -> int:
        """The line where ``key`` was first seen."""
        return self._first[key]

    def add(self, key: object, number: int, what: str) -> None:
        """Record ``key`` at line ``number``; a repeat raises ``duplicate {what}``."""
        first = self._first.setdefault(key, number)
        if first != number:
            raise DataFormatError(self.path, f"duplicate {what} (first at line {first})", number)
