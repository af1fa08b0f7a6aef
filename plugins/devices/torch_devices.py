"""Built-in device reports: ``cpu`` always; ``cuda:N`` and ``mps`` where torch sees them.

Priorities: cuda 100 (highest index last, so ``cuda:0`` wins ties), mps 50, cpu 0.
"""

from __future__ import annotations

import rankarena
from rankarena import DeviceReport


@rankarena.hookimpl
def report_devices() -> list[DeviceReport]:
    reports = [DeviceReport("cpu", priority=0, dtypes=("fp32", "bf16"), description="CPU")]
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return reports
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            major, _ = torch.cuda.get_device_capability(index)
            dtypes = ("bf16", "fp16", "fp32") if major >= 8 else ("fp16", "fp32")
            reports.append(
                DeviceReport(
                    f"cuda:{index}",
                    priority=100 - index,
                    dtypes=dtypes,
                    description=torch.cuda.get_device_name(index),
                )
            )
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        reports.append(
            DeviceReport("mps", priority=50, dtypes=("fp16", "fp32"), description="Apple GPU")
        )
    return reports
