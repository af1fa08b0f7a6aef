"""``rankarena report``: one static HTML file from a real (small) run folder.

The run folder is built with ``rankarena.runs.pipeline.Runner`` on a SciFact subset (30 test
queries, their judged documents and 300 others) with three BM25 systems; a fourth,
deliberately bad system (BM25's run with its scores negated, i.e. every ranking reversed)
is added to the store and the run cache, so that the significance markers have a case where
a system is clearly worse.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy.stats import mannwhitneyu, ttest_rel
from statsmodels.stats.multitest import multipletests

import rankarena
from rankarena.cli.main import main
from rankarena.data import Corpus, Results, Run, write_beir
from rankarena.data.score_table import ScoreTable
from rankarena.evaluate import evaluate
from rankarena.report.builder import (
    SECTIONS,
    _swiss_section,
    compare_to_best,
    pooled_score_labels,
)
from rankarena.report.figures import auc_mann_whitney
from rankarena.runs.pipeline import RunConfig, Runner

METRICS = ["ndcg@10", "recall@100", "mrr@10"]
BAD = "bm25-reversed"
DATASETS = ("scifact-a", "scifact-b")
TD = re.compile(r"<td\b[^>]*>")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, scifact):
    """A `rankarena run` output folder: 3 BM25 systems + a reversed run, on two SciFact
    subsets (two tasks, so that the Swiss rounds can eliminate)."""
    root = tmp_path_factory.mktemp("report")
    judged = scifact.qrels("test").to_dict()
    queries = scifact.queries("test")
    table = scifact.corpus.table
    folders, subsets = [], {}
    for number, name in enumerate(DATASETS):
        ids = [q for q in queries.ids if q in judged][30 * number : 30 * (number + 1)]
        wanted = {d for q in ids for d in judged[q]}
        others = [d for d in scifact.corpus.ids if d not in wanted][:300]
        keep = wanted | set(others)
        corpus = Corpus(table.filter(pa.array([d in keep for d in table["_id"].to_pylist()])))
        subsets[name] = rankarena.Qrels.from_dict({q: judged[q] for q in ids})
        path = write_beir(
            root / "data" / name, corpus, queries.select(ids), {"test": subsets[name]}
        )
        folders.append(str(path))
    config = RunConfig(
        name="mini",
        datasets=folders,
        split="test",
        metrics=METRICS,
        k=100,
        output=root / "out",
        systems={
            "bm25": {"retriever": "bm25"},
            "bm25-robertson": {"retriever": "bm25", "params": {"k1": 1.2, "b": 0.75}},
            "bm25-unstemmed": {"retriever": "bm25", "params": {"stemmer": ""}},
        },
    )
    host = rankarena.plugin_manager()
    runner = Runner(config, host, log=lambda *a: None)
    runner.execute()
    bm25 = {}
    for name, path in zip(DATASETS, folders, strict=True):
        bm25[name] = Run.from_parquet(runner.run_dir / f"{runner.key('bm25', path)}.parquet")
        scores = -bm25[name].table["score"].to_numpy()
        reversed_run = Run.from_arrays(
            bm25[name].table["query_id"], bm25[name].table["doc_id"], scores
        )
        reversed_run.to_parquet(runner.run_dir / f"reversed-{name}.parquet")
        evaluation = evaluate(reversed_run, subsets[name], METRICS, host=host)
        evaluation.to_results(BAD, name, "test", run_id=f"reversed-{name}").append_to(runner.store)
    report = root / "html" / "report.html"
    code = main(
        [
            "report",
            str(root / "out"),
            "--output",
            str(report),
            "--data-dir",
            str(root / "data"),
            "--tournaments",
            "200",
        ]
    )
    assert code == 0
    return {
        "root": root,
        "out": root / "out",
        "report": report,
        "qrels": subsets,
        "bm25": bm25,
        "host": host,
    }


def _cells(page: str, **attrs: str) -> list[str]:
    tags = TD.findall(page)
    return [t for t in tags if all(f'{k}="{v}"' in t for k, v in attrs.items())]


def test_report_is_one_self_contained_file(folder):
    page = folder["report"].read_text(encoding="utf-8")
    assert [p.name for p in folder["report"].parent.iterdir()] == ["report.html"]  # atomic
    assert '<table id="leaderboard">' in page
    assert '<table id="rule-agreement">' in page
    for title in SECTIONS.values():
        assert f">{title}</h2>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert page.count('<img src="data:image/png;base64,') >= 2  # scores + sensitivity
    assert "skipped: no robustness results" in page  # no robustness run here: a note
    # the leaderboard lists every system, the reversed one last under the mean
    board = page.split('<table id="leaderboard">')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]+)</td>", board)
    assert sorted(rows) == sorted(["bm25", "bm25-robertson", "bm25-unstemmed", BAD])
    assert rows[-1] == BAD


def test_significance_marks_the_reversed_run_never_the_best(folder):
    page = folder["report"].read_text(encoding="utf-8")
    assert "ttest_rel" in page and "Holm" in page
    worse = _cells(page, **{"data-system": BAD, "data-metric": "ndcg@10"})
    assert len(worse) == 2 and all('data-sig="worse"' in tag for tag in worse)
    best = _cells(page, **{"data-best": "1"})
    assert len(best) == len(METRICS) * len(DATASETS)
    assert all("data-sig" not in tag and BAD not in tag for tag in best)


def test_auc_is_the_pooled_auc_of_the_mw_paper(folder):
    """The scores section's AUC is the metric ``auc@depth`` (the paper's pool: positives,
    unretrieved ones below every score, against each query's top ``depth`` non-positives):
    the Mann–Whitney U over the pool, and the report's cell shows it. A run shallower than
    the pool (k = 100 < 500) is named in a note."""
    run, qrels = folder["bm25"]["scifact-a"], folder["qrels"]["scifact-a"]
    scores, labels, short = pooled_score_labels(run.table, qrels, 500)
    assert short == 30  # every query: 100 retrieved, fewer than 500 non-positives
    metric = evaluate(run, qrels, ["auc@500"], host=folder["host"]).mean["auc@500"]
    finite = np.where(np.isfinite(scores), scores, scores[np.isfinite(scores)].min() - 1)
    u = mannwhitneyu(finite[labels], finite[~labels], alternative="two-sided").statistic
    reference = u / (labels.sum() * (~labels).sum())
    assert auc_mann_whitney(scores, labels) == pytest.approx(reference, abs=1e-12)
    assert reference == pytest.approx(metric, abs=1e-12)
    # the top 1 only: the positives ranked 2nd or lower join those never retrieved, at -inf
    top1 = run.table.filter(pc.less_equal(run.table["rank"], 1))
    scores1, labels1, _ = pooled_score_labels(top1, qrels, 500)
    assert labels1.sum() == labels.sum()  # every positive stays, retrieved or not
    ranked_lower = np.isneginf(scores1[labels1]).sum() - np.isneginf(scores[labels]).sum()
    relevant = {(q, d) for q, docs in qrels.to_dict().items() for d, g in docs.items() if g >= 1}
    columns = [run.table[c].to_pylist() for c in ("query_id", "doc_id", "rank")]
    below_first = [(q, d) in relevant and r > 1 for q, d, r in zip(*columns, strict=True)]
    assert ranked_lower == sum(below_first) > 0
    page = folder["report"].read_text(encoding="utf-8")
    cell = _cells(page, **{"data-system": "bm25", "data-dataset": "scifact-a"})
    assert len(cell) == 1
    shown = re.search(re.escape(cell[0]) + r"([0-9.]+)</td>", page)[1]
    assert float(shown) == pytest.approx(metric, abs=5e-5)
    assert "fewer than 500 non-positives in the cached run of" in page
    # ties count one half: pairs (2>1), (2=2), (3>1), (3>2) -> 3.5 of 4
    assert auc_mann_whitney(np.array([1.0, 2, 2, 3]), np.array([0, 1, 0, 1], bool)) == 0.875


def test_compare_to_best_is_holm_over_paired_t_tests():
    rng = np.random.default_rng(5)
    queries = [f"q{i}" for i in range(40)]
    raw = {"best": rng.random(40) + 0.4, "near": rng.random(40) + 0.3, "far": rng.random(40)}
    values = {s: dict(zip(queries, v.tolist(), strict=True)) for s, v in raw.items()}
    means = {s: float(v.mean()) for s, v in raw.items()}
    best, comparisons = compare_to_best(values, means)
    assert best == "best" and set(comparisons) == {"near", "far"}
    p = [ttest_rel(raw[s], raw["best"]).pvalue for s in ("near", "far")]
    holm = multipletests(p, method="holm")[1]
    got = [comparisons[s].p_holm for s in ("near", "far")]
    assert got == pytest.approx(holm.tolist(), abs=1e-12)
    assert comparisons["far"].worse and comparisons["far"].difference < 0


def test_store_with_per_query_rows_and_variants_without_runs(folder, tmp_path):
    """A bare store: markers from its per-query rows; variant rows draw the robustness plot;
    no runs: the histograms are skipped with a note."""
    store = Results.from_parquet(folder["out"] / "results.parquet")
    rows = store.means().table.to_pylist()
    extra = []
    for path in sorted((folder["out"] / "runs").glob("*.parquet")):
        run_id = path.stem
        mine = [r for r in rows if r["run_id"] == run_id]
        dataset = mine[0]["dataset"]
        qrels = folder["qrels"][dataset]
        evaluation = evaluate(Run.from_parquet(path), qrels, METRICS, host=folder["host"])
        results = evaluation.to_results(
            mine[0]["system"], dataset, "test", per_query=True, run_id=run_id
        )
        extra.extend(r for r in results.table.to_pylist() if r["query_id"] is not None)
        for level, share in ((0.1, 0.9), (0.3, 0.7)):  # constructed perturbed means
            extra.extend(
                {
                    **r,
                    "variant": f"word-drop@{level}",
                    "value": r["value"] * share,
                    "run_id": f"{run_id}-wd{level}",
                }
                for r in mine
            )
    bare = tmp_path / "store.parquet"
    Results.from_rows(rows + extra).to_parquet(bare)
    out = tmp_path / "r.html"
    assert main(["report", str(bare), "--output", str(out), "--tournaments", "100"]) == 0
    page = out.read_text(encoding="utf-8")
    worse = _cells(page, **{"data-system": BAD, "data-metric": "ndcg@10"})
    assert len(worse) == 2 and all('data-sig="worse"' in tag for tag in worse)
    assert "per-query values from the store&#x27;s per-query rows" in page
    assert "skipped: no cached runs" in page
    robustness = page.split('id="robustness"')[1].split("<section")[0]
    assert "data:image/png;base64," in robustness and "word-drop@0.3" in robustness
    assert "scifact-a[word-drop@0.1]" in page  # variants are leaderboard tasks


def test_means_only_store_has_no_markers_and_says_why(folder, tmp_path):
    store = Results.from_parquet(folder["out"] / "results.parquet")
    bare = tmp_path / "means.parquet"
    store.to_parquet(bare)
    out = tmp_path / "r.html"
    assert main(["report", str(bare), "--output", str(out), "--tournaments", "100"]) == 0
    page = out.read_text(encoding="utf-8")
    assert 'data-sig="worse"' not in page
    assert "no significance markers" in page


@pytest.mark.parametrize("kind", ["missing", "not-a-store", "empty-folder"])
def test_bad_input_is_one_line(tmp_path, capsys, kind):
    target = tmp_path / "x.parquet"
    if kind == "not-a-store":
        pq.write_table(pa.table({"a": [1, 2]}), target)
    elif kind == "empty-folder":
        target = tmp_path / "folder"
        target.mkdir()
    assert main(["report", str(target), "--output", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rankarena: error:") and "\n" not in err
    assert not (tmp_path / "r.html").exists()


def test_unknown_metric_is_one_line(folder, capsys, tmp_path):
    code = main(
        ["report", str(folder["out"]), "--output", str(tmp_path / "r.html"), "--metric", "ndcg@100"]
    )
    assert code == 2
    assert "unknown metric 'ndcg@100'" in capsys.readouterr().err


def test_chromium_renders_the_report(folder, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    url = folder["report"].resolve().as_uri()
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]
    shot = tmp_path / "report.png"
    rendered = subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,2000", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    console = [
        line for line in rendered.stderr.splitlines() if "Uncaught" in line or ":CONSOLE(" in line
    ]
    assert not console, console
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<table id="leaderboard">' in dom.stdout
    assert shot.stat().st_size > 20_000
    try:
        from PIL import Image

        pixels = np.asarray(Image.open(shot).convert("RGB"))
    except ImportError:
        import matplotlib.image

        pixels = (matplotlib.image.imread(shot)[..., :3] * 255).astype(np.uint8)
    assert pixels.shape[:2] == (2000, 1280)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 50  # text, table shading, figures: not a blank page
    assert (pixels < 128).any(axis=2).mean() > 0.005  # some dark (text) pixels
    shutil.copy(shot, folder["root"] / "report.png")


def test_swiss_sensitivity_comes_through_the_registry_or_is_skipped():
    from rankarena.plugins.aggregators.swiss import DEFAULT_SWEEP, sensitivity

    table = ScoreTable(("a", "b", "c"), ("t1", "t2", "t3"), np.arange(9.0).reshape(3, 3) % 4)
    section = _swiss_section(table, 50, 0, rankarena.PluginHost(entry_points=False))
    expected = sensitivity(table, DEFAULT_SWEEP, tournaments=50, seed=0).to_pylist()
    assert 'id="swiss-sensitivity"' in section
    for row in expected:
        assert f'title="E[S] {row[f"score:{DEFAULT_SWEEP[-1]}"]:.3f}"' in section
    without = rankarena.PluginHost(entry_points=False, disable=["swiss"])
    section = _swiss_section(table, 50, 0, without)
    assert "skipped: no aggregator named &#x27;swiss&#x27; is registered" in section
    assert "swiss-sensitivity" not in section


def test_report_with_uncertainty_shows_intervals_and_groups(folder, tmp_path):
    """``report --uncertainty``: the run store holds means only, so the leaderboard is
    resampled over its two tasks, and each cell gains ``[low–high] (group)``."""
    report = tmp_path / "report.html"
    args = ["report", str(folder["root"] / "out"), "--output", str(report)]
    args += ["--data-dir", str(folder["root"] / "data"), "--tournaments", "200"]
    assert main([*args, "--uncertainty", "40"]) == 0
    page = report.read_text(encoding="utf-8")
    board = page.split('<table id="leaderboard">')[1].split("</table>")[0]
    assert "Uncertainty: 40 two-level bootstrap resamples of the tasks" in page
    cells = re.findall(r'<span class="num">\[(\d+)–(\d+)\] \((\d+)\)</span>', board)
    assert cells and all(int(low) <= int(high) for low, high, _ in cells)
