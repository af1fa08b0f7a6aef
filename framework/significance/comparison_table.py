"""The rows of ``rankarena compare`` and how they are written: Arrow (Parquet, CSV),
Markdown and LaTeX."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import ParameterError

COLUMNS: dict[str, pa.DataType] = {
    "dataset": pa.string(),
    "split": pa.string(),
    "metric": pa.string(),
    "system": pa.string(),
    "versus": pa.string(),
    "queries": pa.int64(),
    "mean": pa.float64(),
    "mean_versus": pa.float64(),
    "difference": pa.float64(),
    "difference_low": pa.float64(),
    "difference_high": pa.float64(),
    "d_z": pa.float64(),
    "d_z_low": pa.float64(),
    "d_z_high": pa.float64(),
    "wins": pa.int64(),
    "ties": pa.int64(),
    "losses": pa.int64(),
    "test": pa.string(),
    "statistic": pa.float64(),
    "p_value": pa.float64(),
    "correction": pa.string(),
    "p_adjusted": pa.float64(),
    "significant": pa.bool_(),
}
"""One row per comparison: ``difference = mean - mean_versus`` (of ``system`` minus
``versus``) with its interval, Cohen's ``d_z`` with its interval (NaN when the differences
have no variance), the per-query wins / ties / losses of ``system``, the test's statistic
and p-value, and the p-value adjusted over the family (dataset, split, metric)."""

FORMATS = (".csv", ".parquet", ".md", ".tex")
"""The suffixes ``ComparisonTable.write`` takes."""


def shown_columns(confidence: float) -> tuple[str, ...]:
    """The titles of the columns a readable table shows (``display_cells``)."""
    ci = f"[{confidence:.0%} CI]"
    return ("system", "versus", f"Δ {ci}", f"d_z {ci}", "W/T/L", "p", "p adj.")


def _number(value: float, digits: int = 4) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.2e}" if value < 1e-3 else f"{value:.4f}")


def interval_cell(row: dict[str, Any], column: str) -> str:
    """``value [low, high]`` of ``difference`` or ``d_z``."""
    value, low, high = row[column], row[f"{column}_low"], row[f"{column}_high"]
    if math.isnan(value):
        return "–"
    return f"{_number(value)} [{_number(low)}, {_number(high)}]"


def display_cells(row: dict[str, Any]) -> list[str]:
    """A row as the shown columns' text (``shown_columns``); ``*`` marks a significant
    adjusted p-value."""
    return [
        row["system"],
        row["versus"],
        interval_cell(row, "difference"),
        interval_cell(row, "d_z"),
        f"{row['wins']}/{row['ties']}/{row['losses']}",
        _p(row["p_value"]),
        _p(row["p_adjusted"]) + (" *" if row["significant"] else ""),
    ]


class ComparisonTable:
    """The comparisons of every family, in order; ``alpha`` marks the significant ones,
    ``confidence`` is the intervals' level."""

    def __init__(self, rows: Sequence[dict[str, Any]], alpha: float, confidence: float = 0.95):
        self.rows = [{name: row[name] for name in COLUMNS} for row in rows]
        self.alpha = alpha
        self.confidence = confidence

    def families(self) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
        """(dataset, split, metric) → its rows."""
        out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in self.rows:
            out.setdefault((row["dataset"], row["split"], row["metric"]), []).append(row)
        return out

    def to_arrow(self) -> pa.Table:
        """One row per comparison, ``COLUMNS``."""
        schema = pa.schema(list(COLUMNS.items()))
        return pa.Table.from_pylist(self.rows, schema=schema)

    def caption(self, key: tuple[str, str, str], rows: list[dict[str, Any]]) -> str:
        """A family's title: where, what, how many queries, which test and correction."""
        dataset, split, metric = key
        where = f"{dataset}/{split}" if split else dataset
        first = rows[0]
        return (
            f"{where}, {metric}, {first['queries']} queries: {first['test']}, "
            f"{first['correction']} correction; * adjusted p < {self.alpha:g}"
        )

    def to_markdown(self) -> str:
        """One Markdown table per family, under a caption line."""
        out = []
        titles = shown_columns(self.confidence)
        for key, rows in self.families().items():
            out.append(f"**{self.caption(key, rows)}**\n")
            out.append("| " + " | ".join(titles) + " |")
            out.append("|" + "|".join(" --- " for _ in titles) + "|")
            for row in rows:
                cells = [c.replace("|", "\\|") for c in display_cells(row)]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
        return "\n".join(out)

    def to_latex(self) -> str:
        """One ``tabular`` (booktabs rules) per family in a ``table`` with its caption."""
        out = []
        titles = shown_columns(self.confidence)
        for key, rows in self.families().items():
            out.append("\\begin{table}[t]\n\\centering")
            out.append(f"\\caption{{{_latex(self.caption(key, rows))}}}")
            out.append("\\begin{tabular}{ll" + "r" * (len(titles) - 2) + "}\n\\toprule")
            out.append(" & ".join(_latex(title) for title in titles) + " \\\\\n\\midrule")
            for row in rows:
                out.append(" & ".join(_latex(c) for c in display_cells(row)) + " \\\\")
            out.append("\\bottomrule\n\\end{tabular}\n\\end{table}\n")
        return "\n".join(out)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write atomically as the suffix says: ``.csv``, ``.parquet``, ``.md``, ``.tex``."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        from ..data import atomic_path, atomic_write

        path = Path(path)
        if path.suffix not in FORMATS:
            raise ParameterError(f"{path}: the output must end in {', '.join(FORMATS)}")
        if path.suffix in (".md", ".tex"):
            with atomic_write(path) as handle:
                handle.write(self.to_markdown() if path.suffix == ".md" else self.to_latex())
        else:
            with atomic_path(path) as tmp:
                if path.suffix == ".parquet":
                    pq.write_table(self.to_arrow(), tmp)
                else:
                    pacsv.write_csv(self.to_arrow(), tmp)


_LATEX_SPECIAL = {
    "\\": "\\textbackslash{}",
    "&": "\\&",
    "%": "\\%",
    "$": "\\$",
    "#": "\\#",
    "_": "\\_",
    "{": "\\{",
    "}": "\\}",
    "~": "\\textasciitilde{}",
    "^": "\\textasciicircum{}",
    "Δ": "$\\Delta$",
    "–": "--",
}


def _latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
