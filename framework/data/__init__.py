"""rankarena's data model on Apache Arrow, with readers and writers."""

from rankarena.data.atomic import atomic_path, atomic_write
from rankarena.data.beir import BeirFolder, read_corpus, read_qrels_tsv, read_queries, write_beir
from rankarena.data.qrels import Qrels
from rankarena.data.results import Results
from rankarena.data.run import Run
from rankarena.data.texts import Corpus, Queries
from rankarena.data.trec import read_trec_qrels, read_trec_run, write_trec_qrels, write_trec_run

__all__ = [
    "BeirFolder",
    "Corpus",
    "Qrels",
    "Queries",
    "Results",
    "Run",
    "atomic_path",
    "atomic_write",
    "read_corpus",
    "read_qrels_tsv",
    "read_queries",
    "read_trec_qrels",
    "read_trec_run",
    "write_beir",
    "write_trec_qrels",
    "write_trec_run",
]
