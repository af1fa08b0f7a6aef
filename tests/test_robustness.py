"""``rankarena robustness`` on a SciFact test subset: BM25, MiniLM, their hybrid."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rankarena.cli.main import main
from rankarena.core.host import plugin_manager
from rankarena.data import Corpus, Qrels, write_beir
from rankarena.errors import DataFormatError, ParameterError
from rankarena.robustness.runner import RobustnessRunner, load_robustness_config
from rankarena.runs.pipeline import Runner

SYSTEMS = """
[systems.bm25]
retriever = "bm25"

[systems.minilm]
retriever = "dense"
params = { model = "minilm", max_length = 64 }

[systems.minilm-short]
retriever = "dense"
params = { model = "minilm", max_length = 32 }

[systems.hybrid]
inputs = ["bm25", "minilm"]
fusion = "rrf"
"""

ROBUSTNESS = """
[robustness]
seed = 3
bootstrap = 200
tau_k = 20

[[robustness.perturbations]]
name = "typos"
intensities = [0.0, 0.3]

[[robustness.perturbations]]
name = "word-drop"
intensities = [0.4]

[[robustness.perturbations]]
name = "term-stuffing"
intensities = [0.2]
reference = "bm25"
depth = 3

[[robustness.perturbations]]
name = "truncation"
intensities = [0.5]

[robustness.tuned_on]
minilm = "subset"

[robustness.multiplicity]
minilm-lengths = ["minilm", "minilm-short"]

