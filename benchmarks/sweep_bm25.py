"""BM25 tokenisations and parameters on the local collections, scored by rankarena.

    RANKARENA_DATA_DIR=../shared/data python benchmarks/sweep_bm25.py [--datasets scifact]

For every stemmer (Porter, Snowball English, none) × stopwords (Lucene's English list,
none) × (k1, b) in {(0.9, 0.4) Anserini, (1.2, 0.75) Lucene/Elasticsearch}, indexes the
corpus with the built-in ``bm25`` retriever (title + text) and prints nDCG@10 and
Recall@100 on the test split. BEIR (Thakur et al. 2021) reports nDCG@10 = 0.665 on SciFact.
"""

from __future__ import annotations

import argparse
import itertools

import rankarena


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="scifact,climate-fever-sentences")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    host = rankarena.plugin_manager()
    print("| dataset | stemmer | stopwords | k1 | b | nDCG@10 | Recall@100 |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for name in args.datasets.split(","):
        dataset = host.datasets.create("beir", path=name)
        queries, qrels = dataset.queries(args.split), dataset.qrels(args.split)
        grid = itertools.product(
            ["porter", "english", None], ["en", None], [(0.9, 0.4), (1.2, 0.75)]
        )
        for stemmer, stopwords, (k1, b) in grid:
            bm25 = host.retrievers.create(
                "bm25", k1=k1, b=b, stemmer=stemmer, stopwords=stopwords, show_progress=False
            )
            run = bm25.index(dataset.corpus).search(queries, k=1000)
            mean = rankarena.evaluate(run, qrels, ["ndcg@10", "recall@100"], host=host).mean
            print(
                f"| {name} | {stemmer or 'none'} | {stopwords or 'none'} | {k1} | {b} "
                f"| {mean['ndcg@10']:.4f} | {mean['recall@100']:.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
