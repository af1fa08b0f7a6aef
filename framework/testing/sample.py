"""The small collection the conformance kit checks components on (shipped with rankarena).

Thirty-two short encyclopedia-style documents written for this kit in eight topics (four
each), nine queries and graded judgements: grade 2 (answers the query), 1 (on the topic),
0 (judged, not relevant). Two documents and one query are not ASCII, one query is empty
(``q-empty``, judged so that it is evaluated) and one is not in English (``q-de``).
"""

from __future__ import annotations

from rankarena import Corpus, Qrels, Queries

DOCUMENTS: dict[str, tuple[str, str]] = {
    "vitc-1": ("Vitamin C and scurvy", "Scurvy is caused by a lack of vitamin C in the diet."),
    "vitc-2": ("Citrus fruit", "Oranges and lemons are rich sources of vitamin C."),
    "vitc-3": ("Lind's trial", "James Lind treated sailors with scurvy using citrus juice."),
    "vitc-4": ("Ascorbic acid", "Ascorbic acid is an antioxidant needed to make collagen."),
    "heart-1": ("Heart", "The heart pumps blood through the arteries and veins."),
    "heart-2": ("Blood pressure", "High blood pressure raises the risk of heart attack."),
    "heart-3": ("Exercise", "Regular exercise lowers resting heart rate and blood pressure."),
    "heart-4": ("Cholesterol", "LDL cholesterol builds plaques in the walls of arteries."),
    "vacc-1": ("Vaccines", "Vaccines train the immune system to recognise a pathogen."),
    "vacc-2": ("Measles", "The measles vaccine prevents a highly contagious viral disease."),
    "vacc-3": ("Herd immunity", "Herd immunity protects people who cannot be vaccinated."),
    "vacc-4": ("Smallpox", "Smallpox was eradicated after a worldwide vaccination campaign."),
    "clim-1": ("Greenhouse gases", "Carbon dioxide traps heat and warms the atmosphere."),
    "clim-2": ("Sea level", "Melting glaciers and warming oceans raise the sea level."),
    "clim-3": ("Arctic ice", "Arctic sea ice has shrunk in summer since satellite records."),
    "clim-4": ("Methane", "Methane from cattle and wetlands is a strong greenhouse gas."),
    "sleep-1": ("Sleep", "Adults need seven to nine hours of sleep each night."),
    "sleep-2": ("Melatonin", "Melatonin is a hormone that regulates the sleep cycle."),
    "sleep-3": ("Insomnia", "Insomnia is difficulty falling asleep or staying asleep."),
    "sleep-4": ("Memory", "Sleep helps the brain consolidate memory after learning."),
    "city-1": ("Zürich", "Zürich lies on Lake Zürich and is Switzerland's largest city."),
    "city-2": ("北京", "北京 (Beijing) is the capital of China, home of the Forbidden City."),
    "city-3": ("Paris", "Paris on the Seine is the capital and largest city of France."),
    "city-4": ("Lisbon", "Lisbon, Portugal's capital, was rebuilt after the 1755 earthquake."),
    "space-1": ("Moon landing", "Apollo 11 landed the first humans on the Moon in 1969."),
    "space-2": ("Mars", "Mars is a cold desert planet with two small moons."),
    "space-3": ("Telescopes", "The Hubble telescope orbits Earth above the atmosphere."),
    "space-4": ("Sun", "The Sun is a star that fuses hydrogen into helium."),
    "code-1": ("Python", "Python is a programming language with readable syntax."),
    "code-2": ("Sorting", "Merge sort divides a list and merges the sorted halves."),
    "code-3": ("Hash tables", "A hash table maps keys to values in constant average time."),
    "code-4": ("Compilers", "A compiler translates source code into machine code."),
}
"""Document id → (title, text)."""

QUERIES: dict[str, str] = {
    "q-scurvy": "what causes scurvy",
    "q-heart": "blood pressure and heart attack risk",
    "q-vaccine": "how do vaccines work immune system",
    "q-sea": "why is the sea level rising",
    "q-sleep": "how many hours of sleep do adults need",
    "q-zurich": "largest city of Switzerland Zürich",
    "q-moon": "first humans on the Moon",
    "q-empty": "",
    "q-de": "Hauptstadt von Frankreich",
}
"""Query id → text."""

QRELS: dict[str, dict[str, int]] = {
    "q-scurvy": {"vitc-1": 2, "vitc-3": 1, "vitc-2": 1, "heart-1": 0},
    "q-heart": {"heart-2": 2, "heart-3": 1, "heart-4": 1, "heart-1": 0},
    "q-vaccine": {"vacc-1": 2, "vacc-3": 1, "vacc-2": 1, "vacc-4": 0},
    "q-sea": {"clim-2": 2, "clim-3": 1, "clim-1": 0},
    "q-sleep": {"sleep-1": 2, "sleep-4": 0, "sleep-3": 0},
    "q-zurich": {"city-1": 2, "city-3": 0},
    "q-moon": {"space-1": 2, "space-2": 0},
    "q-empty": {"code-1": 1},
    "q-de": {"city-3": 2},
}
"""Query id → {document id: grade}."""


def corpus() -> Corpus:
    """The 32 documents as a ``Corpus``."""
    return Corpus.from_dict({d: {"title": t, "text": x} for d, (t, x) in DOCUMENTS.items()})


def queries() -> Queries:
    """The nine queries (one empty, one German, one not ASCII)."""
    return Queries.from_dict(QUERIES)


def qrels() -> Qrels:
    """The graded judgements of every query."""
    return Qrels.from_dict(QRELS)


def write_beir_folder(folder) -> None:
    """Write the collection as a BEIR folder (``corpus.jsonl``, ``queries.jsonl``,
    ``qrels/test.tsv``): a dataset for ``check_dataset_source("beir", folder)`` and for
    trying a plugin's source against the built-in one."""
    import json
    from pathlib import Path

    root = Path(folder)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as out:
        for doc, (title, text) in DOCUMENTS.items():
            out.write(json.dumps({"_id": doc, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as out:
        for query, text in QUERIES.items():
            out.write(json.dumps({"_id": query, "text": text}) + "\n")
    with open(root / "qrels" / "test.tsv", "w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for query, judged in QRELS.items():
            for doc, grade in judged.items():
                out.write(f"{query}\t{doc}\t{grade}\n")
