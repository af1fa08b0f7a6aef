"""Plugin API: parameter checks that raise one-line ``ParameterError``s, and name hints."""

from ..core.params import check_choice, finite_number, non_negative_number, positive_number
from ..errors import did_you_mean

__all__ = [
    "check_choice",
    "did_you_mean",
    "finite_number",
    "non_negative_number",
    "positive_number",
]
