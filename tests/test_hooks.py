"""Every hook is documented in docs/hooks.md and exercised by a ``test_hook_<name>`` test.

The ``test_hook_*`` tests register small but real components through the hook, exactly as
a third-party plugin would, and use them through the host.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from offline_components import ReorderParaphraser

import rankarena
from rankarena import DeviceReport, PluginHost, Qrels, Queries, Run, ScoreTable, hookspecs
from rankarena.api.datasets import open_dataset
from rankarena.cli.main import build_parser, main
from rankarena.data import Corpus, write_trec_run
from rankarena.data.training_examples import TrainingExamples
from rankarena.errors import UnknownNameError
from rankarena.training.mining import MiningContext

REPO = Path(__file__).resolve().parents[1]
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "rankarena_spec")
)


def test_hooks_are_found():
    assert len(HOOKS) == 14
    assert "register_metrics" in HOOKS and "report_devices" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    docs = (REPO / "docs" / "hooks.md").read_text()
    signature = f"{hook}{inspect.signature(getattr(hookspecs, hook))}"
    heading = re.compile(rf"^#+ `{re.escape(signature)}`$", re.MULTILINE)
    assert heading.search(docs), f"docs/hooks.md lacks a heading `{signature}`"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    sources = "\n".join(p.read_text() for p in (REPO / "tests").glob("test_*.py"))
    assert f"def test_hook_{hook}(" in sources, f"no test_hook_{hook} test"


def test_every_hook_has_a_docstring():
    for hook in HOOKS:
        assert (getattr(hookspecs, hook).__doc__ or "").strip(), hook


# ------------------------------------------------------------------ components for the hooks

CORPUS = Corpus.from_dict(
    {
        "d1": {"title": "Cats", "text": "cats purr and sleep"},
        "d2": {"title": "Dogs", "text": "dogs bark at cats"},
        "d3": {"title": "Birds", "text": "birds sing in the morning"},
    }
)
QUERIES = Queries.from_dict({"q1": "do cats purr", "q2": "morning birds"})
QRELS = Qrels.from_dict({"q1": {"d1": 1}, "q2": {"d3": 2, "d2": 0}})


class OverlapRetriever:
    """Scores a document by the number of query words it contains."""

    def __init__(self, lowercase: bool = True):
        self.lowercase = lowercase
        self.docs: dict[str, set[str]] = {}

    def _words(self, text: str) -> set[str]:
        return set((text.lower() if self.lowercase else text).split())

    def index(self, corpus: Corpus) -> OverlapRetriever:
        texts = corpus.texts()
        self.docs = {d: self._words(t) for d, t in zip(corpus.ids, texts, strict=True)}
        return self

    def search(self, queries: Queries, k: int) -> Run:
        q, d, s = [], [], []
        for qid, text in queries.to_dict().items():
            words = self._words(text)
            for did, doc_words in self.docs.items():
                q.append(qid)
                d.append(did)
                s.append(float(len(words & doc_words)))
        return Run.from_arrays(q, d, s).top(k)


class LengthReranker:
    """Adds a length prior: shorter documents first among equal scores."""

    def __init__(self, weight: float = 0.01):
        self.weight = weight

    def rerank(self, queries: Queries, corpus: Corpus, run: Run, k: int) -> Run:
        lengths = dict(zip(corpus.ids, (len(t) for t in corpus.texts()), strict=True))
        top = run.top(k).table
        docs = top.column("doc_id").to_pylist()
        scores = top.column("score").to_numpy() - self.weight * np.array([lengths[d] for d in docs])
        return Run.from_arrays(top.column("query_id"), top.column("doc_id"), scores)


class TopKNegatives:
    """Hard negatives: the top-ranked non-relevant documents of a retriever."""

    def __init__(self, retriever: str = "overlap"):
        self.retriever = retriever

    def sample(self, context: MiningContext, num_negatives: int) -> TrainingExamples:
        run = context.candidates(self.retriever, {}, 10).to_dict()
        rows = []
        for qid in context.queries.ids:
            pos = context.positives[qid]
            docs = sorted(run.get(qid, {}).items(), key=lambda item: -item[1])
            neg = [(d, s) for d, s in docs if d not in pos][:num_negatives]
            rows.append(
                {"query_id": qid, "positive_id": pos[0], "negative_ids": [d for d, _ in neg],
                 "negative_scores": [s for _, s in neg]}
            )  # fmt: skip
        return TrainingExamples.from_rows(rows)


class MarginLoss(torch.nn.Module):
    """Pairwise hinge: mean over (pos, neg) pairs of max(0, margin - s_pos + s_neg)."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin

    def forward(self, scores, targets, mask=None):
        diff = scores.unsqueeze(2) - scores.unsqueeze(1)  # [B, i, j] = s_i - s_j
        pairs = (targets.unsqueeze(2) > targets.unsqueeze(1)).float()
        return (torch.relu(self.margin - diff) * pairs).sum() / pairs.sum()


