"""What observer hooks (``on_run_start``, ``on_result``, ``on_run_end``) receive."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunInfo:
    """One run as observers see it.

    :param kind: what runs: ``"eval"``, ``"run"``, ``"train"``, ``"robustness"``, ...
    :param config: the run's parameters as plain data (JSON-serialisable).
    """

    kind: str
    config: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
