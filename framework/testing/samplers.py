"""Conformance rules of hard-negative samplers (``register_samplers``), checked by mining
the kit's sample collection (``MiningContext`` with seed 0, every judged query).

* ``sample``: ``sample(context, n)`` returns ``TrainingExamples``;
* ``no-shown-positive``: no row has one of its query's shown positives as a negative;
* ``requested-count-or-fewer``: no row has more than ``n`` negatives (n = 3, and n = 100,
  more than the collection can give: then fewer, or a one-line ``RankarenaError``), and no
  negative twice;
* ``rows-are-shown-pairs``: each row's (query, positive) is a shown pair, once;
* ``ids-from-corpus``: every negative is a document of the corpus;
* ``seeded``: a new sampler on a new context with the same seed mines the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.host import PluginHost
from ..data.training_examples import TrainingExamples
from ..errors import RankarenaError
from ..training.mining import MiningContext
from . import sample
from .components import Component, subject
from .rules import Checklist, broken, require

COUNT = 3


def _context(host: PluginHost, seed: int = 0) -> MiningContext:
    return MiningContext(sample.corpus(), sample.queries(), sample.qrels(), host=host, seed=seed)


def _rows(examples: TrainingExamples) -> list[dict[str, Any]]:
    return examples.table.select(["query_id", "positive_id", "negative_ids"]).to_pylist()


def check_sampler(
    component: Component,
    params: Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
) -> list[str]:
    """Check a sampler against every rule above; returns the rules passed.

    :param component: a registered sampler name (``"retriever-topk"``) or its factory.
    :param params: the sampler's parameters.
    :raises ConformanceError: naming each broken rule.
    """
    who = subject("samplers", component, params, host)
    rules = Checklist(who.label)
    context = _context(who.host)

    def mined(count: int = COUNT, context: MiningContext = context) -> TrainingExamples:
        result = who.make().sample(context, count)
        require(
            isinstance(result, TrainingExamples),
            f"sample() returned {type(result).__name__}, not TrainingExamples",
        )
        return result

    examples = rules.rule("sample", mined)
    if examples is None:
        return rules.verdict()
    rows = _rows(examples)

    def no_positive():
        for row in rows:
            shown = set(context.positives.get(row["query_id"], ()))
            hit = sorted(shown.intersection(row["negative_ids"]))
            if hit:
                broken(f"query {row['query_id']!r}: shown positive {hit[0]!r} as a negative")

    rules.rule("no-shown-positive", no_positive)

    def counts():
        tables = [(COUNT, rows)]
        try:
            tables.append((100, _rows(mined(100))))
        except RankarenaError as error:  # "too few documents": a one-line error is a fine answer
            require(
                len(str(error).strip().splitlines()) == 1,
                "asking more negatives than the corpus holds raised a multi-line error",
            )
        for count, table in tables:
            for row in table:
                negatives = row["negative_ids"]
                require(
                    len(negatives) <= count,
                    f"query {row['query_id']!r}: {len(negatives)} negatives for {count} asked",
                )
                require(
                    len(set(negatives)) == len(negatives),
                    f"query {row['query_id']!r}: a negative appears twice",
                )

    rules.rule("requested-count-or-fewer", counts)

    def pairs():
        seen = set()
        for row in rows:
            pair = (row["query_id"], row["positive_id"])
            require(
                row["positive_id"] in context.positives.get(row["query_id"], ()),
                f"row {pair} is not a shown (query, positive) pair",
            )
            require(pair not in seen, f"row {pair} appears twice")
            seen.add(pair)

    rules.rule("rows-are-shown-pairs", pairs)

    def from_corpus():
        known = set(context.doc_ids)
        for row in rows:
            stray = [d for d in row["negative_ids"] if d not in known]
            if stray:
                broken(f"query {row['query_id']!r}: negative {stray[0]!r} is not in the corpus")

    rules.rule("ids-from-corpus", from_corpus)

    def seeded():
        again = _rows(mined(COUNT, _context(who.host)))
        require(again == rows, "a second sampler on a context with the same seed mined other rows")

    rules.rule("seeded", seeded)
    return rules.verdict()
