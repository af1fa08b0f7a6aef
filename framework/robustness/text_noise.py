"""Word-level text noise: the tokens, counts and random choices every perturbation shares.

* **Tokens** are whitespace-separated words (``str.split()``). ``split_words`` keeps the
  whitespace around them as *gaps* (``len(gaps) == len(words) + 1``: leading, between,
  trailing), so ``join_words(*split_words(text)) == text`` and untouched text keeps its spacing
  and line breaks.
* **How many** of ``n`` eligible units (words, sentences) a perturbation of intensity ``i``
  changes: ``change_count(n, i)`` = 0 for i = 0 or n = 0, else ``max(1, ⌊i·n + ½⌋)`` — rounding
  half up (not Python's round-half-even; a 1e-9 tolerance absorbs float error such as
  0.15·10 = 1.4999…), and at least one unit whenever i > 0 and n ≥ 1, so a low intensity on a
  short query still perturbs something. A shuffle needs two units to move anything:
  ``shuffle_count`` raises a count of 1 to 2 (and is 0 below two units).
* **Which** units: ``choose_positions`` draws that many distinct positions uniformly
  (``rng.choice(n, k, replace=False)``), returned sorted.
* **Shuffles** move every chosen position: ``cycle_positions`` puts the chosen positions in a
  random order and sends each unit to the next position of that order (one random k-cycle,
  a derangement of the chosen positions), so distinct units all land elsewhere.
* **Stopwords** for "content word" filters: a small built-in English list (``STOPWORDS``).

Every draw comes from the ``numpy.random.Generator`` the caller passes, in a fixed order, so
the same generator state gives the same output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from ..errors import ParameterError

T = TypeVar("T")

_WORDS = re.compile(r"(\S+)")

_STOPWORD_LIST = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
"""

STOPWORDS: frozenset[str] = frozenset(_STOPWORD_LIST.split())
"""English function words (after the NLTK/Snowball English list, without contractions)."""


def check_intensity(owner: str, intensity: float) -> float:
    """``intensity`` as a float, or a one-line ``ParameterError`` unless it is a number in
    [0, 1]. ``owner`` names the component in the message (``"perturbation 'typos'"``)."""
    if (
        isinstance(intensity, bool)
        or not isinstance(intensity, (int, float))
        or not math.isfinite(intensity)
        or not 0 <= intensity <= 1
    ):
        raise ParameterError(f"{owner}: intensity must be a number in [0, 1], got {intensity!r}")
    return float(intensity)


def round_half_up(x: float) -> int:
    """``⌊x + ½⌋`` with a 1e-9 tolerance for float error (``round_half_up(2.5) == 3``)."""
    return math.floor(x + 0.5 + 1e-9)


def change_count(n: int, intensity: float) -> int:
    """How many of ``n`` eligible units an ``intensity`` changes (see the module docstring)."""
    if n <= 0 or intensity <= 0:
        return 0
    return min(n, max(1, round_half_up(intensity * n)))


def shuffle_count(n: int, intensity: float) -> int:
    """How many of ``n`` units a shuffle moves: ``change_count``, raised to 2 when it is 1 (one
    unit cannot move alone); 0 when ``n < 2``."""
    if n < 2:
        return 0
    count = change_count(n, intensity)
    return 2 if count == 1 else count


def split_words(text: str) -> tuple[list[str], list[str]]:
    """``(words, gaps)``: the whitespace-separated words and the whitespace around them."""
    parts = _WORDS.split(text)
    return parts[1::2], parts[0::2]


def join_words(words: Sequence[str], gaps: Sequence[str]) -> str:
    """The inverse of ``split_words``: ``gaps[0] + words[0] + gaps[1] + ... + gaps[-1]``."""
    if len(gaps) != len(words) + 1:
        raise ValueError(f"need len(gaps) == len(words) + 1, got {len(gaps)} and {len(words)}")
    out = [gaps[0]]
    for word, gap in zip(words, gaps[1:], strict=True):
        out += [word, gap]
    return "".join(out)


def keep_words(words: Sequence[str], gaps: Sequence[str], keep: Sequence[int]) -> str:
    """The text with only the words at the sorted positions ``keep``: the leading and trailing
    gaps stay, and between two kept words stands the gap that followed the earlier one."""
    if not keep:
        return gaps[0] + gaps[-1] if words else gaps[0]
    out = [gaps[0]]
    for here, after in zip(keep, [*keep[1:], None], strict=True):
        out.append(words[here])
        out.append(gaps[-1] if after is None else gaps[here + 1])
    return "".join(out)


def choose_positions(n: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` distinct positions of ``range(n)``, uniformly at random, sorted."""
    if count <= 0:
        return []
    return sorted(int(i) for i in rng.choice(n, size=count, replace=False))


def cycle_positions(
    items: Sequence[T], positions: Sequence[int], rng: np.random.Generator
) -> list[T]:
    """A copy of ``items`` where the units at ``positions`` move along one random cycle:
    the positions are put in a random order and each unit goes to the next position of that
    order (the last to the first). Every chosen position receives another unit; fewer than
    two positions move nothing."""
    out = list(items)
    if len(positions) < 2:
        return out
    order = [positions[int(i)] for i in rng.permutation(len(positions))]
    for src, dst in zip(order, [*order[1:], order[0]], strict=True):
        out[dst] = items[src]
    return out


def edit_words(
    text: str,
    intensity: float,
    rng: np.random.Generator,
    annotate: Callable[[str], Any],
    edit: Callable[[str, Any, np.random.Generator], str],
) -> str:
    """``text`` with ``change_count(n, intensity)`` of its n eligible words edited.

    ``annotate(word)`` is falsy for an ineligible word, else what ``edit(word, annotation,
    rng)`` needs; the words are drawn with ``choose_positions`` and edited in text order;
    the whitespace is kept. A text with nothing to change comes back as it was.
    """
    words, gaps = split_words(text)
    notes = [annotate(w) for w in words]
    eligible = [i for i, note in enumerate(notes) if note]
    picked = choose_positions(len(eligible), change_count(len(eligible), intensity), rng)
    if not picked:
        return text
    for j in picked:
        i = eligible[j]
        words[i] = edit(words[i], notes[i], rng)
    return join_words(words, gaps)


_TERM = re.compile(r"[^\W_]+")


def query_terms(text: str) -> list[str]:
    """The distinct lowercased words of ``text`` (split at non-alphanumerics) of two or more
    characters that are not stopwords, in order of first occurrence."""
    terms = _TERM.findall(text.lower())
    return list(dict.fromkeys(t for t in terms if len(t) > 1 and t not in STOPWORDS))
