"""Plugin API for dataset sources: BEIR folders, the dataset catalog, atomic writes."""

from ..data import BeirFolder, atomic_path
from ..data.catalog import resolve_dataset

__all__ = ["BeirFolder", "atomic_path", "resolve_dataset"]
