"""rankarena: a pluggy plugin framework for neural retrieval work.

The public API: the plugin host (``plugin_manager``, ``hookimpl``), the Arrow data model
(``Corpus``, ``Queries``, ``Qrels``, ``Run``, ``Results``) and the evaluation engine
(``evaluate``).
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("rankarena")
"""Marker for plugin hook implementations: ``@rankarena.hookimpl``."""

from rankarena.data import Corpus, Qrels, Queries, Results, Run  # noqa: E402
from rankarena.devices import DeviceReport, select_device  # noqa: E402
from rankarena.errors import (  # noqa: E402
    DataFormatError,
    ParameterError,
    PluginError,
    RankarenaError,
    UnknownNameError,
)
from rankarena.evaluate import Evaluation, JudgedRun, Metric, evaluate  # noqa: E402
from rankarena.host import PluginHost, plugin_manager  # noqa: E402
from rankarena.observe import RunInfo  # noqa: E402
from rankarena.scoretable import Ranking, ScoreTable  # noqa: E402

__version__ = "0.1.0"

__all__ = [
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
    "evaluate",
    "hookimpl",
    "plugin_manager",
    "select_device",
]
