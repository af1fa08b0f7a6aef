"""Paired significance tests, multiple-comparison corrections and effect sizes for comparing
retrieval systems on the same queries.

* ``paired_tests``: paired t-test, Wilcoxon signed-rank, sign test, Fisher's randomisation
  test (exact or Monte Carlo) and the paired bootstrap, on two systems' per-query values;
* ``corrections``: Bonferroni, Holm, Benjamini–Hochberg and Westfall–Young step-down max-T;
* ``effect_sizes``: the mean difference and Cohen's d_z with their intervals, per-query
  wins / ties / losses;
* ``planning``: how many queries an experiment needs (Sakai's topic set size design for the
  paired t-test, one-way ANOVA and interval width) and the variances it needs, estimated
  from a systems × queries matrix or a results store;
* ``joint_permutations``: permutations of the system labels within the queries, and from
  them Carterette's randomised Tukey HSD and Westfall–Young max-T over many pairs;
* ``query_matrix``: systems x queries values from a results store or run files + qrels;
* ``compare``: ``rankarena.compare`` / ``rankarena compare``: every family (dataset, split,
  metric) of comparisons, tested, corrected and with effect sizes
  (``comparison_table``: written as CSV, Parquet, Markdown or LaTeX).
"""

from .compare import ALL_CORRECTIONS, CompareSettings, Comparison, compare, compare_family
from .comparison_table import ComparisonTable
from .corrections import CORRECTIONS, adjust, max_t_step_down
from .effect_sizes import cohens_dz, mean_difference, wins_ties_losses
from .joint_permutations import max_t_adjusted, permuted_means, randomised_tukey_hsd
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
from .planning import (
    TopicSetSize,
    anova_power,
    difference_variance,
    expected_half_width,
    residual_variance,
    t_test_power,
    topic_matrix,
    topic_set_size,
    topic_set_size_anova,
    topic_set_size_ci,
)
from .query_matrix import QueryMatrix, matrices_from_runs, matrices_from_store, paired_matrix

__all__ = [
    "ALL_CORRECTIONS",
    "CORRECTIONS",
    "TESTS",
    "CompareSettings",
    "Comparison",
    "ComparisonTable",
    "QueryMatrix",
    "TestResult",
    "TopicSetSize",
    "adjust",
    "anova_power",
    "cohens_dz",
    "compare",
    "compare_family",
    "difference_variance",
    "expected_half_width",
    "matrices_from_runs",
    "matrices_from_store",
    "max_t_adjusted",
    "max_t_step_down",
    "mean_difference",
    "paired_bootstrap_test",
    "paired_matrix",
    "paired_t_test",
    "permuted_means",
    "randomisation_test",
    "randomised_tukey_hsd",
    "residual_variance",
    "run_test",
    "sign_test",
    "t_test_power",
    "topic_matrix",
    "topic_set_size",
    "topic_set_size_anova",
    "topic_set_size_ci",
    "wilcoxon_test",
    "wins_ties_losses",
]
