"""Reading TOML config files strictly: every error is one line naming the file and the key.

``read_toml(path)`` reads a config (no such file, a folder, bytes that are not UTF-8 and
invalid TOML are ``DataFormatError``s naming the file; a bad byte with its offset).
``typed(...)`` takes one value out of a table and checks its type and range: a config that
says ``k = 2.7`` or ``k = "abc"`` is refused, never rounded or defaulted. ``table(...)``
checks that a key holds a table. Unknown keys are refused by
``rankarena.errors.reject_unknown_keys``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import DataFormatError

_MISSING: Any = object()
_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed TOML file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, "no such file") from None
    except IsADirectoryError:
        raise DataFormatError(path, "is a folder, not a TOML config file") from None
    except PermissionError:
        raise DataFormatError(path, "permission denied") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            path, f"not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from None
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise DataFormatError(path, f"invalid TOML ({exc})") from None


def typed(
    source: str | Path,
    where: str,
    values: dict[str, Any],
    key: str,
    kind: type,
    default: Any = _MISSING,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    items: type | None = None,
) -> Any:
    """``values[key]`` checked to be of ``kind`` (``int`` excludes booleans; ``float``
    takes integers too and returns a float) within ``[minimum, maximum]``; ``list`` values
    must be non-empty and hold ``items``. A missing key gives ``default`` (an error when
    none is given)."""
    expected = _describe(kind, minimum, maximum, items)
    if key not in values:
        if default is _MISSING:
            raise DataFormatError(source, f"{where} {key} must be {expected} (missing)")
        return default
    value = values[key]
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if ok and kind is list:
        ok = bool(value) and (items is None or all(isinstance(v, items) for v in value))
    if ok and minimum is not None and value < minimum:
        ok = False
    if ok and maximum is not None and value > maximum:
        ok = False
    if ok and kind is float and value != value:  # NaN
        ok = False
    if not ok:
        raise DataFormatError(source, f"{where} {key} must be {expected}, got {value!r}")
    return value


def table(source: str | Path, where: str, values: dict[str, Any], key: str) -> dict[str, Any]:
    """``values[key]`` checked to be a table (``{}`` when absent)."""
    value = values.get(key, {})
    if not isinstance(value, dict):
        raise DataFormatError(source, f"{where} {key} must be a table, got {value!r}")
    return value


def _describe(kind: type, minimum, maximum, items) -> str:
    if kind is list:
        inner = {str: " of strings", int: " of integers", float: " of numbers"}.get(items, "")
        return f"a non-empty list{inner}"
    text = _NAMES.get(kind, kind.__name__)
    if minimum is not None and maximum is not None:
        return f"{text} in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"{text} >= {minimum}"
    if maximum is not None:
        return f"{text} <= {maximum}"
    return text
