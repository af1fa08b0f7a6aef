"""Plugin API for memory: what a job may use, and the one-line refusal of one that will
not fit (``rankarena.core.memory``: ``RANKARENA_MAX_MEMORY``, else half the physical
memory). A plugin estimates what a step needs before it starts and calls
``require_memory``; the error names the limit and the setting. ``RUN_ROW_BYTES``: the peak
bytes per row of building a ``Run`` (a retriever's results), for such estimates."""

from ..core.memory import MEMORY_ENV, format_bytes, memory_limit, require_memory, resident_bytes
from ..data.run import RUN_ROW_BYTES

__all__ = [
    "MEMORY_ENV",
    "RUN_ROW_BYTES",
    "format_bytes",
    "memory_limit",
    "require_memory",
    "resident_bytes",
]
