"""What each kind of component must provide: one ``typing.Protocol`` per registry kind.

A protocol lists the members the framework uses unconditionally; the host checks them
(``check_factory`` and ``check_component`` in ``rankarena.core.registry``):

* when a plugin registers a component whose factory is a class, the class must have every
  required *method* (present, callable and not still abstract). Data members (``name``,
  ``target``, ``corpus``) may be set in ``__init__``, and a method may be a per-instance
  field (a dataclass field without a default), so those wait for the object;
* when ``Registry.create`` builds a component, the object must have every required member.
  A function factory can only be checked there.

Members are looked up without running them (``inspect.getattr_static`` style), so a lazy
property (``BeirFolder.corpus``) is not computed by the check; an object whose class
defines ``__getattr__`` (a proxy, a ``torch.nn.Module``) is asked for a member not found
so. Signatures and types are not
checked at run time: the annotations here are for plugin authors and type checkers.

Optional members, used where present, are listed in each protocol's docstring; the two the
framework tests for with ``hasattr`` also have a protocol of their own
(``PairScoringRetriever``, ``PatchableRetriever``). Components and contexts defined above
``core`` (``JudgedRun``, ``MiningContext``) are typed ``Any`` here: a narrower protocol would
make a component that annotates the concrete class fail a static check (parameters are
contravariant), and core may not import upwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from ..data import Corpus, Qrels, Queries, Run
from ..data.score_table import Ranking, ScoreTable
from ..data.training_examples import TrainingExamples

# --------------------------------------------------------------------------------------
# The protocols
# --------------------------------------------------------------------------------------


@runtime_checkable
class Retriever(Protocol):
    """A first-stage retriever (``register_retrievers``).

    Optional members, used where present:

    * ``score_pairs(queries, query_ids, doc_ids) -> np.ndarray`` (``PairScoringRetriever``):
      positive-aware samplers, ``rankarena negatives stats``;
    * ``patched(corpus, changed) -> Retriever`` (``PatchableRetriever``): document
      perturbations and attacks re-index only the changed documents;
    * ``encode_queries(texts) -> np.ndarray`` with ``encoder``, ``embeddings``,
      ``doc_prefix`` and ``with_title``: the surrogate of the topic-oriented attack;
    * class attributes ``not_in_run_key`` (constructor parameters run caches ignore) and
      ``run_key_content(params) -> str`` (a static method: what run cache keys add).
    """

    def index(self, corpus: Corpus) -> Self:
        """Index ``corpus`` and return the retriever itself (callers chain ``.search``)."""
        ...

    def search(self, queries: Queries, k: int) -> Run:
        """The top ``k`` documents of the indexed corpus for every query."""
        ...


@runtime_checkable
class PairScoringRetriever(Retriever, Protocol):
    """A retriever that also scores given (query, document) pairs (optional capability)."""

    def score_pairs(self, queries: Queries, query_ids: list[str], doc_ids: list[str]) -> Any:
        """The scores of pairs ``(query_ids[i], doc_ids[i])``: an array, one per pair."""
        ...


@runtime_checkable
class PatchableRetriever(Retriever, Protocol):
    """A retriever that re-indexes only changed documents (optional capability)."""

    def patched(self, corpus: Corpus, changed: list[str]) -> Retriever:
        """A copy indexed on ``corpus``, which differs from the indexed corpus only in the
        documents ``changed``."""
        ...


@runtime_checkable
class Reranker(Protocol):
    """A second-stage reranker (``register_rerankers``).

    Optional: ``score(pairs) -> np.ndarray`` of (query text, document text) pairs (the
    ``denoised`` sampler uses it when present), ``run_key_content`` as for retrievers.
    """

    def rerank(self, queries: Queries, corpus: Corpus, run: Run, k: int) -> Run:
        """``run``'s top ``k`` documents per query, rescored."""
        ...


@runtime_checkable
class Sampler(Protocol):
    """A hard-negative sampler (``register_samplers``)."""

    def sample(self, context: Any, num_negatives: int) -> TrainingExamples:
        """Training rows mined from ``context`` (a ``rankarena.api.mining.MiningContext``):
        one per (query, shown positive), never a shown positive as a negative."""
        ...


