"""The results store: a folder of Parquet parts that grows by appending, never by rewriting.

Layout of a store at ``results.parquet`` (a folder, as Spark and pyarrow name datasets)::

    results.parquet/
        000000000001-000000000001.parquet   # one part per append: FIRST-LAST sequence
        000000000002-000000000009.parquet   # a merged part: appends 2..9, deduplicated
    .results.parquet.lock                   # the writers' lock, beside the store

Every part holds the rows of the appends numbered FIRST..LAST, in order. A row with the
identity (``IDENTITY``) of an earlier row replaces it: readers concatenate the
parts in sequence order and keep the last row of each identity. Any Parquet reader sees
every row (``pq.read_table("results.parquet")``); only a replaced row can appear twice,
which ``read_store`` removes. (``Results.append_to`` and ``Results.from_store`` are
the table-level entry points.)

**Cost.** An append writes one part with the appended rows and lists the folder:
O(rows appended + parts). Parts are merged as in a size-tiered LSM tree (O'Neil et al.,
"The log-structured merge-tree", Acta Informatica 33, 1996): when the newest ``FANOUT``
parts fall in the same size tier (``floor(log_FANOUT(rows))``), they are merged into
one, unless the merged part would exceed ``MAX_PART_ROWS``. A row is rewritten at most
``log_FANOUT(MAX_PART_ROWS)`` times, so n appended rows cost O(n log MAX_PART_ROWS) =
O(n) in total, and a store holds O(FANOUT log n + n / MAX_PART_ROWS) parts.
``compact_store`` merges everything into one part (an explicit step: O(store)).

**Reads** by system, dataset, split, variant, metric or means only push the filter into
each part's row-group statistics (``pyarrow.parquet`` filters) and deduplicate what
matched: filtering on identity columns before deduplication gives the same rows as after.

**Safety.** Writers hold the store's lock (``file_lock``) while they number, write and
merge parts; every file appears by an atomic rename, and a merge deletes the parts it
replaces only after the merged part exists. The temporary part files of a writer killed
outright are deleted by the next append (``atomic.remove_stale_temporaries``). A reader
never locks: it opens every part it listed (a part deleted between listing and opening
restarts the read), and where a merged part and the parts it covers coexist (a merge cut
short), it reads the merged one.

**Migration.** A store written before parts existed is one Parquet file. It is read as
it is, and the first append migrates it under the lock: the rows go to part 0 in a
temporary folder, the file is renamed to ``.NAME.legacy``, the folder to ``NAME``, and
the legacy file is deleted. A reader that finds ``NAME`` missing reads the legacy file;
a writer that finds a migration cut short finishes it.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import DataFormatError
from . import schemas
from .atomic import atomic_path, remove_stale_temporaries
from .locks import file_lock, lock_path
from .table import conform, open_native, read_parquet

# what makes a row one result: everything but its value and time
IDENTITY = ("system", "dataset", "split", "variant", "metric", "query_id", "run_id", "eval_key")
OPTIONAL = ("eval_key",)  # columns that stores written before they existed lack

FANOUT = 8
MAX_PART_ROWS = 1_000_000
_PART = re.compile(r"^(\d{12})-(\d{12})\.parquet$")
_PART_TEMPORARY = re.compile(r"^\.(\d{12}-\d{12}\.parquet)\..*\.tmp$")
_READ_ATTEMPTS = 20


@dataclass(frozen=True)
class Part:
    """One part file of a store: the rows of appends ``first`` .. ``last``."""

    path: Path
    first: int
    last: int

    @property
    def rows(self) -> int:
        """Rows in the part (from the Parquet footer)."""
        return pq.read_metadata(self.path).num_rows


def deduplicate(table: pa.Table) -> pa.Table:
    """One row per ``IDENTITY``: the last one (in row order) of each, in row order."""
    if table.num_rows < 2:
        return table
    position = pa.array(range(table.num_rows), pa.int64())
    keyed = table.select(list(IDENTITY)).append_column("__row", position)
    last = keyed.group_by(list(IDENTITY), use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:
        return table
    return table.take(pc.take(last.column("__row_max"), pc.sort_indices(last.column("__row_max"))))


def _conformed(table: pa.Table, source: str | os.PathLike[str]) -> pa.Table:
    return conform(table, schemas.RESULTS, str(source), OPTIONAL)


def _read_part(path: Path) -> pa.Table:
    return _conformed(read_parquet(path), path)


def part_name(first: int, last: int) -> str:
    """The file name of the part holding appends ``first`` .. ``last``."""
    return f"{first:012d}-{last:012d}.parquet"


def _legacy_path(store: Path) -> Path:
    return store.parent / f".{store.name}.legacy"


def _migration_folder(store: Path) -> Path:
    return store.parent / f".{store.name}.migrating"


def store_exists(path: str | os.PathLike[str]) -> bool:
    """Whether a results store (a parts folder, a one-file store, or one being migrated)
    is at ``path``."""
    path = Path(path)
    return path.exists() or _legacy_path(path).exists()


def live_parts(store: str | os.PathLike[str], *, drop_covered: bool = False) -> list[Part]:
    """The parts a reader reads, in sequence order: where a merged part and the parts it
    covers coexist, the merged one (ranges nest: a merge covers whole parts).
    ``drop_covered`` (writers, under the lock) deletes the covered ones."""
    folder = Path(store)
    found = []
    for name in os.listdir(folder):
        match = _PART.match(name)
        if match:
            found.append(Part(folder / name, int(match.group(1)), int(match.group(2))))
    found.sort(key=lambda part: (part.first, -part.last))
    live: list[Part] = []
    for part in found:
        if live and part.first <= live[-1].last:  # covered by a merged part
            if drop_covered:
                part.path.unlink(missing_ok=True)
            continue
        live.append(part)
    return live


def _filter(
    system: str | Sequence[str] | None,
    dataset: str | Sequence[str] | None,
    split: str | Sequence[str] | None,
    variant: str | Sequence[str] | None,
    metric: str | Sequence[str] | None,
    means_only: bool,
) -> pc.Expression | None:
    expression = None
    wanted = (("system", system), ("dataset", dataset), ("split", split))
    for column, value in (*wanted, ("variant", variant), ("metric", metric)):
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        term = pc.field(column).isin(values)
        expression = term if expression is None else expression & term
    if means_only:
        term = pc.field("query_id").is_null()
        expression = term if expression is None else expression & term
    return expression


def _read_file(path: Path, handle, expression: pc.Expression | None) -> pa.Table:
    try:
        table = pq.read_table(handle, filters=expression)
    except (pa.ArrowException, OSError) as exc:
        raise DataFormatError(path, f"not a readable Parquet file ({exc})") from None
    return _conformed(table, path)


def _read_once(store: Path, expression: pc.Expression | None) -> pa.Table:
    if store.is_dir():
        with contextlib.ExitStack() as stack:
            # open every part first: a merge may delete them once they are all open
            opened = [
                (part.path, stack.enter_context(open_native(part.path)))
                for part in live_parts(store)
            ]
            pieces = [_read_file(path, handle, expression) for path, handle in opened]
        if not pieces:
            return schemas.RESULTS.empty_table()
        return pa.concat_tables(pieces)
    for path in (store, _legacy_path(store)):  # a one-file store, or one being migrated
        with contextlib.suppress(IsADirectoryError, FileNotFoundError), open_native(path) as handle:
            return _read_file(path, handle, expression)
    if store.is_dir():
        raise FileNotFoundError(store)  # migrated meanwhile: read again
    raise DataFormatError(store, "no such results store")


def read_store(
    path: str | os.PathLike[str],
    *,
    system: str | Sequence[str] | None = None,
    dataset: str | Sequence[str] | None = None,
    split: str | Sequence[str] | None = None,
    variant: str | Sequence[str] | None = None,
    metric: str | Sequence[str] | None = None,
    means_only: bool = False,
) -> pa.Table:
    """The rows of the store at ``path`` that match every given filter (a value or a list
    of values per column; ``means_only``: only means over queries), one per identity (the
    last appended). Only the matching row groups are read.

    :raises DataFormatError: no store at ``path``, or a part that is not a results table.
    """
    store = Path(path)
    expression = _filter(system, dataset, split, variant, metric, means_only)
    for _ in range(_READ_ATTEMPTS):
        try:
            return deduplicate(_read_once(store, expression))
        except FileNotFoundError:  # a writer merged or migrated between listing and opening
            continue
    raise DataFormatError(store, f"changed under {_READ_ATTEMPTS} consecutive reads; try again")


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    with file_lock(lock_path(store)):
        _finish_migration(store)
        yield


def _finish_migration(store: Path) -> None:
    """Turn a one-file store into a parts folder, or finish a migration cut short."""
    legacy, folder = _legacy_path(store), _migration_folder(store)
    if store.is_dir():
        legacy.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        return
    if store.exists():  # a one-file store: copy its rows to part 0 of a new folder
        _write_first_part(store, folder)
        os.replace(store, legacy)
    elif not legacy.exists():
        return  # no store yet
    elif not (folder / part_name(0, 0)).exists():  # cut short before part 0 was complete
        _write_first_part(legacy, folder)
    os.replace(folder, store)
    legacy.unlink()


def _write_part(table: pa.Table, target: Path) -> None:
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)


def _write_first_part(one_file: Path, folder: Path) -> None:
    rows = deduplicate(_read_part(one_file))  # first: an unreadable store changes nothing
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    _write_part(rows, folder / part_name(0, 0))


def append_table(
    table: pa.Table,
    path: str | os.PathLike[str],
    *,
    fanout: int = FANOUT,
    max_part_rows: int = MAX_PART_ROWS,
) -> None:
    """Append ``table`` (of the results schema) to the store at ``path`` (created if
    absent) as one new part, under the store's lock, then merge the newest parts where a
    size tier is full (see the module docstring). A row with the identity of a stored row
    replaces it."""
    store = Path(path)
    if table.num_rows == 0:
        return
    with _locked(store):
        store.mkdir(parents=True, exist_ok=True)
        _remove_stale_part_temporaries(store)
        parts = live_parts(store, drop_covered=True)
        number = parts[-1].last + 1 if parts else 1
        target = store / part_name(number, number)
        _write_part(deduplicate(_conformed(table, store)), target)
        parts.append(Part(target, number, number))
        _merge_full_tiers(parts, fanout, max_part_rows)


def _remove_stale_part_temporaries(store: Path) -> None:
    """Delete the temporary part files of writers that died (SIGKILL) mid-write."""
    names = {m.group(1) for m in map(_PART_TEMPORARY.match, os.listdir(store)) if m}
    for name in names:
        remove_stale_temporaries(store / name)


def _tier(rows: int, fanout: int) -> int:
    return int(math.log(max(rows, 1), fanout) + 1e-9)


def _merge_full_tiers(parts: list[Part], fanout: int, max_part_rows: int) -> None:
    """While the newest ``fanout`` parts share a size tier, merge them (the caller holds
    the lock)."""
    sizes = {}
    while len(parts) >= fanout:
        newest = parts[-fanout:]
        for part in newest:
            if part.path not in sizes:
                sizes[part.path] = part.rows
        tiers = {_tier(sizes[part.path], fanout) for part in newest}
        total = sum(sizes[part.path] for part in newest)
        if len(tiers) > 1 or total > max_part_rows:
            return
        merged = _merge(newest)
        sizes[merged.path] = merged.rows  # deduplication may have shrunk it
        del parts[-fanout:]
        parts.append(merged)


def _merge(parts: Sequence[Part]) -> Part:
    """Write the deduplicated rows of consecutive ``parts`` as one part, then delete them."""
    first, last = parts[0].first, parts[-1].last
    target = parts[0].path.parent / part_name(first, last)
    merged = deduplicate(pa.concat_tables([_read_part(part.path) for part in parts]))
    _write_part(merged, target)
    for part in parts:
        if part.path != target:
            part.path.unlink(missing_ok=True)
    return Part(target, first, last)


def compact_store(path: str | os.PathLike[str]) -> int:
    """Merge every part of the store at ``path`` into one, deduplicated (a one-file store
    is migrated first). Returns the rows kept. O(rows in the store)."""
    store = Path(path)
    if not store_exists(store):
        raise DataFormatError(store, "no such results store")
    with _locked(store):
        parts = live_parts(store, drop_covered=True)
        if len(parts) > 1:
            _merge(parts)
        return sum(part.rows for part in live_parts(store))
