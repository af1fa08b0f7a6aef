"""Dataset source plugins (``register_datasets``) through every command: references
(``SOURCE:ARGUMENT``, folders, names, ``suite:``), ``rankarena run``, mining, training and
robustness on an in-memory source, cache keys that follow the content, BEIR keys kept, and
the one results recorder (``rankarena.core.recorder``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rankarena
from rankarena import Corpus, Qrels, Queries, RankarenaError, Results, RunInfo
from rankarena.cli.main import main
from rankarena.core.datasets import (
    check_reference,
    dataset_content,
    open_dataset,
    split_reference,
)
from rankarena.core.recorder import ResultsRecorder
from rankarena.data import BeirFolder, write_beir
from rankarena.errors import DataFormatError, ParameterError, PluginError, UnknownNameError
from rankarena.runs.config import RunConfig
from rankarena.runs.pipeline import Runner, load_config, system_key

# ------------------------------------------------------------------ a real source plugin

DOCS = {
    "d1": ("Cats", "cats purr when they are content and sleep most of the day"),
    "d2": ("Dogs", "dogs bark at strangers and guard the house at night"),
    "d3": ("Fish", "fish swim in rivers lakes and the open sea"),
    "d4": ("Birds", "birds build nests and sing in the early morning"),
    "d5": ("Horses", "horses gallop across open fields and eat hay and oats"),
    "d6": ("Bees", "bees collect nectar from flowers and make honey"),
    "d7": ("Owls", "owls hunt mice at night and sleep during the day"),
    "d8": ("Cows", "cows graze grass in green fields and give milk"),
}
QUERIES = {
    "q1": "why do cats purr",
    "q2": "which animal barks at night",
    "q3": "how do bees make honey",
    "q4": "where do fish swim",
    "q5": "what do horses eat in the fields",
    "q6": "which birds hunt mice at night",
    "q7": "where do cows graze in the fields",
}
QRELS = {
    "test": {"q1": {"d1": 1}, "q2": {"d2": 2, "d7": 0}, "q3": {"d6": 1}},
    "train": {"q4": {"d3": 1}, "q5": {"d5": 1}, "q6": {"d7": 1}, "q7": {"d8": 1}},
}


class ExampleDataset:
    """A dataset built in memory; ``sloppy``: a fingerprint that never changes (a source
    bug the framework's own digest must catch)."""

    def __init__(self, name, docs, queries, qrels, sloppy=False):
        self.name = name
        self.corpus = Corpus.from_dict({d: {"title": t, "text": x} for d, (t, x) in docs.items()})
        self._queries = Queries.from_dict(queries)
        self._qrels = {split: Qrels.from_dict(judged) for split, judged in qrels.items()}
        self.splits = sorted(self._qrels)
        self.sloppy = sloppy

    def queries(self, split):
        return self._queries.select(self.qrels(split).query_ids)

    def qrels(self, split):
        if split not in self._qrels:
            raise RankarenaError(f"{self.name}: no split {split!r}; splits: {self.splits}")
        return self._qrels[split]

    def fingerprint(self, split):
        if self.sloppy:
            return "v1"
        rows = [self.corpus.table.to_pylist(), self.queries(split).table.to_pylist()]
        return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()


class ExampleSource:
    """Registers the ``example`` source: ``example:tiny`` is the dataset above (its content
    can be edited through ``docs``, ``queries`` and ``qrels``)."""

    def __init__(self, sloppy=False):
        self.docs = dict(DOCS)
        self.queries = dict(QUERIES)
        self.qrels = {split: dict(judged) for split, judged in QRELS.items()}
        self.sloppy = sloppy
        self.opened: list[str] = []

    @rankarena.hookimpl
    def register_datasets(self, register):
        register("example", self.open)

    def open(self, name: str):
        """Tiny in-memory datasets."""
        self.opened.append(name)
        if name != "tiny":
            raise RankarenaError(f"example: no dataset {name!r}; datasets: tiny")
        return ExampleDataset(name, self.docs, self.queries, self.qrels, self.sloppy)


class Tracker:
    def __init__(self):
        self.events = []

    @rankarena.hookimpl
    def on_run_start(self, run):
        self.events.append(("start", run.kind, run.run_id))

    @rankarena.hookimpl
    def on_result(self, result):
        self.events.append(("result", result["dataset"], result["metric"], result["variant"]))

    @rankarena.hookimpl
    def on_run_end(self, run, results):
        self.events.append(("end", run.run_id, results.table.num_rows))


@pytest.fixture
def source():
    return ExampleSource()


@pytest.fixture
def host(source):
    host = rankarena.PluginHost(entry_points=False)
    host.register(source, name="example-source")
    return host


def quiet(*_):
    pass


RUN = """
[run]
name = "plugin"
datasets = {datasets}
split = "test"
metrics = ["ndcg@10", "recall@10"]
k = 10
output = "out"

[systems.bm25]
retriever = "bm25"
"""


def run_config(tmp_path, datasets='["example:tiny"]', extra="") -> Path:
    path = tmp_path / "run.toml"
    path.write_text(RUN.format(datasets=datasets) + extra)
    return path


# ------------------------------------------------------------------ references


def test_reference_syntax(tmp_path):
    assert split_reference("example:tiny") == ("example", "tiny")
    assert split_reference("example:") == ("example", "")
    assert split_reference("beir:scifact") == ("beir", "scifact")
    assert split_reference("scifact") == ("beir", "scifact")
    assert split_reference("./data/scifact") == ("beir", "./data/scifact")
    assert split_reference("C:/data/scifact") == ("beir", "C:/data/scifact")  # a drive
    assert split_reference("suite:beir-small") == ("suite", "beir-small")
    assert split_reference("hf:org/name:v2") == ("hf", "org/name:v2")
    odd = tmp_path / "example:tiny"  # an existing folder wins over a prefix
    odd.mkdir()
    assert split_reference(str(odd)) == ("beir", str(odd))
    assert split_reference("example:tiny", base=tmp_path) == ("beir", "example:tiny")


def test_open_dataset_goes_through_the_registry(host, source, tmp_path):
    dataset = open_dataset(host, "example:tiny")
    assert isinstance(dataset, ExampleDataset) and source.opened == ["tiny"]
    assert dataset.name == "tiny" and dataset.splits == ["test", "train"]
    folder = write_beir(tmp_path / "animals", dataset.corpus, dataset.queries("test"), {
        "test": dataset.qrels("test")
    })  # fmt: skip
    for reference in (str(folder), f"beir:{folder}"):
        beir = open_dataset(host, reference)
        assert isinstance(beir, BeirFolder) and beir.path == folder
        assert beir.queries("test") == dataset.queries("test")
    relative = open_dataset(host, "animals", base=tmp_path)
    assert isinstance(relative, BeirFolder) and relative.path == folder


def test_a_catalog_name_is_the_beir_source_as_before(host, scifact_dir, monkeypatch):
    monkeypatch.setenv("RANKARENA_DATA_DIR", str(scifact_dir.parent))
    dataset = open_dataset(host, "scifact")
    assert isinstance(dataset, BeirFolder) and dataset.path == scifact_dir
    assert open_dataset(host, "beir:scifact").path == scifact_dir


@pytest.mark.parametrize(
    ("reference", "error", "match"),
    [
        (
            "xyz:foo",
            UnknownNameError,
            r"^unknown dataset source 'xyz'; known: beir, example \(in dataset 'xyz:foo'; a "
            r"folder path or a catalog name takes no prefix\)$",
        ),
        ("exampel:tiny", UnknownNameError, r"did you mean 'example'\?"),
        ("example:huge", RankarenaError, r"^example: no dataset 'huge'; datasets: tiny$"),
        ("example:", ParameterError, r"^dataset source 'example' needs an argument \(name\): "),
        ("suite:beir-small", ParameterError, r"is a suite of 6 datasets \(scifact, nfcorpus,"),
        ("suite:nope", UnknownNameError, r"unknown suite 'nope'"),
    ],
)
def test_bad_references_are_one_line(host, reference, error, match):
    with pytest.raises(error, match=match) as info:
        open_dataset(host, reference)
    assert "\n" not in str(info.value)


def test_a_broken_source_is_one_line_naming_the_plugin(host):
    class Broken:
        @rankarena.hookimpl
        def register_datasets(self, register):
            register("nothing", lambda name: object())
            register("crash", lambda name: {}[name])

    host.register(Broken(), name="broken-source")
    with pytest.raises(
        PluginError,
        match=r"plugin 'broken-source' registers dataset 'nothing', whose factory returned "
        r"an object without name,",
    ):
        open_dataset(host, "nothing:x")
    with pytest.raises(PluginError, match=r"'crash' \(plugin 'broken-source'\) failed to open 'x'"):
        open_dataset(host, "crash:x")
    assert check_reference(host, "crash:x") == ("crash", "x")  # checking opens nothing


# ------------------------------------------------------------------ rankarena run


@pytest.mark.parametrize("sloppy", [False, True])
def test_run_on_a_plugin_dataset_and_keys_follow_its_content(host, source, tmp_path, sloppy):
    source.sloppy = sloppy
    path = run_config(tmp_path)
    config = load_config(path)
    assert config.datasets == ["example:tiny"]  # kept as written: it is the key's dataset
    first = Runner(config, host, log=quiet)
    results = first.execute()
    assert (first.computed, first.reused) == (1, 0)
    rows = {(r["dataset"], r["metric"]): r["value"] for r in results.table.to_pylist()}
    dataset = open_dataset(host, "example:tiny")
    run = host.retrievers.create("bm25").index(dataset.corpus).search(dataset.queries("test"), 10)
    expected = rankarena.evaluate(run, dataset.qrels("test"), ["ndcg@10", "recall@10"]).mean
    assert rows == {("tiny", m): pytest.approx(v, abs=1e-12) for m, v in expected.items()}
    key = first.key("bm25", "example:tiny")
    assert key == system_key(first.config, "bm25", "example:tiny", dataset_content(dataset, "test"))
    # the same content: everything reused
    again = Runner(load_config(path), host, log=quiet)
    again.execute()
    assert (again.computed, again.reused) == (0, 1)
    # an edited document: a new key, a new run (even if the source's fingerprint missed it)
    source.docs["d1"] = ("Cats", "cats meow loudly at the door")
    edited = Runner(load_config(path), host, log=quiet)
    assert edited.key("bm25", "example:tiny") != key
    edited.execute()
    assert (edited.computed, edited.reused) == (1, 0)
    # an edited query text: a new key too
    source.queries["q1"] = "why do cats meow"
    requeried = Runner(load_config(path), host, log=quiet)
    assert requeried.key("bm25", "example:tiny") not in {key, edited.key("bm25", "example:tiny")}
    # the content restored: the first run is found again
    source.docs["d1"], source.queries["q1"] = DOCS["d1"], QUERIES["q1"]
    restored = Runner(load_config(path), host, log=quiet)
    assert restored.key("bm25", "example:tiny") == key
    restored.execute()
    assert (restored.computed, restored.reused) == (0, 1)
    # changed judgements: the run is reused, its evaluation is redone
    source.qrels["test"] = {**QRELS["test"], "q3": {"d6": 0, "d4": 1}}
    rejudged = Runner(load_config(path), host, log=quiet)
    assert rejudged.key("bm25", "example:tiny") == key
    new = {(r["dataset"], r["metric"]): r["value"] for r in rejudged.execute().table.to_pylist()}
    assert (rejudged.computed, rejudged.reused) == (0, 1) and new != rows


def test_a_run_config_mixes_sources_and_checks_them_first(host, tmp_path, scifact_dir):
    path = run_config(tmp_path, f'["example:tiny", "beir:{scifact_dir}"]')
    config = load_config(path)
    assert config.datasets == ["example:tiny", str(scifact_dir)]
    bad = run_config(tmp_path, '["example:tiny", "xyz:foo"]')
    with pytest.raises(ParameterError, match=r"unknown dataset source 'xyz'.*\[run\] datasets"):
        Runner(load_config(bad), host, log=quiet)


def test_cli_unknown_source_is_one_line(tmp_path, capsys):
    path = run_config(tmp_path, '["xyz:foo"]')
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown dataset source 'xyz'" in err and "beir" in err


# ------------------------------------------------------------------ BEIR keys kept

# measured on commit 95e3442, before dataset references went through ``open_dataset``:
# the fingerprint of ANIMALS written as a BEIR folder, the keys of PINNED on it
ANIMALS_FINGERPRINT = "92439fb6394f20f2b97d4ed4fc3ec39c"
PINNED_KEYS = {"bm25": "5d0ae15f784de348f6a9d7b1", "fused": "5fabd2ea0a801fcd0e151095"}
PINNED_TRAIN_DATA = "17100e5c056c54a2a52a89b3b3a22cf8"  # Trainer.data_fingerprint, split test


def animals(folder: Path) -> Path:
    corpus = Corpus.from_dict(
        {
            "d1": {"title": "Cats", "text": "cats purr and sleep"},
            "d2": {"title": "", "text": "dogs bark at night"},
            "d3": {"title": "Fish", "text": "fish swim in the sea"},
        }
    )
    queries = Queries.from_dict({"q1": "why do cats purr", "q2": "dogs barking"})
    qrels = Qrels.from_dict({"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}})
    return write_beir(folder, corpus, queries, {"test": qrels})


def test_beir_folder_keys_are_unchanged(host, tmp_path):
    folder = animals(tmp_path / "animals")
    assert BeirFolder(folder).fingerprint("test") == ANIMALS_FINGERPRINT
    assert dataset_content(open_dataset(host, str(folder)), "test") == ANIMALS_FINGERPRINT
    pinned = RunConfig(
        name="pin",
        datasets=["/data/beir/animals"],
        split="test",
        metrics=["ndcg@10"],
        k=10,
        output=Path("/tmp/out"),
        systems={
            "bm25": {"retriever": "bm25", "params": {"k1": 0.9, "b": 0.4}},
            "fused": {"inputs": ["bm25"], "fusion": "rrf"},
        },
    )
    for name, key in PINNED_KEYS.items():
        assert system_key(pinned, name, "/data/beir/animals", ANIMALS_FINGERPRINT) == key
    # a folder by path, by name (relative to the config) or as beir:NAME: the same key
    keys = set()
    for reference in ("animals", "beir:animals", str(folder), "./animals"):
        path = run_config(tmp_path, json.dumps([reference]))
        config = load_config(path)
        assert config.datasets == [str(folder)]
        runner = Runner(config, host, log=quiet)
        keys.add(runner.key("bm25", config.datasets[0]))
        assert runner.key("bm25", str(folder)) == system_key(
            runner.config, "bm25", str(folder), ANIMALS_FINGERPRINT
        )
    assert len(keys) == 1


def test_training_data_fingerprint_of_a_beir_folder_is_unchanged(host, tmp_path):
    from rankarena.training.trainer import TrainConfig, Trainer

    folder = animals(tmp_path / "animals")
    config = TrainConfig(dataset=str(folder), output=str(tmp_path / "m"), split="test")
    trainer = Trainer(config, host, log=quiet, show_progress=False)
    assert trainer.data_fingerprint() == PINNED_TRAIN_DATA


# ------------------------------------------------------------------ mining, training


MINE = """
[mine]
dataset = "{dataset}"
split = "train"
num_negatives = 2
scorer = "bm25"
output = "negatives"

[samplers.topk]
sampler = "retriever-topk"
params = {{ retriever = "bm25", range_max = 5 }}
"""


def test_mine_config_on_a_plugin_dataset(host, tmp_path):
    from rankarena.data.training_examples import read_training_examples
    from rankarena.training.mine_config import load_mine_config, run_mine_config

    path = tmp_path / "mine.toml"
    path.write_text(MINE.format(dataset="example:tiny"))
    config = load_mine_config(path, host)
    assert config.dataset == "example:tiny"
    rows = run_mine_config(config, host, log=quiet)
    examples = read_training_examples(tmp_path / "negatives" / "topk.parquet")
    assert rows[0]["name"] == "topk" and len(examples) == 4
    table = examples.table.to_pylist()
    assert {r["query_id"] for r in table} == set(QRELS["train"])
    for row in table:  # BM25 finds negatives where the query shares terms with them
        assert row["positive_id"] == next(iter(QRELS["train"][row["query_id"]]))
        assert row["positive_id"] not in row["negative_ids"] and len(row["negative_ids"]) <= 2
        assert set(row["negative_ids"]) <= set(DOCS)
    assert sum(len(row["negative_ids"]) for row in table) >= 4
    path.write_text(MINE.format(dataset="xyz:tiny"))
    with pytest.raises(DataFormatError, match=r"mine.toml: \[mine\] dataset: unknown dataset "):
        load_mine_config(path, host)


def test_train_on_a_plugin_dataset(host, source, tmp_path):
    from rankarena.training.trainer import TrainConfig, Trainer

    tracker = Tracker()
    host.register(tracker, name="tracker")
    config = TrainConfig(
        dataset="example:tiny",
        output=str(tmp_path / "model"),
        split="train",
        eval_split="test",
        metrics=["ndcg@10"],
        batch_size=2,
        max_length=32,
        max_steps=1,
        learning_rate=1e-4,
        results=str(tmp_path / "results.parquet"),
        name="tuned",
    )
    trainer = Trainer(config, host, log=quiet, show_progress=False)
    fingerprint = trainer.data_fingerprint()
    report = trainer.run()
    assert report.steps == 1 and set(report.before) == set(report.after) == {"tiny"}
    stored = Results.from_parquet(tmp_path / "results.parquet").means().table.to_pylist()
    assert {(r["dataset"], r["variant"], r["metric"]) for r in stored} == {
        ("tiny", "before", "ndcg@10"),
        ("tiny", "after", "ndcg@10"),
    }
    ends = [e for e in tracker.events if e[0] == "end"]
    starts = [e for e in tracker.events if e[0] == "start"]
    assert [s[1] for s in starts] == ["train-eval", "train-eval"] and len(ends) == 2
    assert [e[1] for e in ends] == [s[2] for s in starts] and all(e[2] == 1 for e in ends)
    # the training data's fingerprint follows the plugin dataset's content
    source.docs["d3"] = ("Fish", "fish live in water")
    again = Trainer(config, host, log=quiet, show_progress=False)
    assert again.data_fingerprint() != fingerprint


# ------------------------------------------------------------------ robustness

ROBUSTNESS = """
[robustness]
seed = 1
bootstrap = 10
tau_k = 5

[[robustness.perturbations]]
name = "typos"
intensities = [0.5]
"""


def test_robustness_on_a_plugin_dataset(host, tmp_path):
    from rankarena.robustness.runner import RobustnessRunner, load_robustness_config

    tracker = Tracker()
    host.register(tracker, name="tracker")
    path = run_config(tmp_path, extra=ROBUSTNESS)
    runner = RobustnessRunner(load_robustness_config(path), host, log=quiet)
    report = runner.execute()
    assert {(r["dataset"], r["perturbation"], r["metric"]) for r in report.drops} == {
        ("tiny", "typos", "ndcg@10"),
        ("tiny", "typos", "recall@10"),
    }
    store = Results.from_parquet(tmp_path / "out" / "results.parquet").table.to_pylist()
    assert {r["dataset"] for r in store} == {"tiny"}
    assert {r["variant"] for r in store} == {"", "typos@0.5"}
    # observers: one run, every stored row seen once, then the run's rows at its end
    kinds = [e[0] for e in tracker.events]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("start") == 1
    assert kinds.count("result") == len(store) and tracker.events[-1][2] == len(store)
    again = RobustnessRunner(load_robustness_config(path), host, log=quiet)
    again.execute()
    assert again.computed == 0 and again.reused == 2


# ------------------------------------------------------------------ the results recorder


def test_results_recorder_opens_records_and_closes(host, tmp_path):
    tracker = Tracker()
    host.register(tracker, name="tracker")
    store = tmp_path / "results.parquet"
    info = RunInfo("eval", {"what": "a test"})

    def rows(metric, value, run_id="r1"):
        return Results.from_rows(
            [{"system": "s", "dataset": "tiny", "split": "test", "metric": metric,
              "value": value, "run_id": run_id}]
        )  # fmt: skip

    with ResultsRecorder(host, info, store) as recorder:
        assert tracker.events == [("start", "eval", info.run_id)]
        recorder.record(rows("ndcg@10", 0.5))
        recorder.record(rows("mrr@10", 0.25))
        assert pq.read_table(store).num_rows == 2  # stored as recorded
    assert tracker.events[1:] == [
        ("result", "tiny", "ndcg@10", ""),
        ("result", "tiny", "mrr@10", ""),
        ("end", info.run_id, 2),
    ]
    # recording the same rows again replaces them (keyed by identity): no duplicates
    with ResultsRecorder(host, RunInfo("eval"), store) as recorder:
        recorder.record(rows("ndcg@10", 0.75))
    stored = {r["metric"]: r["value"] for r in Results.from_parquet(store).table.to_pylist()}
    assert stored == {"ndcg@10": 0.75, "mrr@10": 0.25}
    # a failed run is not closed; what was recorded stays stored
    tracker.events.clear()
    with pytest.raises(RuntimeError), ResultsRecorder(host, RunInfo("eval"), store) as recorder:
        recorder.record(rows("p@10", 0.1, "r2"))
        raise RuntimeError("boom")
    assert [e[0] for e in tracker.events] == ["start", "result"]
    assert len(Results.from_store(store)) == 3
    # without a store: observers only; close(results) passes what the run stands for
    tracker.events.clear()
    recorder = ResultsRecorder(host, RunInfo("eval")).open()
    recorder.record(rows("ndcg@10", 0.5))
    recorder.close(Results.empty())
    recorder.close()  # once only
    assert [e[0] for e in tracker.events] == ["start", "result", "end"]
    assert tracker.events[-1][2] == 0


def test_run_observers_see_every_result_once(host, tmp_path):
    tracker = Tracker()
    host.register(tracker, name="tracker")
    path = run_config(tmp_path)
    results = Runner(load_config(path), host, log=quiet).execute()
    assert [e[0] for e in tracker.events] == ["start", "result", "result", "end"]
    assert tracker.events[-1] == ("end", tracker.events[0][2], results.table.num_rows)
    tracker.events.clear()
    Runner(load_config(path), host, log=quiet).execute()  # all reused: nothing new
    assert [e[0] for e in tracker.events] == ["start", "end"]
    assert tracker.events[-1][2] == 2  # the config's results, as before
