"""The memory limit every stage sizes itself by (``rankarena.core.memory``)."""

from __future__ import annotations

import os

import pytest

from rankarena.core import memory
from rankarena.errors import ParameterError, RankarenaError


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1000", 1000), ("8G", 8 * 2**30), ("512 MiB", 512 * 2**20), ("1.5k", 1536), ("2T", 2**41)],
)
def test_memory_limit_from_the_environment(monkeypatch, given, expected):
    monkeypatch.setenv(memory.MEMORY_ENV, given)
    assert memory.memory_limit() == (expected, f"RANKARENA_MAX_MEMORY={given}")


@pytest.mark.parametrize("given", ["lots", "-1G", "0", "inf", "G"])
def test_bad_memory_limit_is_a_one_line_error(monkeypatch, given):
    monkeypatch.setenv(memory.MEMORY_ENV, given)
    with pytest.raises(ParameterError, match="RANKARENA_MAX_MEMORY must be a positive size"):
        memory.memory_limit()


def test_default_memory_limit_is_half_the_physical_memory(monkeypatch):
    monkeypatch.delenv(memory.MEMORY_ENV, raising=False)
    limit, source = memory.memory_limit()
    assert limit == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    assert source == "half the physical memory; set RANKARENA_MAX_MEMORY to change"


def test_require_memory_is_one_line_naming_the_setting(monkeypatch):
    monkeypatch.setenv(memory.MEMORY_ENV, "1G")
    memory.require_memory("eval", 2**30, "to read x")  # exactly the limit fits
    with pytest.raises(RankarenaError) as caught:
        memory.require_memory("eval", 2**30 + 1, "to read x", "or use a smaller k")
    assert str(caught.value) == (
        "eval needs 1.0 GiB to read x; limit: 1.0 GiB (RANKARENA_MAX_MEMORY=1G); or use a smaller k"
    )
    assert "\n" not in str(caught.value)


def test_resident_bytes_is_this_process():
    assert 10 * 2**20 < memory.resident_bytes() < 64 * 2**30


def test_building_a_run_stays_within_its_per_row_estimate():
    """``RUN_ROW_BYTES``, which the retrievers' memory estimates add per result, bounds the
    peak growth of ``Run.from_arrays`` on 1M rows of short ids (VmHWM, reset before)."""
    import ctypes
    import gc
    from pathlib import Path

    import numpy as np

    from rankarena.api.memory import RUN_ROW_BYTES
    from rankarena.data import Run

    def status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        pytest.skip(f"no {field} in /proc/self/status")

    rng = np.random.default_rng(0)
    queries, k = 1000, 1000
    query_ids = np.repeat(np.array([f"q{i}" for i in range(queries)], dtype=object), k)
    names = np.array([f"d{i}" for i in range(100_000)], dtype=object)
    # distinct within each query: 97 is coprime with 100,000
    doc_ids = names[(np.arange(k) * 97 + 13 * np.arange(queries)[:, None]).ravel() % 100_000]
    scores = rng.random(queries * k)
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = status("VmRSS:")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("the kernel refuses to reset the peak (/proc/self/clear_refs)")
    run = Run.from_arrays(query_ids, doc_ids, scores)
    growth = status("VmHWM:") - before
    assert run.table.num_rows == queries * k
    assert growth <= RUN_ROW_BYTES * run.table.num_rows, growth / run.table.num_rows
