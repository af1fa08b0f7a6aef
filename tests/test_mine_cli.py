"""``rankarena mine`` (flags and TOML config) and ``rankarena negatives stats`` on a real
SciFact subset: files written, diagnostics computed, bad input one line."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from rankarena import Corpus, Queries
from rankarena.cli.main import main
from rankarena.data import write_beir
from rankarena.data.training_examples import read_training_examples
from rankarena.training.mining import MiningContext
from rankarena.training.negative_stats import heldout_counts, score_set, set_stats


@pytest.fixture(scope="module")
def subset_dir(scifact, tmp_path_factory):
    qrels = scifact.qrels("train")
    queries = Queries(scifact.queries("train").table.slice(0, 80))
    wanted = set(queries.ids)
    judged = {r["doc_id"] for r in qrels.table.to_pylist() if r["query_id"] in wanted}
    ids = scifact.corpus.ids
    rows = [i for i, d in enumerate(ids) if d in judged]
    rows += [i for i, d in enumerate(ids) if d not in judged][:300]
    corpus = Corpus(scifact.corpus.table.take(pa.array(sorted(rows))))
    return write_beir(tmp_path_factory.mktemp("subset"), corpus, queries, {"train": qrels})


def test_mine_and_stats_from_the_command_line(subset_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "bm25.parquet"
    code = main(
        ["mine", "--dataset", str(subset_dir), "--sampler", "retriever-topk", "--retriever",
         "bm25", "--num-negatives", "4", "--holdout", "1", "--output", str(out), "--ntuples",
         str(tmp_path / "bm25.jsonl")]
    )  # fmt: skip
    assert code == 0
    examples = read_training_examples(out)
    assert len(examples) > 0 and (tmp_path / "bm25.jsonl").read_text().count("\n") > 0
    png = tmp_path / "hist.png"
    stats = ["negatives", "stats", str(out), "--dataset", str(subset_dir), "--scorer", "bm25",
             "--histogram", str(png), "--output", str(tmp_path / "s.csv")]  # fmt: skip
    assert main(stats) == 0
    printed = capsys.readouterr().out
    assert "held-out FN rate" in printed and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    row = pacsv.read_csv(tmp_path / "s.csv").to_pylist()[0]
    assert row["name"] == "bm25" and row["heldout"] > 0 and 0 <= row["heldout_fn_rate"] <= 1


def test_stats_definitions_on_a_hand_made_set(subset_dir):
    from rankarena.data import BeirFolder

    folder = BeirFolder(subset_dir)
    context = MiningContext(folder.corpus, folder.queries("train"), folder.qrels("train"))
    from rankarena.data.training_examples import TrainingExamples

    for query in context.queries.ids:  # a query whose positive shares terms with it (p > 0)
        positive = context.positives[query][0]
        negatives = [d for d in context.doc_ids if d not in context.all_positives[query]][:3]
        examples = TrainingExamples.from_rows(
            [{"query_id": query, "positive_id": positive, "negative_ids": negatives,
              "negative_scores": [0.0] * 3}]
        )  # fmt: skip
        scored = score_set(examples, context, "bm25")
        if scored.positive[0] > 0:
            break
    stats = set_stats("hand", examples, context, scored, margin=1.0)
    p, n = scored.positive[0], scored.negatives[0]
    hardness = float((n / p).clip(0, 1).mean())
    safety = float(((p - n) / 1.0).clip(0, 1).mean())
    assert stats.hardness == pytest.approx(hardness)
    assert stats.safety == pytest.approx(safety)
    assert stats.eci == pytest.approx(
        math.log(4) * 2 * hardness * safety / (hardness + safety) if hardness + safety else 0.0
    )
    assert heldout_counts(examples, context) == (len(context.all_positives[query]) - 1, 0)


def test_mine_config_runs_several_samplers_and_resumes(subset_dir, tmp_path, capsys):
    config = tmp_path / "mining.toml"
    config.write_text(
        f"""
[mine]
dataset = "{subset_dir}"
num_negatives = 4
holdout = 1.0
output = "sets"
scorer = "bm25"
histogram = "hist.png"

[samplers.topk]
sampler = "retriever-topk"
params = {{ retriever = "bm25", range_max = 30 }}

[samplers.aware]
sampler = "positive-aware"
params = {{ retriever = "bm25", range_max = 30, relative_margin = 0.2 }}

[samplers.random]
sampler = "random"
"""
    )
    assert main(["mine", "--config", str(config)]) == 0
    stats = {r["name"]: r for r in pacsv.read_csv(tmp_path / "sets" / "stats.csv").to_pylist()}
    assert set(stats) == {"topk", "aware", "random"}
    assert stats["aware"]["heldout_mined"] <= stats["topk"]["heldout_mined"]
    assert (tmp_path / "sets" / "hist.png").exists()
    stamp = (tmp_path / "sets" / "topk.parquet").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["mine", "--config", str(config)]) == 0
    assert "topk: reused" in capsys.readouterr().out
    assert (tmp_path / "sets" / "topk.parquet").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampler", "randm"], "unknown sampler 'randm' (did you mean 'random'"),
        (["--sampler", "random", "--retriever", "bm25"], "sampler 'random' takes no retriever"),
        (["--num-negatives", "0"], "--num-negatives must be >= 1"),
    ],
)
def test_mine_bad_input_is_one_line(subset_dir, tmp_path, capsys, args, message):
    base = ["mine", "--dataset", str(subset_dir), "--output", str(tmp_path / "x.parquet")]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_mine_config_unknown_key_is_one_line(subset_dir, tmp_path, capsys):
    config = tmp_path / "mining.toml"
    config.write_text(
        f'[mine]\ndataset = "{subset_dir}"\nnum_negative = 4\n[samplers.r]\nsampler = "random"\n'
    )
    assert main(["mine", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: [mine] unknown key(s) num_negative (did you mean 'num_negatives'?)" in err
    assert "valid: dataset, " in err and err.count("\n") == 1