[robustness.attack]
surrogate = "minilm"
groups = 2
group_size = 3
rank_min = 10
rank_max = 80
max_edits = 6
candidates = 8
top_k = 10
"""


@pytest.fixture(scope="module")
def subset(scifact, tmp_path_factory):
    """40 SciFact test queries, their judged documents and 300 others."""
    judged = scifact.qrels("test").to_dict()
    queries = scifact.queries("test")
    ids = [q for q in queries.ids if q in judged][:40]
    wanted = {d for q in ids for d in judged[q]}
    others = [d for d in scifact.corpus.ids if d not in wanted][:300]
    keep = wanted | set(others)
    table = scifact.corpus.table
    corpus = Corpus(table.filter(pa.array([d in keep for d in table.column("_id").to_pylist()])))
    folder = tmp_path_factory.mktemp("data") / "subset"
    qrels = Qrels.from_dict({q: judged[q] for q in ids})
    return write_beir(folder, corpus, queries.select(ids), {"test": qrels})


def write_config(tmp_path, subset, robustness: str = ROBUSTNESS, systems: str = SYSTEMS):
    path = tmp_path / "robust.toml"
    path.write_text(
        f'[run]\nname = "r"\ndatasets = ["{subset}"]\nsplit = "test"\n'
        f'metrics = ["ndcg@10", "recall@100"]\nk = 100\noutput = "{tmp_path / "out"}"\n'
        + systems
        + robustness
    )
    return path


@pytest.fixture(scope="module")
def finished(subset, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("robust")
    path = write_config(tmp_path, subset)
    logs: list[str] = []
    config = load_robustness_config(path)
    report = RobustnessRunner(config, plugin_manager(), log=logs.append).execute()
    return path, config, report, logs


def test_drop_table_covers_every_cell(finished):
    _, _, report, _ = finished
    cells = {(r["system"], r["perturbation"], r["intensity"], r["metric"]) for r in report.drops}
    assert len(cells) == len(report.drops) == 4 * 5 * 2
    for row in report.drops:
        assert row["drop"] == pytest.approx(row["original"] - row["perturbed"])
        if row["original"]:
            assert row["relative_drop"] == pytest.approx(row["drop"] / row["original"])
        low, high = row["drop_ci"]
        assert low <= row["drop"] + 1e-12 and row["drop"] - 1e-12 <= high


def test_intensity_zero_changes_nothing(finished):
    _, _, report, _ = finished
    zero = [r for r in report.drops if r["intensity"] == 0.0]
    assert zero and all(r["drop"] == 0.0 for r in zero)
    assert all(r["kendall_tau"] == pytest.approx(1.0) for r in zero)


def test_perturbations_hurt_and_move_rankings(finished):
    _, _, report, _ = finished
    drop = [
        r for r in report.drops if r["perturbation"] == "word-drop" and r["metric"] == "ndcg@10"
    ]
    assert all(r["kendall_tau"] < 0.9 for r in drop)
    assert sum(r["drop"] for r in drop) > 0


def test_originals_equal_rankarena_run(finished):
    """The unperturbed numbers are those of ``rankarena run`` on the same config."""
    _, config, report, _ = finished
    results = Runner(config.run, plugin_manager(), log=lambda _: None).execute()
    means = {
        (r["system"], r["metric"]): r["value"]
        for r in results.means().table.to_pylist()
        if r["variant"] == ""
    }
    for row in report.iid:
        assert row["mean"] == pytest.approx(means[row["system"], row["metric"]], abs=1e-12)
        low, high = row["mean_ci"]
        assert low <= row["mean"] <= high
        low, high = row["std_ci"]
        assert low <= row["std"] + 1e-12 and row["std"] <= high + 1e-12


def test_document_perturbations_patch_the_corpus(finished):
    _, _, report, _ = finished
    rows = [r for r in report.drops if r["metric"] == "ndcg@10"]
    stuffed = {r["system"]: r for r in rows if r["perturbation"] == "term-stuffing"}
    assert stuffed["bm25"]["drop"] > 0  # stuffed non-relevant documents rise under BM25
    cut = {r["system"]: r for r in rows if r["perturbation"] == "truncation"}
    assert cut["bm25"]["kendall_tau"] < 1.0
    # the second half of an abstract is beyond a 32-token encoder's window: nothing moves
    assert cut["minilm-short"]["kendall_tau"] == pytest.approx(1.0)
    assert cut["minilm-short"]["drop"] == pytest.approx(0.0, abs=1e-12)


def test_results_store_has_variants_and_tau(finished):
    _, config, _, _ = finished
    table = pq.read_table(config.run.output / "results.parquet").to_pylist()
    variants = {r["variant"] for r in table}
    assert {"", "typos@0", "typos@0.3", "word-drop@0.4", "topic-attack"} <= variants
    assert any(r["metric"] == "kendall-tau@20" for r in table)
    assert any(r["query_id"] is not None for r in table if r["variant"] == "typos@0.3")


def test_rerun_reuses_everything(finished):
    path, _, report, _ = finished
    logs: list[str] = []
    again = RobustnessRunner(load_robustness_config(path), plugin_manager(), log=logs.append)
    second = again.execute()
    assert second.drops == report.drops
    assert not any("typos" in line or "word-drop" in line for line in logs)  # cached runs


def test_ood_and_multiplicity(finished):
    _, _, report, _ = finished
    assert {(r["system"], r["in_domain"]) for r in report.ood} == {("minilm", True)}
    rows = report.multiplicity
    assert {r["metric"] for r in rows} == {"ndcg@10", "recall@100"} and rows[0]["members"] == 2
    for row in rows:
        assert 0.0 <= row["top10_jaccard"] <= 1.0 and row["std_of_means"] >= 0.0
        assert row["mean_query_range"] >= 0.0


def test_attack_promotes_the_target_against_its_surrogate(finished):
    _, _, report, _ = finished
    surrogate = [r for r in report.attack if r["surrogate"]]
    assert len(surrogate) == 2  # two groups
    for row in surrogate:
        assert row["promoted"] > 0.5, row
        assert row["mean_rank_after"] < row["mean_rank_before"]
    systems = {r["system"] for r in report.attack}
    assert systems == {"bm25", "minilm", "minilm-short", "hybrid"}
    assert all(0 <= r["promoted"] <= 1 and not math.isnan(r["promoted"]) for r in report.attack)


@pytest.mark.parametrize(
    ("robustness", "error", "match"),
    [
        (
            '[robustness]\n[[robustness.perturbations]]\nname = "typoz"\nintensities = [0.1]\n',
            ParameterError,
            "typos",
        ),
        (
            '[robustness]\n[[robustness.perturbations]]\nname = "term-stuffing"\n'
            "intensities = [0.1]\n",
            ParameterError,
            "give reference = SYSTEM",
        ),
        (
            '[robustness]\n[[robustness.perturbations]]\nname = "typos"\nintensities = [1.5]\n',
            DataFormatError,
            r"intensities must be in \[0, 1\]",
        ),
        ("[robustness]\n[robustness.tuned_on]\nnope = 'scifact'\n", DataFormatError, "nope"),
        ("[robustness]\nspeed = 1\n", DataFormatError, "unknown key"),
        (
            '[robustness]\n[[robustness.perturbations]]\nname = "typos"\nintensities = [0.1]\n'
            "intensity = 0.2\n",
            DataFormatError,
            r"#1 unknown key\(s\) intensity \(did you mean 'intensities'\?\); valid: depth, ",
        ),
        ("", DataFormatError, r"missing \[robustness\]"),
    ],
)
def test_bad_configs_fail_in_one_line(tmp_path, subset, robustness, error, match):
    path = write_config(tmp_path, subset, robustness)
    with pytest.raises(error, match=match) as info:
        RobustnessRunner(load_robustness_config(path), plugin_manager(), log=lambda _: None)
    assert "\n" not in str(info.value)


def test_aggregators_rank_systems_by_robustness(finished):
    """The store's variants are tasks of their own for leaderboard aggregation."""
    from rankarena.leaderboard.score_sources import read_scores

    _, config, _, _ = finished
    scores = read_scores(config.run.output / "results.parquet", metric="ndcg@10")
    assert {"subset", "subset[typos@0.3]", "subset[word-drop@0.4]"} <= set(scores.tasks)
    ranking = plugin_manager().aggregators.create("borda").aggregate(scores)
    assert set(ranking.systems) == {"bm25", "minilm", "minilm-short", "hybrid"}


def test_cli_writes_tables_and_plot(finished, capsys):
    path, config, _, _ = finished
    assert main(["robustness", str(path)]) == 0
    out = config.run.output / "robustness"
    for name in ("drops", "iid", "ood", "multiplicity", "attack"):
        assert (out / f"{name}.csv").is_file()
    plot = out / "plot-subset-ndcg10.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "drops" in capsys.readouterr().out


def test_plot_name_is_one_file_name():
    from rankarena.cli.robustness import plot_name

    assert plot_name("scifact", "ndcg@10") == "plot-scifact-ndcg10.png"
    assert (
        plot_name("rankarena-test/scifact", "ndcg@10") == "plot-rankarena-test-scifact-ndcg10.png"
    )
