"""Plugin API for dataset sources and commands: BEIR folders, TREC run files, qrels files
(TREC or BEIR TSV, told apart by content: ``read_qrels``), the dataset catalog, atomic
writes."""

from ..core.datasets import open_dataset
from ..data import BeirFolder, atomic_path, read_qrels, read_trec_run
from ..data.catalog import resolve_dataset

__all__ = [
    "BeirFolder",
    "atomic_path",
    "open_dataset",
    "read_qrels",
    "read_trec_run",
    "resolve_dataset",
]
