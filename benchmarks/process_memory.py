"""This process's memory, for the benchmarks: resident set, its peak mark, and freeing what
the allocators keep, so that a stage's own peak can be read (Linux ``/proc``)."""

from __future__ import annotations

import gc


def status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` field in KiB (``"VmRSS"``, ``"VmHWM"``), None if unreadable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0); False
    where it cannot be (the peak is then since the process started)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_free_memory() -> None:
    """Collect garbage and hand free heap back to the OS (Arrow's pool, glibc's
    ``malloc_trim``), so that pages freed earlier do not hide the next allocations."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
