"""Paired significance tests, multiple-comparison corrections and effect sizes for comparing
retrieval systems on the same queries.

* ``paired_tests``: paired t-test, Wilcoxon signed-rank, sign test, Fisher's randomisation
  test (exact or Monte Carlo) and the paired bootstrap, on two systems' per-query values;
* ``corrections``: Bonferroni, Holm, Benjamini–Hochberg and Westfall–Young step-down max-T;
* ``effect_sizes``: the mean difference and Cohen's d_z with their intervals, per-query
  wins / ties / losses.

Functions on NumPy arrays; ``rankarena compare`` (systems from stores or run files) builds on
them.
"""

from .corrections import CORRECTIONS, adjust, max_t_step_down
from .effect_sizes import cohens_dz, mean_difference, wins_ties_losses
from .paired_tests import (
    TESTS,
    TestResult,
    paired_bootstrap_test,
    paired_t_test,
    randomisation_test,
    run_test,
    sign_test,
    wilcoxon_test,
)

__all__ = [
    "CORRECTIONS",
    "TESTS",
    "TestResult",
    "adjust",
    "cohens_dz",
    "max_t_step_down",
    "mean_difference",
    "paired_bootstrap_test",
    "paired_t_test",
    "randomisation_test",
    "run_test",
    "sign_test",
    "wilcoxon_test",
    "wins_ties_losses",
]
