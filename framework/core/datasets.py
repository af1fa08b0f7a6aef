"""Dataset references: the one way a command turns what a user wrote into a dataset.

A *reference* is what a run config's ``datasets``, ``--dataset`` and a train or mine
config's ``dataset`` hold:

- ``SOURCE:ARGUMENT`` where ``SOURCE`` is a registered dataset source
  (``register_datasets``): that source's factory opens ``ARGUMENT`` (``example:tiny``);
- anything else, the built-in ``beir`` source as always: an existing folder (``C:`` or
  ``x:y`` in its name is fine), a catalog name such as ``scifact``
  (``rankarena.data.catalog.resolve_dataset``), or the same written ``beir:ARGUMENT``;
- ``suite:NAME`` stands for several datasets: run configs expand it
  (``rankarena.data.catalog.expand_suites``); where one dataset is expected it is an error
  that lists the suite's datasets. ``suite`` is therefore never a source name.

A prefix that no plugin registered (``xyz:foo``, not an existing folder) is a one-line
``UnknownNameError`` listing the registered sources.

``open_dataset(host, reference)`` opens a dataset through the host's ``datasets``
registry; ``dataset_content(dataset, split)`` is the digest that run cache keys hold
(a BEIR folder's own ``fingerprint``, unchanged; for any other source its fingerprint and
the framework's own digest of the corpus and the split's queries).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..data.beir import BeirFolder
from ..data.catalog import SUITE_PREFIX, expand_suites, resolve_dataset
from ..data.fingerprint import content_fingerprint
from ..errors import ParameterError, PluginError, RankarenaError, UnknownNameError

BEIR_SOURCE = "beir"
SUITE = SUITE_PREFIX.rstrip(":")
_PREFIX = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.+-]*):(.*)", re.DOTALL)


def split_reference(reference: str, base: str | Path | None = None) -> tuple[str, str]:
    """``(source, argument)`` of a reference, by its syntax alone (no registry asked).

    An existing folder (absolute, or relative to ``base``; default: the current folder),
    a reference without a ``NAME:`` prefix and a drive letter (``C:/data``) are
    ``("beir", reference)``; ``beir:ARGUMENT`` is ``("beir", ARGUMENT)``; any other
    ``NAME:ARGUMENT`` is ``(NAME, ARGUMENT)`` (``suite`` included).
    """
    path = Path(reference).expanduser()
    folder = path if path.is_absolute() or base is None else Path(base) / path
    if reference and folder.is_dir():
        return BEIR_SOURCE, reference
    match = _PREFIX.fullmatch(reference)
    if match is None:
        return BEIR_SOURCE, reference
    source, argument = match.groups()
    if len(source) == 1 and argument.startswith(("/", "\\")):  # a Windows drive
        return BEIR_SOURCE, reference
    return source, argument


def check_reference(host, reference: str, base: str | Path | None = None) -> tuple[str, str]:
    """``split_reference``, checked against ``host``'s dataset sources (nothing is opened):
    a suite or an unregistered prefix is a one-line error."""
    source, argument = split_reference(reference, base)
    if source == BEIR_SOURCE:
        return source, argument
    if source == SUITE:
        datasets = expand_suites([reference])  # an unknown suite: UnknownNameError
        raise ParameterError(
            f"dataset {reference!r} is a suite of {len(datasets)} datasets "
            f"({', '.join(datasets)}); only a run config's datasets take suite:NAME, "
            "give one dataset here"
        )
    if source not in host.datasets:
        error = UnknownNameError("dataset source", source, host.datasets.names())
        error.message = (
            f"{error.message} (in dataset {reference!r}; a folder path or a catalog name "
            "takes no prefix)"
        )
        raise error
    return source, argument


def open_dataset(host, reference: str, *, base: str | Path | None = None) -> Any:
    """The dataset ``reference`` names (see the module docstring), opened through ``host``'s
    ``datasets`` registry.

    :param host: the ``PluginHost`` whose dataset sources are used.
    :param reference: ``SOURCE:ARGUMENT``, a BEIR folder path or a catalog name.
    :param base: the folder that relative BEIR folder paths are relative to (default: the
        current folder).
    :raises RankarenaError: one line: an unknown source or suite, a folder or name that
        does not resolve, a source that fails or returns something that is not a dataset.
    """
    source, argument = check_reference(host, reference, base)
    if source == BEIR_SOURCE:
        path = argument if base is None else str(resolve_dataset(argument, base=Path(base)))
        dataset = host.datasets.create(BEIR_SOURCE, path=path)
    else:
        dataset = _from_source(host, source, argument)
    return dataset


def _from_source(host, source: str, argument: str) -> Any:
    """``source``'s factory with ``argument`` as its first parameter (none if empty)."""
    spec = host.datasets.get(source)
    named = spec.parameters
    params = {}
    if argument:
        if not named:
            raise ParameterError(
                f"dataset source {source!r} takes no argument; write {source + ':'!r}"
            )
        params[named[0].name] = argument
    elif named and named[0].required:
        raise ParameterError(
            f"dataset source {source!r} needs an argument ({named[0].name}): write "
            f"{source}:{named[0].name.upper()}"
        )
    try:
        return host.datasets.create(source, **params)
    except RankarenaError:
        raise
    except Exception as exc:  # a plugin's bug: one line naming the plugin, not a traceback
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise PluginError(
            f"dataset source {source!r} (plugin {spec.plugin!r}) failed to open "
            f"{argument!r}: {reason}"
        ) from exc


def dataset_content(dataset: Any, split: str) -> str:
    """The digest of what a run on ``dataset``'s ``split`` reads, as run cache keys hold it.

    A BEIR folder: its ``fingerprint(split)`` (``corpus.jsonl``'s bytes and the split's
    queries), exactly as before, so existing cached runs keep their keys. Any other
    dataset: its own ``fingerprint(split)`` together with the framework's digest of its
    corpus and of the split's queries (``content_fingerprint``), so that a cached run is
    not reused after the content changed, even if the source's fingerprint missed it.
    """
    if isinstance(dataset, BeirFolder):
        return dataset.fingerprint(split)
    return content_fingerprint(dataset, split)