@runtime_checkable
class Loss(Protocol):
    """A training loss (``register_losses``): in practice a ``torch.nn.Module``, which has
    every member below. The trainer moves it to the device, trains its parameters with the
    encoder, calls it on each batch and saves and restores its state with checkpoints.

    Optional: a class attribute ``applies_scale = True`` (the loss scales the similarities
    itself; the trainer then passes them unscaled).
    """

    def __call__(self, scores: Any, targets: Any, mask: Any = None) -> Any:
        """A scalar tensor: ``scores[B, L]`` of each query's candidates, ``targets[B, L]``
        their labels or teacher scores, ``mask[B, L]`` the valid candidates."""
        ...

    def to(self, device: Any) -> Any:
        """Move the loss's parameters and buffers to ``device``."""
        ...

    def parameters(self) -> Iterator[Any]:
        """The loss's own parameters (trained where ``requires_grad``)."""
        ...

    def state_dict(self) -> Mapping[str, Any]:
        """The loss's state, saved with every checkpoint."""
        ...

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> Any:
        """Restore a state given by ``state_dict`` (resuming from a checkpoint)."""
        ...


@runtime_checkable
class Aggregator(Protocol):
    """A leaderboard aggregation rule (``register_aggregators``).

    Optional (the report's sensitivity section reads them of the aggregator named
    ``swiss``): ``sensitivity(scores, schedules)`` and ``DEFAULT_SWEEP``.
    """

    def aggregate(self, scores: ScoreTable) -> Ranking:
        """The systems of ``scores`` ranked (``Ranking.from_scores`` builds one)."""
        ...


@runtime_checkable
class Metric(Protocol):
    """An evaluation metric (``register_metrics``); ``rankarena.Metric`` is a base class
    that provides ``name`` from a ``key`` and a cutoff ``k``.

    Optional: ``summary``, how the per-query values become the run's value (one of
    ``rankarena.evaluate.engine.SUMMARIES``: ``"mean"``, the default; ``"sum"``, as
    trec_eval sums ``num_ret``; ``"exp_mean"``, exp of the mean of per-query logarithms,
    as trec_eval's ``gm_map``).
    """

    @property
    def name(self) -> str:
        """The printed name (``"ndcg@10"``); results are keyed by it."""
        ...

    def per_query(self, judged: Any) -> np.ndarray:
        """One value per evaluated query of ``judged`` (a ``rankarena.JudgedRun``)."""
        ...


MetricLike = Metric
"""What the evaluation engine needs from a metric (the name ``rankarena.evaluate`` uses)."""


@runtime_checkable
class Perturbation(Protocol):
    """A robustness perturbation (``register_perturbations``).

    The robustness runner reads ``target`` off the *factory* before building one (make it a
    class attribute) and passes ``intensity=`` to the factory. Optional: a ``terms``
    keyword of ``apply`` (``{doc_id: query terms}``; such a perturbation needs a
    ``reference`` system in the config).
    """

    @property
    def target(self) -> str:
        """What it perturbs: ``"queries"`` or ``"documents"``."""
        ...

    def apply(self, texts: dict[str, str], rng: np.random.Generator) -> dict[str, str]:
        """The perturbed texts (id → text) drawn with ``rng``; documents: only those
        changed."""
        ...


@runtime_checkable
class Dataset(Protocol):
    """A dataset: what the factory of a dataset source (``register_datasets``) returns.

    Commands open datasets through ``rankarena.core.datasets.open_dataset``, which refuses
    one without any of these members.
    """

    @property
    def name(self) -> str:
        """The dataset's name: the ``dataset`` column of results, the name in logs."""
        ...

    @property
    def corpus(self) -> Corpus:
        """The document collection (an attribute or a property; it may load lazily)."""
        ...

    @property
    def splits(self) -> Sequence[str]:
        """The names of the splits that have judgements."""
        ...

    def queries(self, split: str) -> Queries:
        """The queries judged in ``split``."""
        ...

    def qrels(self, split: str) -> Qrels:
        """The judgements of ``split``; an unknown split is a one-line error naming
        ``splits``."""
        ...

    def fingerprint(self, split: str) -> str:
        """A digest of what a run on ``split`` reads (every document and the split's
        queries): equal for equal content, different whenever any of it changes."""
        ...


DatasetSource = Callable[..., Dataset]
"""A dataset source as registered: a factory whose keyword parameters (``path``) pick the
data and which returns a ``Dataset``."""

PROTOCOLS: dict[str, type] = {
    "retrievers": Retriever,
    "rerankers": Reranker,
    "samplers": Sampler,
    "losses": Loss,
    "aggregators": Aggregator,
    "perturbations": Perturbation,
    "metrics": Metric,
    "datasets": Dataset,
}
"""The protocol of each registry kind."""

HINTS: dict[str, str] = {"losses": "a torch.nn.Module has them all"}
"""A remedy error messages add for a kind, where one fits every case."""

# --------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One required member of a protocol."""

    name: str
    """The attribute name (``search``, ``__call__``, ``name``)."""
    method: bool
    """True: it must be callable; False: a data attribute or property."""
    text: str
    """How error messages show it: ``search(queries, k)``, ``name``."""


