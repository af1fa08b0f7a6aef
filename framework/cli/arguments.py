"""What the verbs share to read a command line: the parser that says a bad argument in one
line, the ``type=`` checkers of numbers, comma-separated name lists and ``NAME=VALUE``
parameters.
"""

from __future__ import annotations

import argparse
import ast
import math
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import ParameterError
from ..evaluate.metric import split_top_level
from .error_lines import single_line

EXIT_ERROR = 2
"""The exit status of every foreseeable failure, a bad argument included."""


class OneLineParser(argparse.ArgumentParser):
    """``argparse`` that says a bad argument in one line: ``rankarena: error: ...``."""

    def error(self, message: str) -> NoReturn:
        """Print ``rankarena: error: MESSAGE`` (one line) and exit with status 2."""
        self.exit(EXIT_ERROR, f"rankarena: error: {single_line(message)}\n")


def verb_parser(
    *, adopt: argparse.ArgumentParser | None = None, **kwargs: Any
) -> argparse.ArgumentParser:
    """The ``parser_class`` of the verbs' subparsers: a new ``OneLineParser`` from
    ``kwargs``, or ``adopt``, a parser built beforehand (a plugin's verb, checked first).

    ``subparsers.add_parser(name, help=..., adopt=parser)`` thus adds a ready parser
    through argparse's own ``add_parser``, help line and aliases included.
    """
    return adopt if adopt is not None else OneLineParser(**kwargs)


# ------------------------------------------------------------------- argument checkers


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=``: an integer >= ``minimum``, else ``must be >= N, got X``."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return check


positive_int = whole_number(1)
"""``type=`` for counts that must be at least one (``--k``, ``--epochs``, ``--tournaments``)."""
non_negative_int = whole_number(0)
"""``type=`` for counts where 0 means none or off (``--bootstrap``, ``--top``, seeds)."""


def fraction(low_open: bool, high_open: bool) -> Callable[[str], float]:
    """An argparse ``type=``: a number in [0, 1], each end excluded when ``*_open``."""
    shown = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        low_ok = value > 0 if low_open else value >= 0
        high_ok = value < 1 if high_open else value <= 1
        if not (low_ok and high_ok and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be in {shown}, got {text}")
        return value

    return check


probability = fraction(low_open=True, high_open=True)
"""``type=`` for a level strictly between 0 and 1 (``--alpha``)."""
share = fraction(low_open=False, high_open=False)
"""``type=`` for a share from 0 to 1 (``--min-coverage``, ``--holdout``)."""


# ------------------------------------------------------------------- lists and parameters


def metric_names(text: str) -> list[str]:
    """The names of a comma-separated list (``ndcg@10, mrr@10``), stripped, empty ones
    dropped: metrics, aggregators. Commas inside parentheses belong to a name's parameters
    (``RBP(p=0.8,rel=1)@10, nDCG@10`` is two names)."""
    return [m for m in (part.strip() for part in split_top_level(text)) if m]


def parse_param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` with VALUE read as a Python literal where it is one (else a string)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"--param takes NAME=VALUE, got {text!r}")
    try:
        parsed: object = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return name.strip(), parsed


def parse_params(texts: list[str]) -> dict[str, object]:
    """Every ``NAME=VALUE`` of a repeatable option, as keyword arguments."""
    return dict(parse_param(text) for text in texts)