class MedianAggregator:
    """Ranks systems by their median score over tasks (missing cells skipped)."""

    def aggregate(self, scores: ScoreTable) -> rankarena.Ranking:
        medians = np.nanmedian(scores.scores, axis=1)
        return rankarena.Ranking.from_scores("median", scores.systems, medians)


class Uppercase:
    """Upper-cases every text (a case-noise perturbation)."""

    target = "queries"

    def apply(self, texts: dict[str, str], rng) -> dict[str, str]:
        return {k: v.upper() for k, v in texts.items()}


class FirstRelevantRank(rankarena.Metric):
    """Rank of the first relevant document (0 when none): lower is better."""

    key = "first-rel"

    def per_query(self, judged):
        first = judged.first_row(judged.relevant & judged.top(self.k))
        return np.where(first >= 0, first + 1, 0).astype(float)


class ThreadedOverlap(OverlapRetriever):
    """``overlap`` with a ``threads`` setting that changes how, not what, it retrieves."""

    not_in_run_key = frozenset({"threads"})

    def __init__(self, lowercase: bool = True, threads: int = 1):
        super().__init__(lowercase)
        self.threads = threads


class ComponentsPlugin:
    @rankarena.hookimpl
    def register_retrievers(self, register):
        register("overlap", OverlapRetriever)
        register("threaded-overlap", ThreadedOverlap)

    @rankarena.hookimpl
    def register_rerankers(self, register):
        register("length-prior", LengthReranker)

    @rankarena.hookimpl
    def register_samplers(self, register):
        register("topk-negatives", TopKNegatives)

    @rankarena.hookimpl
    def register_losses(self, register):
        register("margin", MarginLoss, aliases=["pair-hinge"])

    @rankarena.hookimpl
    def register_aggregators(self, register):
        register("median", MedianAggregator)

    @rankarena.hookimpl
    def register_perturbations(self, register):
        register("uppercase", Uppercase)

    @rankarena.hookimpl
    def register_metrics(self, register):
        register("first-rel", FirstRelevantRank)

    @rankarena.hookimpl
    def register_datasets(self, register):
        register("tiny", lambda: TinyDataset())


class TinyDataset:
    name = "tiny"
    corpus = CORPUS
    splits = ("test",)

    def queries(self, split=None):
        return QUERIES

    def qrels(self, split):
        return QRELS

    def fingerprint(self, split):
        return f"tiny/{split}"


@pytest.fixture
def host():
    host = PluginHost(entry_points=False)
    host.register(ComponentsPlugin(), name="components")
    return host


def test_hook_register_retrievers(host):
    spec = host.retrievers.get("overlap")
    assert spec.plugin == "components" and spec.description.startswith("Scores a document")
    run = host.retrievers.create("overlap").index(CORPUS).search(QUERIES, k=2)
    assert run.to_dict()["q1"] == {"d1": 2.0, "d2": 1.0}
    assert rankarena.evaluate(run, QRELS, ["mrr"]).mean["mrr"] == 1.0


