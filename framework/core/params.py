"""Parameter checks shared by every component: one-line ``ParameterError``s naming the owner.

Each check returns the value it accepts (as a float for numbers), so a constructor reads
``self.margin = positive_number("margin-mse", "margin", margin)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ParameterError, did_you_mean


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def finite_number(owner: str, param: str, value: object) -> float:
    """``value`` as a float if it is a finite number, else ``owner: param must be ...``."""
    if not _is_number(value):
        raise ParameterError(f"{owner}: {param} must be a finite number, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def positive_number(owner: str, param: str, value: object) -> float:
    """``value`` as a float if it is a finite number > 0."""
    if not (_is_number(value) and value > 0):  # type: ignore[operator]
        raise ParameterError(f"{owner}: {param} must be a finite number > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def non_negative_number(owner: str, param: str, value: object) -> float:
    """``value`` as a float if it is a finite number ≥ 0."""
    if not (_is_number(value) and value >= 0):  # type: ignore[operator]
        raise ParameterError(f"{owner}: {param} must be a finite number >= 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_choice(
    owner: str, param: str, value: object, valid: Sequence[str], *, also: str = ""
) -> str:
    """``value`` if it is one of ``valid``, else a one-line error listing them (with a hint).

    ``also`` names what else the parameter takes, where the caller checks that form itself
    (``" or a list of task names"``): it follows the list in the message.
    """
    if not isinstance(value, str) or value not in valid:
        hint = did_you_mean(value, valid) if isinstance(value, str) else ""
        raise ParameterError(
            f"{owner}: {param} must be one of {', '.join(valid)}{also}, got {value!r}{hint}"
        )
    return value
