"""Figures and score statistics of ``rankarena report``: inline PNGs drawn with matplotlib.

Every figure is returned as a ``data:image/png;base64,...`` URI, so the report stays one
file with no outside resources. matplotlib is imported lazily with the Agg backend; where it
is missing, ``figures_available()`` is False and the report says so instead of drawing.

The score statistics live here too: ``auc_mann_whitney`` (ROC AUC as the Mann–Whitney U
statistic over n_pos·n_neg, ties counted one half) and ``roc_points`` (the ROC curve with one
point per distinct score threshold).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

DPI = 80
MAX_ROC_POINTS = 2_000  # points drawn per ROC curve (the AUC uses every score)


def figures_available() -> bool:
    """True where matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_data_uri(figure) -> str:
    """The figure as an inline PNG (``data:`` URI); closes it."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def file_data_uri(path: str | Path) -> str:
    """A PNG file as an inline ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


# ----------------------------------------------------------------------- score statistics


def auc_mann_whitney(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC = U / (n_pos · n_neg), U the Mann–Whitney statistic of the positives.

    U = (sum of the positives' ranks among all scores, ties given their average rank)
    − n_pos (n_pos + 1) / 2: the number of (positive, negative) pairs the score orders
    correctly, ties counting one half. NaN when either class is empty.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = rankdata(scores)  # average ranks for ties
    u = float(ranks[labels].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def roc_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, from (0, 0) to (1, 1)
    (``sklearn.metrics.roc_curve(..., drop_intermediate=False)``'s points); scores may be
    ``-inf``."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    ordered, hits = scores[order], labels[order]
    last_of_threshold = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    tp = np.cumsum(hits)[last_of_threshold]
    fp = (last_of_threshold + 1) - tp
    n_pos, n_neg = max(int(labels.sum()), 1), max(len(labels) - int(labels.sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


# --------------------------------------------------------------------------------- figures


def score_figure(
    dataset: str,
    scored: Mapping[str, tuple[np.ndarray, np.ndarray]],
    aucs: Mapping[str, float],
    depth: int,
) -> str:
    """One panel per system (score histograms, positives vs pooled non-positives, as
    densities; a positive at ``-inf``, not retrieved, is left out of the histogram and kept
    in the ROC) and one ROC panel with every system; an inline PNG."""
    plt = _pyplot()
    systems = list(scored)
    panels = len(systems) + 1
    columns = min(4, panels)
    lines = math.ceil(panels / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(3.3 * columns, 2.6 * lines), squeeze=False)
    for panel, system in zip(axes.flat, systems, strict=False):
        scores, labels = scored[system]
        finite = np.isfinite(scores)
        scores, labels = scores[finite], labels[finite]
        low, high = float(scores.min()), float(scores.max())
        bins = np.linspace(low, high if high > low else low + 1.0, 41)
        for mask, colour, label in (
            (~labels, "tab:gray", "non-pos."),
            (labels, "tab:green", "pos."),
        ):
            if mask.any():
                counts, edges = np.histogram(scores[mask], bins=bins, density=True)
                panel.stairs(
                    counts,
                    edges,
                    color=colour,
                    label=label,
                    fill=label == "non-pos.",
                    alpha=0.45 if label == "non-pos." else 1.0,
                    linewidth=1.4,
                )
        panel.set_title(f"{system}\nAUC {aucs[system]:.3f}", fontsize=8)
        panel.tick_params(labelsize=7)
        panel.set_yticks([])
    axes.flat[0].legend(fontsize=7)
    roc = axes.flat[len(systems)]
    for system in systems:
        fpr, tpr = roc_points(*scored[system])
        if len(fpr) > MAX_ROC_POINTS:
            keep = np.unique(np.linspace(0, len(fpr) - 1, MAX_ROC_POINTS).astype(int))
            fpr, tpr = fpr[keep], tpr[keep]
        roc.plot(fpr, tpr, linewidth=1.2, label=f"{system} ({aucs[system]:.3f})")
    roc.plot([0, 1], [0, 1], color="black", linewidth=0.6, linestyle=":")
    roc.set_xlabel("false positive rate", fontsize=8)
    roc.set_ylabel("true positive rate", fontsize=8)
    roc.set_title("ROC (AUC)", fontsize=8)
    roc.tick_params(labelsize=7)
    roc.legend(fontsize=6, loc="lower right")
    for panel in list(axes.flat)[panels:]:
        panel.set_visible(False)
    figure.suptitle(
        f"{dataset}: pooled scores, positives vs each query's top {depth} non-positives",
        fontsize=10,
    )
    height = 2.6 * lines
    figure.subplots_adjust(
        left=0.05, right=0.98, bottom=0.45 / height, top=1 - 0.75 / height, hspace=0.75, wspace=0.2
    )
    return to_data_uri(figure)


def sensitivity_figure(systems: Sequence[str], labels: Sequence[str], ranks: np.ndarray) -> str:
    """Rank of every system (lines) under each elimination schedule (x); an inline PNG.

    :param ranks: [systems, schedules], 1 = best.
    """
    plt = _pyplot()
    width = max(5.5, 1.4 * len(labels) + 3.0)
    figure, axis = plt.subplots(figsize=(width, 0.32 * len(systems) + 2.0))
    xs = np.arange(len(labels))
    for row, system in enumerate(systems):
        axis.plot(xs, ranks[row], marker="o", linewidth=1.3)
        axis.annotate(
            system,
            (xs[-1], ranks[row, -1]),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axis.set_xticks(xs, labels, fontsize=8)
    axis.set_xlim(-0.3, len(labels) - 1 + 0.9 + 0.1 * max(len(s) for s in systems) / 4)
    axis.set_ylim(len(systems) + 0.5, 0.5)
    axis.set_yticks(range(1, len(systems) + 1))
    axis.set_ylabel("rank (1 = best)")
    axis.set_xlabel("elimination schedule (mildest first)")
    axis.grid(alpha=0.3)
    height = 0.32 * len(systems) + 2.0
    figure.subplots_adjust(left=0.08, right=0.97, bottom=0.8 / height, top=1 - 0.25 / height)
    return to_data_uri(figure)
