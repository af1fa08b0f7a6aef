"""The memory a job may use: one setting for every stage that can run out of memory.

``RANKARENA_MAX_MEMORY`` (bytes; a suffix K, M, G or T multiplies by 1024, 1024², ...)
bounds the memory of a job; unset, the bound is half of the machine's physical memory
(``os.sysconf('SC_PHYS_PAGES') × os.sysconf('SC_PAGE_SIZE')``). A stage estimates what it
needs before it starts and refuses in one line when that is more than the bound
(``require_memory``), naming the setting and what would make it fit:

    eval needs 9.1 GiB to read run.trec (41.2M lines) whole; limit: 4.0 GiB
    (RANKARENA_MAX_MEMORY=4G) ...

Stages that can work in bounded pieces (``eval`` streaming a run by blocks of queries, exact
search by chunks of documents, aggregation by blocks of rows) size their pieces from the
same bound instead.
"""

from __future__ import annotations

import os

from ..errors import ParameterError, RankarenaError

MEMORY_ENV = "RANKARENA_MAX_MEMORY"
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str, what: str = MEMORY_ENV) -> int:
    """``"512M"`` → 536870912: a number of bytes, optionally with a K/M/G/T suffix (×1024ⁿ,
    an optional trailing ``B`` or ``iB`` ignored); anything else is a one-line error naming
    ``what`` (the setting it came from)."""
    raw = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    number = raw[: len(raw) - len(unit)].strip()
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ParameterError(
            f"{what} must be a positive size such as 8G, 512M or 1000000, got {text!r}"
        )
    return int(value)


def memory_limit() -> tuple[int, str]:
    """(bytes, where the number comes from): ``$RANKARENA_MAX_MEMORY``, else half of the
    physical memory."""
    given = os.environ.get(MEMORY_ENV, "").strip()
    if given:
        return parse_bytes(given), f"{MEMORY_ENV}={given}"
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: no limit we can tell
        return 2**63 - 1, "physical memory unknown"
    return physical // 2, f"half the physical memory; set {MEMORY_ENV} to change"


def format_bytes(count: float) -> str:
    """``40_000_000_000`` → ``"37.3 GiB"`` (binary units, one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def resident_bytes() -> int:
    """This process's resident memory now (``/proc/self/statm``), 0 where it cannot be
    read (not Linux)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def require_memory(job: str, needed: int, what: str, fix: str = "") -> None:
    """Raise a one-line ``RankarenaError`` when ``needed`` bytes exceed ``memory_limit()``:
    ``{job} needs 9.1 GiB {what}; limit: 4.0 GiB (RANKARENA_MAX_MEMORY=4G)[; {fix}]``.

    :param fix: what else makes it fit besides a larger limit (a smaller ``k``, ...)."""
    limit, source = memory_limit()
    if needed > limit:
        tail = f"; {fix}" if fix else ""
        raise RankarenaError(
            f"{job} needs {format_bytes(needed)} {what}; limit: {format_bytes(limit)} "
            f"({source}){tail}"
        )
