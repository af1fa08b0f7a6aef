"""Plugin API for perturbations: seeded word-level text-noise helpers."""

from ..core.params import check_choice
from ..robustness.text_noise import (
    STOPWORDS,
    change_count,
    check_intensity,
    choose_positions,
    cycle_positions,
    edit_words,
    join_words,
    keep_words,
    query_terms,
    round_half_up,
    shuffle_count,
    split_words,
)

__all__ = [
    "STOPWORDS",
    "change_count",
    "check_choice",
    "check_intensity",
    "choose_positions",
    "cycle_positions",
    "edit_words",
    "join_words",
    "keep_words",
    "query_terms",
    "round_half_up",
    "shuffle_count",
    "split_words",
]
