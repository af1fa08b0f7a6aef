"""Conformance rules of dataset sources (``register_datasets``): the dataset one opens is
checked, then given to the real ``rankarena run`` and ``rankarena eval``.

* ``opens``: ``SOURCE:ARGUMENT`` opens (through ``open_dataset``, as every command does) to
  an object with every member of the ``Dataset`` protocol;
* ``splits``: at least one split, each with queries and judgements; every judged query is
  among the split's queries, and some judged document is in the corpus;
* ``unknown-split``: ``qrels`` of a split that does not exist is a one-line
  ``RankarenaError``;
* ``fingerprint``: a ``str``, the same when asked again and when the dataset is opened
  again;
* ``run-and-eval``: ``rankarena run`` (BM25, nDCG@10, on the first split) and ``rankarena
  eval`` (of the perfect run, which must score nDCG@10 = 1) accept the reference.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from ..core.datasets import open_dataset
from ..core.host import PluginHost, plugin_manager
from ..data import Run
from ..data.trec import write_trec_run
from ..errors import RankarenaError
from .rules import Checklist, broken, require

SPLIT_THAT_IS_NOT = "no-such-split-rankarena-kit"


def _cli(args: list[str]) -> tuple[int, str]:
    """``rankarena ARGS`` in this process: (exit status, what it printed)."""
    from ..cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main(args)
    return int(status or 0), out.getvalue()


def check_dataset_source(source: str, argument: str = "", *, host: PluginHost | None = None):
    """Check the dataset source registered as ``source``, opened with ``argument``, against
    every rule above; returns the rules passed.

    The source must be registered (installed, or registered on ``host``): ``run`` and
    ``eval`` find it by name, as users do.

    :raises ConformanceError: naming each broken rule.
    """
    host = host or plugin_manager()
    host.datasets.get(source)  # an unknown source: UnknownNameError listing the sources
    reference = f"{source}:{argument}"
    rules = Checklist(f"dataset source {source!r} ({reference})")
    dataset = rules.rule("opens", open_dataset, host, reference)
    if dataset is None:
        return rules.verdict()

    def splits():
        names = list(dataset.splits)
        require(names and all(isinstance(s, str) for s in names), f"splits are {names!r}")
        docs = set(dataset.corpus.ids)
        for split in names:
            queries = set(dataset.queries(split).ids)
            judged = dataset.qrels(split).to_dict()
            require(queries, f"split {split!r} has no queries")
            require(judged, f"split {split!r} has no judgements")
            stray = sorted(set(judged) - queries)
            if stray:
                broken(f"split {split!r}: judged query {stray[0]!r} is not among its queries")
            require(
                any(d in docs for j in judged.values() for d in j),
                f"split {split!r}: no judged document is in the corpus",
            )
        return names

    names = rules.rule("splits", splits)

    def unknown_split():
        try:
            dataset.qrels(SPLIT_THAT_IS_NOT)
        except RankarenaError as error:
            lines = str(error).strip().splitlines()
            require(len(lines) == 1, f"the error has {len(lines)} lines")
            return
        broken(f"qrels({SPLIT_THAT_IS_NOT!r}) returned judgements")

    rules.rule("unknown-split", unknown_split)

    def fingerprint():
        for split in names or []:
            first = dataset.fingerprint(split)
            require(isinstance(first, str) and first, f"fingerprint({split!r}) is {first!r}")
            require(dataset.fingerprint(split) == first, "a second fingerprint differs")
            again = open_dataset(host, reference).fingerprint(split)
            require(again == first, "the fingerprint differs when the dataset is opened again")

    rules.rule("fingerprint", fingerprint)
    if names:
        rules.rule("run-and-eval", _run_and_eval, dataset, reference, names[0])
    return rules.verdict()


def _run_and_eval(dataset, reference: str, split: str) -> None:
    with tempfile.TemporaryDirectory(prefix="rankarena-kit-") as folder:
        work = Path(folder)
        config = work / "run.toml"
        config.write_text(
            f'[run]\nname = "kit"\ndatasets = [{reference!r}]\nsplit = {split!r}\n'
            f'metrics = ["ndcg@10"]\noutput = {str(work / "out")!r}\n\n'
            '[systems.bm25]\nretriever = "bm25"\n',
            encoding="utf-8",
        )
        status, said = _cli(["run", str(config)])
        require(status == 0, f"rankarena run exited {status}: {said.strip()[-300:]}")
        judged = dataset.qrels(split).to_dict()
        perfect = {q: {d: float(g) for d, g in docs.items() if g > 0} for q, docs in judged.items()}
        run_file = work / "perfect.trec"
        write_trec_run(Run.from_dict({q: d for q, d in perfect.items() if d}), run_file)
        args = ["eval", "--dataset", reference, "--split", split, "--run", str(run_file)]
        status, said = _cli([*args, "--metrics", "ndcg@10", "--output", str(work / "eval.parquet")])
        require(status == 0, f"rankarena eval exited {status}: {said.strip()[-300:]}")
        from ..data import Results

        results = Results.from_store(work / "eval.parquet").table.to_pylist()
        means = [r["value"] for r in results if r["query_id"] is None]
        require(
            means and abs(means[0] - 1.0) < 1e-9,
            f"rankarena eval gave the perfect run nDCG@10 = {means}, not 1",
        )
