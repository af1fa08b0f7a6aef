"""rankarena's data model on Apache Arrow, with readers and writers."""

from .atomic import atomic_path, atomic_write
from .beir import BeirFolder, read_corpus, read_qrels_tsv, read_queries, write_beir
from .qrels import Qrels
from .qrels_files import read_qrels
from .results import Results
from .results_store import compact_store, store_exists
from .run import Run
from .texts import Corpus, Queries
from .trec import read_trec_qrels, read_trec_run, write_trec_qrels, write_trec_run

__all__ = [
    "BeirFolder",
    "Corpus",
    "Qrels",
    "Queries",
    "Results",
    "Run",
    "atomic_path",
    "atomic_write",
    "compact_store",
    "read_corpus",
    "read_qrels",
    "read_qrels_tsv",
    "read_queries",
    "read_trec_qrels",
    "read_trec_run",
    "store_exists",
    "write_beir",
    "write_trec_qrels",
    "write_trec_run",
]