def protocol_members(protocol: type) -> tuple[Member, ...]:
    """The members ``protocol`` (or one of its protocol bases) declares, in order."""
    members: dict[str, Member] = {}
    for base in reversed(protocol.__mro__):
        if base in (object, Protocol) or not getattr(base, "_is_protocol", False):
            continue
        for name in vars(base).get("__annotations__", {}):
            if not name.startswith("_"):
                members[name] = Member(name, False, name)
        for name, value in vars(base).items():
            if name.startswith("_") and name != "__call__":
                continue
            if isinstance(value, property):
                members[name] = Member(name, False, name)
            elif inspect.isfunction(value):
                members[name] = Member(name, True, f"{name}({_parameters(value)})")
    return tuple(members.values())


def _parameters(function: Callable[..., Any]) -> str:
    params = list(inspect.signature(function).parameters.values())[1:]  # drop self
    parts = []
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.default is not p.empty:
            parts.append(f"{p.name}={p.default!r}")
        else:
            parts.append(p.name)
    return ", ".join(parts)


_ABSENT = object()


def _class_attribute(cls: type, name: str) -> Any:
    """``name`` as found in ``cls``'s MRO (not its metaclass), without running it."""
    for base in cls.__mro__:
        if name in vars(base):
            return vars(base)[name]
    return _ABSENT


def _object_attribute(obj: object, name: str) -> Any:
    """``name`` of ``obj`` as found in its ``__dict__`` or class, without running it."""
    if isinstance(obj, type):
        return _class_attribute(obj, name)
    try:
        own = object.__getattribute__(obj, "__dict__")
    except AttributeError:  # __slots__
        own = {}
    if name in own:
        return own[name]
    found = _class_attribute(type(obj), name)
    if found is _ABSENT and _class_attribute(type(obj), "__getattr__") is not _ABSENT:
        try:  # dynamic attributes (torch modules' parameters, proxies): ask for real
            return getattr(obj, name)
        except Exception:
            return _ABSENT
    return found


def _method_problem(value: Any) -> str | None:
    """Why ``value`` (a class or object attribute) does not serve as a method, or None."""
    if value is _ABSENT:
        return "missing"
    if getattr(value, "__isabstractmethod__", False):
        return "abstract"
    if callable(value) or hasattr(type(value), "__get__"):  # functions, class/static methods
        return None
    return "not callable"


def _describe(member: Member, problem: str) -> str:
    return member.text if problem == "missing" else f"{member.text} ({problem})"


def _declared_per_instance(cls: type, name: str) -> bool:
    """True where ``cls`` declares ``name`` without a class-level value: an annotation
    (a dataclass field without a default) or a slot, set on each instance."""
    for base in cls.__mro__:
        if name in vars(base).get("__annotations__", {}):
            return True
        slots = vars(base).get("__slots__", ())
        if name in ((slots,) if isinstance(slots, str) else slots):
            return True
    return False


def missing_class_members(kind: str, cls: type) -> list[str]:
    """The required methods of ``kind`` that class ``cls`` lacks, as error messages show
    them; ``[]`` when none or ``kind`` has no protocol. Data members, and methods declared
    per instance (an annotated field without a default, a slot), are left to the built
    object."""
    protocol = PROTOCOLS.get(kind)
    if protocol is None:
        return []
    missing = []
    for member in protocol_members(protocol):
        if not member.method:
            continue
        value = _class_attribute(cls, member.name)
        if value is _ABSENT and _declared_per_instance(cls, member.name):
            continue
        problem = _method_problem(value)
        if problem is not None:
            missing.append(_describe(member, problem))
    return missing


def missing_members(kind: str, component: object) -> list[str]:
    """The required members of ``kind`` that the built ``component`` lacks, as error
    messages show them; ``[]`` when none or ``kind`` has no protocol."""
    protocol = PROTOCOLS.get(kind)
    if protocol is None:
        return []
    missing = []
    for member in protocol_members(protocol):
        if member.name == "__call__":
            problem = None if callable(component) else "missing"
        else:
            value = _object_attribute(component, member.name)
            if not member.method:
                problem = "missing" if value is _ABSENT else None
            else:
                problem = _method_problem(value)
        if problem is not None:
            missing.append(_describe(member, problem))
    return missing


__all__ = [
    "HINTS",
    "PROTOCOLS",
    "Aggregator",
    "Dataset",
    "DatasetSource",
    "Loss",
    "Member",
    "Metric",
    "MetricLike",
    "PairScoringRetriever",
    "PatchableRetriever",
    "Perturbation",
    "Reranker",
    "Retriever",
    "Sampler",
    "missing_class_members",
    "missing_members",
    "protocol_members",
]
