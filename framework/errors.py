"""The exceptions rankarena raises for bad input.

Every message is one line that names what was wrong and where: the file and line for bad
data, the valid choices for an unknown name or parameter.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class RankarenaError(Exception):
    """Base class of every error rankarena raises on purpose."""


class DataFormatError(RankarenaError, ValueError):
    """A data file (or in-memory table) does not hold what its format requires.

    The message reads ``FILE:LINE: reason`` (or ``FILE: reason`` when no line applies).
    """

    def __init__(self, source: str | Path | None, reason: str, line: int | None = None):
        self.source = str(source) if source is not None else None
        self.line = line
        self.reason = reason
        where = self.source or "<table>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {reason}")


class UnknownNameError(RankarenaError, KeyError):
    """A component, metric or plugin name that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(name)
        self.message = f"unknown {kind} {name!r}{did_you_mean(name, self.known)}; " + (
            f"known: {', '.join(self.known)}" if self.known else "none is registered"
        )

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.message


class ParameterError(RankarenaError, TypeError, ValueError):
    """A parameter that a component's factory does not take, or a value of the wrong type
    or out of range."""


class PluginError(RankarenaError):
    """A plugin that could not be loaded or whose hook failed."""


def reject_unknown_keys(
    source: str | Path, table: str, given: Iterable[str], valid: Iterable[str]
) -> None:
    """Raise ``DataFormatError`` naming ``given``'s keys that are not ``valid``, if any:
    ``FILE: [table] unknown key(s) a, b; valid: ...`` (with a suggestion for a single typo)."""
    valid = sorted(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        hint = did_you_mean(unknown[0], valid) if len(unknown) == 1 else ""
        raise DataFormatError(
            source, f"{table} unknown key(s) {', '.join(unknown)}{hint}; valid: {', '.join(valid)}"
        )


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
