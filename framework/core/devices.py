"""Device reports from plugins and the host's choice among them.

Every plugin may implement ``report_devices()``; the built-in ``devices`` plugin reports
``cpu`` and whatever torch sees (``cuda:N``, ``mps``). The host picks the highest priority,
or the device the user named with ``--device``; components receive that device and never
choose one themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import ParameterError, UnknownNameError


@dataclass(frozen=True)
class DeviceReport:
    """One device a plugin can drive.

    :param name: a torch device string (``"cpu"``, ``"cuda:0"``, ``"mps"``) or a plugin's own.
    :param priority: higher wins when the host chooses; built-ins use cpu=0, mps=50, cuda=100.
    :param dtypes: floating-point dtypes worth using there, fastest first (``"bf16"``, ...).
    :param plugin: filled in by the host with the reporting plugin's name.
    """

    name: str
    priority: int = 0
    dtypes: tuple[str, ...] = ("fp32",)
    description: str = ""
    plugin: str = field(default="", compare=False)


def select_device(reports: Iterable[DeviceReport], override: str | None = None) -> DeviceReport:
    """Choose a device: ``override`` if given (it must be reported), else the top priority.

    Ties in priority go to the device reported first (plugin load order).
    """
    reports = list(reports)
    if override is not None:
        for report in reports:
            if report.name == override:
                return report
        # "cuda" means the first CUDA device reported
        for report in reports:
            if report.name.split(":")[0] == override:
                return report
        raise UnknownNameError("device", override, [r.name for r in reports])
    if not reports:
        return DeviceReport("cpu", 0, description="no plugin reported a device")
    best = reports[0]
    for report in reports[1:]:
        if report.priority > best.priority:
            best = report
    return best


def choose_dtype(
    requested: str, report: DeviceReport, known: Iterable[str] = ("fp32", "fp16", "bf16")
) -> str:
    """``requested``, or for ``auto`` the first dtype of ``known`` that ``report`` lists
    (``fp32`` where it lists none). A dtype the device does not report is a one-line
    ``ParameterError`` listing those it does."""
    known = set(known)
    supported = [d for d in report.dtypes if d in known] or ["fp32"]
    if requested == "auto":
        return supported[0]
    if requested not in supported:
        raise ParameterError(
            f"device {report.name} does not report {requested}; it reports: {', '.join(supported)}"
        )
    return requested
