"""Plugin API for aggregators: score tables and pairwise preference counting."""

from ..data.score_table import BordaBasis, Ranking, ScoreTable
from ..leaderboard.pairwise import (
    outcomes,
    preference_matrix,
    require_memory,
    row_blocks,
    strict_wins,
    task_ranks,
)

__all__ = [
    "BordaBasis",
    "Ranking",
    "ScoreTable",
    "outcomes",
    "preference_matrix",
    "require_memory",
    "row_blocks",
    "strict_wins",
    "task_ranks",
]