def test_not_in_run_key_parameters_leave_the_cache_key_alone(host, tmp_path):
    """A plugin's ``not_in_run_key`` parameters (and ``device``) do not change a run's cache
    key; its other parameters do, as does a changed default."""
    from rankarena.runs.pipeline import RunConfig, resolve_defaults, system_key

    def key(**params) -> str:
        system = {"retriever": "threaded-overlap", "params": params}
        config = RunConfig("t", ["d"], "test", ["mrr"], 10, tmp_path, {"s": system})
        return system_key(resolve_defaults(config, host), "s", "d")

    plain = key()
    assert key(threads=8) == key(threads=1, device="cpu") == plain
    assert key(lowercase=True) == plain  # the default, written out
    assert key(lowercase=False) != plain


def test_hook_register_rerankers(host):
    run = Run.from_dict({"q1": {"d1": 1.0, "d2": 1.0}})
    reranked = host.rerankers.create("length-prior", weight=0.1).rerank(QUERIES, CORPUS, run, 2)
    # "Dogs dogs bark at cats" (22 chars) is shorter than "Cats cats purr and sleep" (24)
    assert list(reranked.to_dict()["q1"]) == ["d2", "d1"]


def test_hook_register_samplers(host):
    context = MiningContext(CORPUS, QUERIES, QRELS, host=host)
    table = host.samplers.create("topk-negatives").sample(context, 1).table
    row = table.to_pylist()[0]
    assert (row["query_id"], row["positive_id"], row["negative_ids"]) == ("q1", "d1", ["d2"])


def test_hook_register_losses(host):
    loss = host.losses.create("pair-hinge", margin=1.0)
    scores = torch.tensor([[2.0, 0.5, 1.5]], requires_grad=True)
    value = loss(scores, torch.tensor([[1.0, 0.0, 0.0]]))
    # pairs (0,1): max(0, 1 - 1.5) = 0; (0,2): max(0, 1 - 0.5) = 0.5 -> mean 0.25
    assert value.item() == pytest.approx(0.25)
    value.backward()
    assert scores.grad is not None


def test_hook_register_aggregators(host):
    table = ScoreTable(("a", "b"), ("t1", "t2", "t3"), np.array([[1, 5, np.nan], [2, 3, 4.0]]))
    ranking = host.aggregators.create("median").aggregate(table)
    # medians: a = median(1, 5) = 3, b = median(2, 3, 4) = 3: a tie, listed by name
    assert ranking.scores.tolist() == [3.0, 3.0] and ranking.ranks.tolist() == [1, 1]
    assert ranking.to_table().column("system").to_pylist() == ["a", "b"]


def test_hook_register_perturbations(host):
    perturbation = host.perturbations.create("uppercase")
    assert perturbation.apply(QUERIES.to_dict(), np.random.default_rng(0))["q2"] == "MORNING BIRDS"


def test_hook_paraphrase(host):
    """A plugin fills the hook; the built-in ``paraphrase`` perturbation uses it, seeded."""
    perturbation = rankarena.plugin_manager().perturbations.create("paraphrase", intensity=1.0)
    with pytest.raises(rankarena.RankarenaError, match="no plugin implements the paraphrase"):
        perturbation.apply(QUERIES.to_dict(), np.random.default_rng(0))

    class Broken:
        @rankarena.hookimpl
        def paraphrase(self, texts, seed):
            return ["only one"]

    global_host = rankarena.plugin_manager()
    global_host.register(Broken(), name="broken-paraphraser")
    try:
        with pytest.raises(rankarena.RankarenaError, match="no plugin"):
            perturbation.apply(QUERIES.to_dict(), np.random.default_rng(0))
        assert "broken-paraphraser" in {f.plugin for f in global_host.failures}
    finally:
        global_host.unregister("broken-paraphraser")
    global_host.register(ReorderParaphraser(), name="reorder-paraphraser")
    try:
        first = perturbation.apply(QUERIES.to_dict(), np.random.default_rng(0))
        again = perturbation.apply(QUERIES.to_dict(), np.random.default_rng(0))
    finally:
        global_host.unregister("reorder-paraphraser")
    assert first == again and list(first) == list(QUERIES.to_dict())
    for key, text in QUERIES.to_dict().items():
        assert sorted(first[key].split()) == sorted(text.split())
    assert any(first[k] != t for k, t in QUERIES.to_dict().items())


