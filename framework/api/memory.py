"""Plugin API for memory: what a job may use, and the one-line refusal of one that will
not fit (``rankarena.core.memory``: ``RANKARENA_MAX_MEMORY``, else half the physical
memory). A plugin estimates what a step needs before it starts and calls
``require_memory``; the error names the limit and the setting."""

from ..core.memory import MEMORY_ENV, format_bytes, memory_limit, require_memory, resident_bytes

__all__ = ["MEMORY_ENV", "format_bytes", "memory_limit", "require_memory", "resident_bytes"]
