"""``RayExecutor``: cells as Ray tasks, stateful workers as Ray actors (the ``ray`` extra).

Connects to ``address`` (``"auto"``, ``"ray://HOST:10001"``), else to ``RAY_ADDRESS``,
else starts a local Ray instance with ``num_cpus`` cores; an already initialised Ray
(``ray.init`` called by the caller) is used as it is and left running by ``close()``.

Every cell is one task with the resources its ``Resources`` declare: ``num_cpus_per_task``
overrides the CPUs, ``num_gpus_per_task`` the GPUs of cells that run torch work on a device
(``Resources.uses_device``; fractions pack several cells onto one GPU). A task whose worker
dies (out of memory, a lost node, ``os._exit``) is retried up to ``max_retries`` times;
exceptions raised by the cell itself are not retried (they would raise again).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..errors import RankarenaError
from .resources import Resources, ResourceSpec, resources_of


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RankarenaError(
            "executor 'ray' needs Ray, which is not installed: pip install 'rankarena[ray]'"
        ) from None
    return ray


def _call(fn: Callable[[Any], Any], cell: Any) -> Any:
    return fn(cell)


class _Worker:
    """A Ray actor holding ``factory()``; ``call(method, item)`` calls a method of it."""

    def __init__(self, factory: Callable[[], Any]):
        self.target = factory()

    def call(self, method: str, item: Any) -> Any:
        return getattr(self.target, method)(item)


class RayExecutor:
    """Cells as Ray tasks (see the module docstring).

    :param address: the cluster (``"auto"``, ``"ray://HOST:10001"``); default ``RAY_ADDRESS``
        or a new local instance.
    :param num_cpus: cores of a local instance this executor starts (default: all).
    :param num_cpus_per_task: CPUs each cell reserves (default: what the cell declares, 1).
    :param num_gpus_per_task: GPUs each device-using cell reserves (default: 1 where the
        driver's device hook reports a CUDA device, else 0).
    :param max_retries: retries of a cell whose worker died.
    """

    remote = True

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        num_cpus_per_task: float | None = None,
        num_gpus_per_task: float | None = None,
        max_retries: int = 3,
    ):
        ray = _import_ray()
        self.ray = ray
        self.num_cpus_per_task = num_cpus_per_task
        self.num_gpus_per_task = num_gpus_per_task
        self.max_retries = int(max_retries)
        self._started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            kwargs: dict[str, Any] = {"include_dashboard": False}
            if address is None and num_cpus is not None:
                kwargs["num_cpus"] = num_cpus
            ray.init(address=address, **kwargs)
            self._started = True
        self._task = ray.remote(_call)
        self._actor = ray.remote(_Worker)

    def _options(self, resources: Resources) -> dict[str, float]:
        cpus = resources.num_cpus
        if self.num_cpus_per_task is not None:
            cpus = self.num_cpus_per_task
        gpus = resources.num_gpus
        if resources.uses_device and self.num_gpus_per_task is not None:
            gpus = self.num_gpus_per_task
        return {"num_cpus": cpus, "num_gpus": gpus}

    def _stream(self, pending: dict[Any, Any]) -> Iterator[tuple[Any, Any]]:
        ray = self.ray
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    yield item, self._get(ref, item)
        finally:
            for ref in pending:  # the consumer stopped early (an error, an interrupt)
                ray.cancel(ref, force=True)

    def _get(self, ref, item) -> Any:
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RankarenaError):
                raise cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.RayActorError) as exc:
            raise RankarenaError(
                f"executor 'ray': the worker of {item!r} died "
                f"({self.max_retries} retries spent): {type(exc).__name__}"
            ) from None

    def map(
        self, fn: Callable[[Any], Any], cells: Iterable[Any], resources: ResourceSpec = None
    ) -> Iterator[tuple[Any, Any]]:
        fn_ref = self.ray.put(fn)  # shipped once, not once per cell
        pending = {}
        for cell in cells:
            options = self._options(resources_of(resources, cell))
            task = self._task.options(max_retries=self.max_retries, **options)
            pending[task.remote(fn_ref, cell)] = cell
        return self._stream(pending)

    def map_actors(
        self,
        factory: Callable[[], Any],
        method: str,
        items: Iterable[Any],
        actors: int = 1,
        resources: Resources | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        items = list(items)
        if not items:
            return iter(())
        options = self._options(resources or Resources())
        actor = self._actor.options(
            max_restarts=self.max_retries, max_task_retries=self.max_retries, **options
        )
        handles = [actor.remote(factory) for _ in range(max(1, min(actors, len(items))))]
        pending = {
            handles[i % len(handles)].call.remote(method, item): item
            for i, item in enumerate(items)
        }

        def stream() -> Iterator[tuple[Any, Any]]:
            try:
                yield from self._stream(pending)
            finally:
                for handle in handles:
                    self.ray.kill(handle)

        return stream()

    def worker_spec(self) -> tuple[str, dict[str, Any]]:
        """A cell running in a Ray task builds ``RayExecutor`` with these options: Ray is
        initialised there, so it joins the same cluster (and never shuts it down)."""
        options = {
            "num_cpus_per_task": self.num_cpus_per_task,
            "num_gpus_per_task": self.num_gpus_per_task,
            "max_retries": self.max_retries,
        }
        return "ray", options

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False