def test_hook_register_metrics(host):
    assert {"ndcg", "mrr", "recall", "p", "map", "success", "r-precision"} <= set(host.metrics)
    run = Run.from_dict({"q1": {"d2": 3.0, "d1": 2.0}, "q2": {"d3": 1.0}})
    result = rankarena.evaluate(run, QRELS, ["first-rel", "ndcg@10"], host=host)
    assert result.per_query["first-rel"].tolist() == [2.0, 1.0]


def test_hook_register_datasets(host, scifact_dir):
    assert host.datasets.create("tiny").qrels("test") is QRELS
    scifact = host.datasets.create("beir", path=str(scifact_dir))
    assert len(scifact.qrels("test")) == 339
    # what every command does with a dataset reference (rankarena.api.datasets)
    assert open_dataset(host, "tiny:").qrels("test") is QRELS
    assert open_dataset(host, str(scifact_dir)).fingerprint("test") == scifact.fingerprint("test")


def test_hook_report_devices(host):
    class Accelerator:
        @rankarena.hookimpl
        def report_devices(self):
            return [DeviceReport("npu:0", priority=500, dtypes=("bf16",))]

    assert host.select_device().name in {"cpu", "cuda:0", "mps"}
    host.register(Accelerator(), name="accelerator")
    chosen = host.select_device()
    assert (chosen.name, chosen.plugin) == ("npu:0", "accelerator")
    assert host.select_device("cpu").name == "cpu"
    with pytest.raises(UnknownNameError, match=r"unknown device 'tpu'.*known: .*cpu.*npu:0"):
        host.select_device("tpu")


class Tracker:
    def __init__(self):
        self.events = []

    @rankarena.hookimpl
    def on_run_start(self, run):
        self.events.append(("start", run.kind, run.run_id))

    @rankarena.hookimpl
    def on_result(self, result):
        self.events.append(("result", result["metric"], result["value"], result["run_id"]))

    @rankarena.hookimpl
    def on_run_end(self, run, results):
        self.events.append(("end", run.run_id, results.table.num_rows))


@pytest.fixture
def tracked(tmp_path, scifact_dir):
    tracker = Tracker()
    host = rankarena.plugin_manager()
    host.register(tracker, name="tracker")
    run = Run.from_dict({"1": {"31715818": 2.0, "4983": 1.0}, "3": {"4983": 1.0}})
    write_trec_run(run, tmp_path / "tiny.run")
    code = main(
        [
            "eval",
            "--dataset",
            str(scifact_dir),
            "--run",
            str(tmp_path / "tiny.run"),
            "--metrics",
            "ndcg@10,mrr@10",
        ]
    )
    host.unregister("tracker")
    assert code == 0
    return tracker.events


def test_hook_on_run_start(tracked):
    assert tracked[0][:2] == ("start", "eval")


def test_hook_on_result(tracked):
    results = [e for e in tracked if e[0] == "result"]
    assert [r[1] for r in results] == ["ndcg@10", "mrr@10"]
    # query 1's relevant doc 31715818 is ranked first (RR 1); query 3 finds nothing (RR 0)
    assert results[1][2] == 0.5
    assert {r[3] for r in results} == {tracked[0][2]}


def test_hook_on_run_end(tracked):
    assert tracked[-1] == ("end", tracked[0][2], 2)


# ------------------------------------------------------------------ command line


class SearchCommand:
    """A plugin verb: ``rankarena overlap-search QUERY [--k K]`` prints the top documents of
    the ``overlap`` retriever over ``CORPUS``, one ``DOC SCORE`` line each."""

    def __init__(self, host: PluginHost):
        self.host = host

    @rankarena.hookimpl
    def register_commands(self, subparsers):
        parser = subparsers.add_parser("overlap-search", help="search the tiny corpus by words")
        parser.add_argument("query")
        parser.add_argument("--k", type=int, default=3)
        parser.set_defaults(handler=self.search)

    def search(self, args) -> int:
        if not args.query.strip():
            raise rankarena.ParameterError("overlap-search: the query is empty")
        retriever = self.host.retrievers.create("overlap").index(CORPUS)
        ranked = retriever.search(Queries.from_dict({"q": args.query}), k=args.k).to_dict()["q"]
        for doc, score in sorted(ranked.items(), key=lambda item: -item[1]):
            print(doc, score)
        return 0


