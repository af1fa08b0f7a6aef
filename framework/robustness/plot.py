"""The robustness plot: a metric against perturbation intensity, one line per system.

One panel per perturbation; intensity 0 is the unperturbed run, so every line starts at the
system's original score. Written with matplotlib's non-interactive Agg backend as a PNG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data import atomic_path


def plot_robustness(
    drops: Sequence[dict[str, Any]], metric: str, dataset: str, path: str | Path
) -> Path:
    """Draw ``metric`` vs intensity for ``dataset`` from ``RobustnessReport.drops`` rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in drops if r["metric"] == metric and r["dataset"] == dataset]
    perturbations = list(dict.fromkeys(r["perturbation"] for r in rows))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    if not perturbations:
        raise ValueError(f"no robustness rows for {metric} on {dataset}")
    columns = min(3, len(perturbations))
    lines = (len(perturbations) + columns - 1) // columns
    figure, axes = plt.subplots(
        lines, columns, figsize=(4.2 * columns, 3.2 * lines), squeeze=False, sharey=True
    )
    for panel, perturbation in zip(axes.flat, perturbations, strict=False):
        for system in systems:
            mine = sorted(
                (r for r in rows if r["perturbation"] == perturbation and r["system"] == system),
                key=lambda r: r["intensity"],
            )
            if not mine:
                continue
            xs = [0.0] + [r["intensity"] for r in mine]
            ys = [mine[0]["original"]] + [r["perturbed"] for r in mine]
            panel.plot(xs, ys, marker="o", label=system)
        panel.set_title(perturbation)
        panel.set_xlabel("intensity")
        panel.grid(alpha=0.3)
    for panel in axes[:, 0]:
        panel.set_ylabel(metric)
    for panel in list(axes.flat)[len(perturbations) :]:
        panel.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(f"{dataset}: {metric} under query perturbations")
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return path
