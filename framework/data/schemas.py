"""Arrow schemas of rankarena's tables. Ids are strings everywhere."""

from __future__ import annotations

import pyarrow as pa

CORPUS = pa.schema([("_id", pa.string()), ("title", pa.string()), ("text", pa.string())])
QUERIES = pa.schema([("_id", pa.string()), ("text", pa.string())])
QRELS = pa.schema([("query_id", pa.string()), ("doc_id", pa.string()), ("relevance", pa.int32())])
RUN = pa.schema(
    [
        ("query_id", pa.string()),
        ("doc_id", pa.string()),
        ("score", pa.float64()),
        ("rank", pa.int32()),
    ]
)
RESULTS = pa.schema(
    [
        ("system", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("variant", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("query_id", pa.string()),
        ("run_id", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        # what the value was computed from besides the run: the qrels' content, the metric
        # and the evaluation options (rankarena.evaluate.evaluation_key); null when unknown
        ("eval_key", pa.string()),
    ]
)
