"""Built-in document perturbations: ``sentence-shuffle``, ``truncation`` and
``term-stuffing``.

The document-side perturbations of the robustness taxonomy of Wu et al. 2022, "Are Neural
Ranking Models Robust?" (ACM TOIS): sentence-level reordering, length change, and keyword
stuffing (their document attacks; also called query term injection). Each class has
``target = "documents"`` and ``apply(texts, rng) -> dict`` returning a new dict with the same
ids; the input is never changed and texts are processed in the dict's order, drawing from
``rng`` only, so the same generator state gives the same output.

Tokens and counts follow ``rankarena.robustness.text_noise``: words are whitespace-separated tokens;
k = ``change_count(n, i)`` = 0 if i = 0, else max(1, ⌊i·n + ½⌋).

* ``sentence-shuffle`` — sentences are the pieces of the text, less its leading and trailing
  whitespace, between the matches of ``(?<=[.!?])\\s+`` (whitespace after ``.``, ``!`` or
  ``?``; all whitespace stays in place, so "e.g. this" is cut too, "3.5" is not).
  k = ``shuffle_count(n, i)`` (``change_count`` raised to 2 when it is 1; nothing when n < 2)
  sentence positions, uniform, move along one random cycle, so each receives another sentence
  (it looks unchanged only where an equal sentence lands on it).
* ``truncation`` — keeps the first n − min(k, n − 1) words (so at least one; for exact
  half-way cases this is n − ⌊i·n + ½⌋, close to ⌊(1 − i)·n⌉), dropping the rest and the
  trailing whitespace after the last kept word.
* ``term-stuffing`` — injects m = 0 terms if i = 0, else max(1, ⌊i·n + ½⌋) (n the document's
  word count; i = 1 doubles its length), each drawn uniformly with replacement from the
  document's candidate terms (``apply(..., terms={doc_id: [...]})``; the runner passes the
  ``query_terms`` of the query it stuffs the document for). ``position``: ``start`` puts the m
  terms before the text, ``end`` after it (joined by single spaces), ``random`` inserts each
  term before a word position drawn uniformly from 0..n (n = after the last word), in draw
  order. A document with no (or an empty list of) terms is returned unchanged.
  ``query_terms(text)`` gives the lowercased words of a text split at non-alphanumeric
  characters (``[^\\W_]+``), of at least two characters (so no "s" from "cell's"), without
  ``text_noise.STOPWORDS``, distinct, in order of first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

import rankarena
from rankarena.api.perturbation import (
    change_count,
    check_choice,
    check_intensity,
    choose_positions,
    cycle_positions,
    join_words,
    query_terms,
    shuffle_count,
    split_words,
)

__all__ = ["SentenceShuffle", "TermStuffing", "Truncation", "query_terms", "split_sentences"]

POSITIONS = ("start", "end", "random")
SENTENCE_BREAK = re.compile(r"((?<=[.!?])\s+)")


def split_sentences(text: str) -> tuple[list[str], list[str]]:
    """``(sentences, gaps)`` like ``text_noise.split_words``: the text, less its leading and
    trailing whitespace, cut at whitespace after ``.``, ``!`` or ``?``; ``gaps`` holds the
    leading whitespace, the breaks and the trailing whitespace (``len(sentences) + 1``), so
    ``join_words(sentences, gaps) == text``. Blank text has no sentence."""
    core = text.strip()
    if not core:
        return [], [text]
    start = text.index(core)
    parts = SENTENCE_BREAK.split(core)
    return parts[0::2], [text[:start], *parts[1::2], text[start + len(core) :]]


class SentenceShuffle:
    """Move a share of a document's sentences to each other's positions (one random cycle).

    :param intensity: share of the sentences that move (at least two when > 0).
    """

    target = "documents"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'sentence-shuffle'", intensity)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts with ``shuffle_count(sentences, intensity)`` sentence positions cycled."""
        out = {}
        for key, text in texts.items():
            sentences, gaps = split_sentences(text)
            count = shuffle_count(len(sentences), self.intensity)
            picked = choose_positions(len(sentences), count, rng)
            if not picked:
                out[key] = text
                continue
            out[key] = join_words(cycle_positions(sentences, picked, rng), gaps)
        return out


class Truncation:
    """Keep only the first words of each document.

    :param intensity: share of the words cut from the end (the first word always stays).
    """

    target = "documents"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'truncation'", intensity)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts cut to ``n - min(change_count(n, intensity), n - 1)`` words."""
        out = {}
        for key, text in texts.items():
            words, gaps = split_words(text)
            cut = min(change_count(len(words), self.intensity), max(len(words) - 1, 0))
            if not cut:
                out[key] = text
                continue
            kept = len(words) - cut
            out[key] = join_words(words[:kept], [*gaps[:kept], ""])
        return out


class TermStuffing:
    """Keyword stuffing: inject query terms into documents (at the start, end or anywhere).

    :param intensity: injected terms per document word (at least one term when > 0).
    :param position: ``start``, ``end`` or ``random``.
    """

    target = "documents"

    def __init__(self, intensity: float = 0.1, position: str = "end"):
        owner = "perturbation 'term-stuffing'"
        self.intensity = check_intensity(owner, intensity)
        self.position = check_choice(owner, "position", position, POSITIONS)

    def count(self, n_words: int) -> int:
        """How many terms a document of ``n_words`` words gets (see the module docstring)."""
        if self.intensity == 0:
            return 0
        return max(1, change_count(n_words, self.intensity))

    def apply(
        self,
        texts: Mapping[str, str],
        rng: np.random.Generator,
        terms: Mapping[str, list[str]] | None = None,
    ) -> dict[str, str]:
        """The texts with ``count(words)`` of their ``terms`` injected; others unchanged."""
        terms = terms or {}
        out = {}
        for key, text in texts.items():
            candidates = list(terms.get(key) or ())
            words, gaps = split_words(text)
            m = self.count(len(words))
            if not candidates or not m:
                out[key] = text
                continue
            injected = [candidates[int(i)] for i in rng.integers(len(candidates), size=m)]
            if self.position == "start":
                out[key] = " ".join(injected) + (" " + text if words else text)
            elif self.position == "end":
                out[key] = (text + " " if words else text) + " ".join(injected)
            else:
                out[key] = self._insert(words, gaps, injected, rng)
        return out

    @staticmethod
    def _insert(
        words: list[str], gaps: list[str], injected: list[str], rng: np.random.Generator
    ) -> str:
        """Insert each term before a uniform word position (0..n), in draw order."""
        slots: list[list[str]] = [[] for _ in range(len(words) + 1)]
        for term, slot in zip(
            injected, rng.integers(len(words) + 1, size=len(injected)), strict=True
        ):
            slots[int(slot)].append(term)
        pieces = [gaps[0]]
        for i, word in enumerate(words):
            pieces.append("".join(t + " " for t in slots[i]) + word)
            pieces.append(gaps[i + 1])
        tail = " ".join(slots[-1])
        if tail:
            pieces.append(tail if not words or gaps[-1] else " " + tail)
        return "".join(pieces)


@rankarena.hookimpl
def register_perturbations(register):
    register("sentence-shuffle", SentenceShuffle)
    register("truncation", Truncation)
    register("term-stuffing", TermStuffing)