def _verbs_plugin(*verbs: str, handler=lambda args: 0):
    """A plugin object whose ``register_commands`` adds ``verbs`` (with ``handler``)."""

    class Verbs:
        @rankarena.hookimpl
        def register_commands(self, subparsers):
            for verb in verbs:
                subparsers.add_parser(verb, help=f"the {verb} verb").set_defaults(handler=handler)

    return Verbs()


def test_hook_register_commands(host, capsys, monkeypatch):
    host.register(SearchCommand(host), name="search-command")
    parser = build_parser(host)
    args = parser.parse_args(["overlap-search", "cats purr", "--k", "2"])
    assert args.handler(args) == 0
    assert capsys.readouterr().out == "d1 2.0\nd2 1.0\n"

    # as the console script runs it: main() builds the parser from the process's host
    monkeypatch.setattr("rankarena.core.host._HOST", host)
    assert main(["overlap-search", "morning", "--k", "1"]) == 0
    assert capsys.readouterr().out == "d3 1.0\n"
    assert main(["overlap-search", " "]) == 2  # its RankarenaError: one line, status 2
    assert capsys.readouterr().err == "rankarena: error: overlap-search: the query is empty\n"
    assert main(["--help"]) == 0
    assert re.search(r"overlap-search\s+search the tiny corpus by words", capsys.readouterr().out)
    assert host.failures == []


def test_a_plugin_verb_that_clashes_is_reported_and_the_first_owner_keeps_it(
    host, capsys, monkeypatch
):
    host.register(SearchCommand(host), name="search-command")
    host.register(_verbs_plugin("extra", "eval"), name="clashing")  # a built-in name
    host.register(_verbs_plugin("overlap-search"), name="second")  # an earlier plugin's
    host.register(_verbs_plugin("lonely", handler=None), name="no-handler")
    monkeypatch.setattr("rankarena.core.host._HOST", host)
    assert main(["overlap-search", "purr", "--k", "1"]) == 0  # the first plugin's verb works
    assert capsys.readouterr().out == "d1 1.0\n"
    errors = {f.plugin: f.error for f in host.failures if f.stage == "register_commands"}
    assert errors == {
        "clashing": "PluginError: verb 'eval' is taken by a built-in verb; "
        "none of the plugin's verbs were added",
        "second": "PluginError: verb 'overlap-search' is taken by plugin 'search-command'; "
        "none of the plugin's verbs were added",
        "no-handler": "PluginError: verb 'lonely' has no handler: call "
        "set_defaults(handler=fn) on its parser",
    }
    # the built-in eval is untouched, and none of the clashing plugin's verbs were added
    args = build_parser(host).parse_args(["eval", "--dataset", "d", "--run", "r"])
    assert args.handler.__module__ == "rankarena.cli.evaluate"
    for verb in ("extra", "lonely"):
        assert main([verb]) == 2
        assert f"invalid choice: '{verb}'" in capsys.readouterr().err
    assert len(host.failures) == 3  # reported once, however often the parser is built

    assert main(["plugins", "--json"]) == 0  # where a user sees them
    listed = json.loads(capsys.readouterr().out)["failures"]
    assert {f["plugin"] for f in listed} == {"clashing", "second", "no-handler"}


def test_a_plugin_whose_command_hook_raises_adds_no_verb(host, capsys):
    class Broken:
        @rankarena.hookimpl
        def register_commands(self, subparsers):
            subparsers.add_parser("half").set_defaults(handler=lambda args: 0)
            raise RuntimeError("no more verbs today")

    host.register(Broken(), name="broken")
    parser = build_parser(host)
    with pytest.raises(SystemExit):
        parser.parse_args(["half"])
    first, second = capsys.readouterr().err.splitlines()
    assert first == (
        "rankarena: plugin 'broken' failed in register_commands: RuntimeError: no more verbs today"
    )
    assert second.startswith("rankarena: error: argument COMMAND: invalid choice: 'half'")
