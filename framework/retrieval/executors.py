"""Executors: where the cells of a run (one system on one dataset) are computed.

An executor maps a function over cells and streams ``(cell, result)`` pairs back in the
order the cells *finish*; the caller (the driver process) stores each result as it
arrives, so an interrupted run keeps every finished cell::

    executor = make_executor("local")            # or "ray", {"address": "auto"}
    for cell, result in executor.map(fn, cells, resources=lambda cell: Resources(1)):
        store(cell, result)
    executor.close()

``LocalExecutor`` (the default) calls ``fn`` in this process, one cell after the other;
``LocalExecutor(processes=N)`` spreads cells over N spawned processes instead (for
CPU-bound cells; ``fn`` and the cells must then pickle). ``RayExecutor``
(``rankarena.retrieval.ray_executor``, the ``ray`` extra) makes each cell a Ray task with the
resources it declares and retries cells whose worker died.

``map_actors`` is the stateful variant: a few workers each build an object once
(e.g. a loaded bi-encoder) and then process items; ``encode_sharded`` uses it to encode a
corpus in contiguous shards, one shard per worker.

While a run computes its cells, the executor is *active* (``use_executor``;
``current_executor()`` returns it, also inside a Ray task, where it is the task's handle on
the same cluster): components that can spread their own work over workers, such as
``dense`` with ``shards > 1``, use it.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..errors import ParameterError
from .resources import Resources, ResourceSpec

C = TypeVar("C")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs a function over cells, streaming ``(cell, result)`` pairs as cells finish.

    ``remote`` is true when ``fn`` runs outside the calling process: then ``fn``, the cells
    and the results must pickle, and plugins registered only in this process are not seen.
    """

    remote: bool

    def map(
        self, fn: Callable[[C], R], cells: Iterable[C], resources: ResourceSpec = None
    ) -> Iterator[tuple[C, R]]:
        """``(cell, fn(cell))`` for every cell, in the order the cells finish."""
        ...

    def map_actors(
        self,
        factory: Callable[[], Any],
        method: str,
        items: Iterable[Any],
        actors: int,
        resources: Resources | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """``(item, getattr(worker, method)(item))`` for every item, where up to ``actors``
        workers are each built once with ``factory()``; in the order items finish."""
        ...

    def close(self) -> None:
        """Release workers (and a cluster connection the executor opened itself)."""
        ...

    def worker_spec(self) -> tuple[str, dict[str, Any]] | None:
        """``(name, options)`` with which a cell running on one of this executor's workers
        builds a handle on the same executor (``make_executor``), or ``None``. Optional:
        an executor without it gives remote cells no current executor."""
        ...


class LocalExecutor:
    """Cells in this process, one after the other (``processes=0``, the default), or in a
    pool of ``processes`` spawned worker processes (resources are not enforced locally)."""

    def __init__(self, processes: int = 0):
        if processes < 0:
            raise ParameterError(f"executor 'local': processes must be >= 0, got {processes}")
        self.processes = processes
        self.remote = processes > 0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # torch and fork do not mix
            self._pool = concurrent.futures.ProcessPoolExecutor(self.processes, context)
        return self._pool

    def map(
        self, fn: Callable[[C], R], cells: Iterable[C], resources: ResourceSpec = None
    ) -> Iterator[tuple[C, R]]:
        if not self.processes:
            for cell in cells:
                yield cell, fn(cell)
            return
        pool = self._executor()
        futures = {pool.submit(fn, cell): cell for cell in cells}
        try:
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def map_actors(
        self,
        factory: Callable[[], Any],
        method: str,
        items: Iterable[Any],
        actors: int = 1,
        resources: Resources | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        if not self.processes:  # one worker object, built once, in this process
            worker = None
            for item in items:
                worker = factory() if worker is None else worker
                yield item, getattr(worker, method)(item)
            return
        call = _ActorCall(factory, method)  # a pool process builds its worker once
        yield from self.map(call, items)

    def worker_spec(self) -> None:
        """``None``: a pool process computes its cell in that process."""
        return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


class _ActorCall:
    """``getattr(factory(), method)(item)``, the worker object built once per process."""

    _workers: dict[tuple[str, str, str], Any] = {}  # noqa: RUF012 (per-process cache of worker objects)

    def __init__(self, factory: Callable[[], Any], method: str):
        self.factory, self.method = factory, method

    def __call__(self, item: Any) -> Any:
        key = (type(self.factory).__qualname__, repr(self.factory), self.method)
        if key not in self._workers:
            self._workers[key] = self.factory()
        return getattr(self._workers[key], self.method)(item)


def make_executor(name: str | Executor | None = "local", options: Mapping[str, Any] | None = None):
    """The executor called ``name`` (``local`` or ``ray``), built with ``options``.

    ``local`` takes ``processes``; ``ray`` takes ``address``, ``num_cpus``,
    ``num_gpus_per_task`` and ``max_retries`` (see ``rankarena.retrieval.ray_executor``). An
    executor
    object is returned as it is.
    """
    if name is None:
        name = "local"
    if not isinstance(name, str):
        return name
    options = dict(options or {})
    if name == "local":
        return LocalExecutor(**options)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise ParameterError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")


# ------------------------------------------------------------------ the active executor

_ACTIVE: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "rankarena_executor", default=None
)


@contextmanager
def use_executor(executor: Executor | None) -> Iterator[Executor | None]:
    """Make ``executor`` the one ``current_executor()`` returns inside the ``with`` block."""
    token = _ACTIVE.set(executor)
    try:
        yield executor
    finally:
        _ACTIVE.reset(token)


@contextmanager
def run_executor(
    executor: str | Executor | None, ray_options: Mapping[str, Any] | None = None
) -> Iterator[Executor]:
    """The executor a run computes its cells with, current inside the ``with`` block:
    built from a name (``ray`` with ``ray_options``) and closed at the end, or the given
    executor object, left open."""
    built = make_executor(executor, ray_options if executor == "ray" else None)
    try:
        with use_executor(built):
            yield built
    finally:
        if built is not executor:
            built.close()


def current_executor() -> Executor | None:
    """The executor of the run computing the current cell (``None`` outside a run)."""
    return _ACTIVE.get()


# ------------------------------------------------------------------ sharded encoding


@dataclass(frozen=True)
class EncoderSpec:
    """How to build a ``BiEncoder`` (in a worker): the constructor's arguments."""

    model: str = "minilm"
    device: str = "cpu"
    max_length: int | None = None
    batch_size: int = 32
    dtype: str = "fp32"

    def build(self):
        from .bi_encoder import BiEncoder

        return BiEncoder(self.model, self.device, self.max_length, self.batch_size, self.dtype)


class _ShardEncoder:
    """A worker holding one ``BiEncoder``; ``encode((start, texts))`` → ``(start, vectors)``."""

    def __init__(self, spec: EncoderSpec):
        self.encoder = spec.build()

    def encode(self, shard: tuple[int, list[str]]) -> np.ndarray:
        return self.encoder.encode(shard[1])


@dataclass(frozen=True)
class _EncoderFactory:
    spec: EncoderSpec

    def __call__(self) -> _ShardEncoder:
        return _ShardEncoder(self.spec)


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ``(start, stop)`` ranges covering ``range(n)``, sizes within one."""
    if shards < 1:
        raise ParameterError(f"shards must be >= 1, got {shards}")
    edges = np.linspace(0, n, min(shards, max(n, 1)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in pairwise(edges)]


def encode_sharded(
    model: EncoderSpec | str,
    texts: list[str],
    shards: int,
    executor: Executor | None = None,
    resources: Resources | None = None,
) -> np.ndarray:
    """``BiEncoder.encode(texts)``, computed as ``shards`` contiguous shards, each encoded by
    a worker (a Ray actor under ``RayExecutor``) that holds its own ``BiEncoder``.

    :param model: an ``EncoderSpec`` (or a model name: CPU, fp32, the model's max length).
    :param resources: per worker; default one CPU, plus one GPU when ``model.device`` is a
        CUDA device.
    """
    spec = EncoderSpec(model) if isinstance(model, str) else model
    executor = executor or LocalExecutor()
    if resources is None:
        gpu = spec.device.startswith("cuda")
        resources = Resources(num_cpus=1, num_gpus=1 if gpu else 0)
        if gpu and executor.remote:  # each actor sees its own GPU as cuda:0
            spec = EncoderSpec(**{**spec.__dict__, "device": "cuda"})
    bounds = shard_bounds(len(texts), shards)
    items = [(start, texts[start:stop]) for start, stop in bounds]
    parts: dict[int, np.ndarray] = {}
    for (start, _), vectors in executor.map_actors(
        _EncoderFactory(spec), "encode", items, actors=len(items), resources=resources
    ):
        parts[start] = vectors
    return np.concatenate([parts[start] for start, _ in bounds])
