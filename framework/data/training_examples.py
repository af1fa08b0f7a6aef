"""``TrainingExamples``: what a hard-negative sampler produces and a trainer consumes.

One row per (query, positive): ``query_id``, ``positive_id``, ``positive_score`` (the mining
model's score of the pair, or null), ``negative_ids`` and ``negative_scores`` (lists in the
sampler's order, best first for score-based samplers), and ``negative_labels`` (soft labels in
[0, 1] a judge or reranker gave the negatives, e.g. the probability that a "negative" is in fact
relevant, for soft-label losses; null when not judged). ``in_batch = True`` on every row marks
a set whose negatives are the other rows of a training batch (the ``in-batch`` sampler): the
lists are then empty and the trainer supplies the negatives.

A negative is never one of the query's labelled positives: the constructor checks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from ..errors import DataFormatError
from .table import ArrowTable
from .texts import Corpus, Queries

SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("positive_id", pa.string()),
        ("positive_score", pa.float64()),
        ("negative_ids", pa.list_(pa.string())),
        ("negative_scores", pa.list_(pa.float64())),
        ("negative_labels", pa.list_(pa.float64())),
        ("in_batch", pa.bool_()),
    ]
)


class TrainingExamples(ArrowTable):
    """Queries with a positive and their negatives (see the module docstring)."""

    SCHEMA = SCHEMA
    NOT_NULL = ("query_id", "positive_id", "negative_ids", "negative_scores", "in_batch")
    KEY = ("query_id", "positive_id")

    def _check(self) -> None:
        super()._check()
        rows = self.table.select(
            ["query_id", "positive_id", "negative_ids", "negative_scores", "negative_labels"]
        ).to_pylist()
        for number, row in enumerate(rows, start=1):
            if len(row["negative_ids"]) != len(row["negative_scores"]):
                raise DataFormatError(
                    self.source, f"row {number}: negative_ids and negative_scores differ in length"
                )
            labels = row["negative_labels"]
            if labels is not None and len(labels) != len(row["negative_ids"]):
                raise DataFormatError(
                    self.source, f"row {number}: negative_labels and negative_ids differ in length"
                )
            if row["positive_id"] in row["negative_ids"]:
                raise DataFormatError(
                    self.source,
                    f"row {number}: query {row['query_id']!r} has its positive "
                    f"{row['positive_id']!r} among its negatives",
                )

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> TrainingExamples:
        """Build from dicts with the schema's keys (``negative_labels``/``in_batch`` optional)."""
        full = [
            {
                "query_id": r["query_id"],
                "positive_id": r["positive_id"],
                "positive_score": r.get("positive_score"),
                "negative_ids": list(r.get("negative_ids", [])),
                "negative_scores": [float(s) for s in r.get("negative_scores", [])],
                "negative_labels": r.get("negative_labels"),
                "in_batch": bool(r.get("in_batch", False)),
            }
            for r in rows
        ]
        return cls(pa.Table.from_pylist(full, schema=SCHEMA))

    def check_against(self, positives: Mapping[str, Iterable[str]]) -> None:
        """Fail if any negative is a labelled positive of its query (``positives``: all labels)."""
        for number, row in enumerate(
            self.table.select(["query_id", "negative_ids"]).to_pylist(), 1
        ):
            bad = set(positives.get(row["query_id"], ())) & set(row["negative_ids"])
            if bad:
                raise DataFormatError(
                    self.source,
                    f"row {number}: labelled positive(s) {sorted(bad)} of query "
                    f"{row['query_id']!r} mined as negatives",
                )

    def to_ntuples(self, corpus: Corpus, queries: Queries, with_title: bool = True) -> list[dict]:
        """The n-tuple format of ``sentence_transformers.util.mine_hard_negatives``:
        ``{"anchor", "positive", "negative_1", ..., "negative_n"}`` texts per row (rows with
        fewer negatives than the longest are dropped, as a fixed-width dataset needs)."""
        texts = dict(zip(corpus.ids, corpus.texts(with_title=with_title), strict=True))
        query_texts = dict(zip(queries.ids, queries.table.column("text").to_pylist(), strict=True))
        rows = self.table.select(["query_id", "positive_id", "negative_ids"]).to_pylist()
        width = max((len(r["negative_ids"]) for r in rows), default=0)
        out = []
        for row in rows:
            if len(row["negative_ids"]) < width:
                continue
            item = {"anchor": query_texts[row["query_id"]], "positive": texts[row["positive_id"]]}
            for k, doc in enumerate(row["negative_ids"], start=1):
                item[f"negative_{k}"] = texts[doc]
            out.append(item)
        return out

    def to_dataset(self, corpus: Corpus, queries: Queries, with_title: bool = True):
        """``to_ntuples`` as a Hugging Face ``datasets.Dataset`` (sentence-transformers' input)."""
        from datasets import Dataset

        return Dataset.from_list(self.to_ntuples(corpus, queries, with_title))


def read_training_examples(path: str | os.PathLike[str]) -> TrainingExamples:
    """A ``TrainingExamples`` Parquet file, checked."""
    return TrainingExamples.from_parquet(path)
