"""rankarena: a pluggy plugin framework for neural retrieval work.

The public API: the plugin host (``plugin_manager``, ``hookimpl``), the Arrow data model
(``Corpus``, ``Queries``, ``Qrels``, ``Run``, ``Results``), the qrels file reader
(``read_qrels``: TREC or BEIR TSV) and the evaluation engine (``evaluate``):
``rankarena.evaluate(run, rankarena.read_qrels("x.qrels"), ["ndcg@10"])``.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("rankarena")
"""Marker for plugin hook implementations: ``@rankarena.hookimpl``."""

from .core import hookspecs  # noqa: E402
from .core.devices import DeviceReport, select_device  # noqa: E402
from .core.host import PluginHost, plugin_manager  # noqa: E402
from .core.observe import RunInfo  # noqa: E402
from .data import Corpus, Qrels, Queries, Results, Run, read_qrels  # noqa: E402
from .data.score_table import BordaBasis, Ranking, ScoreTable  # noqa: E402
from .errors import (  # noqa: E402
    DataFormatError,
    ParameterError,
    PluginError,
    RankarenaError,
    UnknownNameError,
)
from .evaluate import Evaluation, JudgedRun, Metric, evaluate  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "compare": "rankarena.significance.compare",
    "Comparison": "rankarena.significance.compare",
}
"""Names imported on first use (PEP 562): significance testing imports scipy.stats (half a
second), which ``rankarena eval`` and the plugin host do not need."""


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rankarena' has no attribute {name!r}")


__all__ = [
    "BordaBasis",
    "Comparison",
    "Corpus",
    "DataFormatError",
    "DeviceReport",
    "Evaluation",
    "JudgedRun",
    "Metric",
    "ParameterError",
    "PluginError",
    "PluginHost",
    "Qrels",
    "Queries",
    "RankarenaError",
    "Ranking",
    "Results",
    "Run",
    "RunInfo",
    "ScoreTable",
    "UnknownNameError",
    "compare",
    "evaluate",
    "hookimpl",
    "hookspecs",
    "plugin_manager",
    "read_qrels",
    "select_device",
]
