"""The MTEB leaderboard of a real slice of the public MTEB results repository
(``../shared/data/mteb-results``): ``read_scores(folder, benchmark=B)`` gives the models, the
per-task scores and the Borda, mean and mean-by-task-type ranks that mteb's own leaderboard
code computes from the same folder (``ResultCache`` full-repository load, ``BenchmarkResults``
restricted to the benchmark's tasks, the benchmark's summary and per-task table builders)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import _data_folder
from mteb_leaderboard_reference import leaderboard_differences, load_mteb_results

import rankarena

# the three, and the multilingual one whose Borda ranks depend most on the partial
# task scores mteb ranks (benchmarks/check_mteb_leaderboard.py checks every benchmark)
BENCHMARKS = ["MTEB(eng, v2)", "MTEB(eng, v1)", "BEIR", "MTEB(Multilingual, v2)"]
HOST = rankarena.plugin_manager()


@pytest.fixture(scope="module")
def results_repository() -> Path:
    pytest.importorskip("mteb", reason="the reference is mteb's own leaderboard code")
    return _data_folder("mteb-results")


@pytest.fixture(scope="module")
def mteb_results(results_repository):
    """mteb's full-repository load of the folder, as its leaderboard does it."""
    return load_mteb_results(results_repository)


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_leaderboard_equals_mtebs(results_repository, mteb_results, benchmark, capsys):
    models, cells, problems = leaderboard_differences(
        mteb_results, results_repository, benchmark, HOST
    )
    assert "Traceback" not in capsys.readouterr().err
    assert models > 60 and cells > 900, (models, cells)
    assert problems == [], problems[:10]


def test_unreadable_file_is_one_warning_line_or_strict_error(results_repository, tmp_path, capsys):
    """A file mteb cannot read is left out with one warning line naming it; ``strict`` makes
    it a one-line error."""
    from rankarena import DataFormatError
    from rankarena.leaderboard.score_sources import read_mteb_results_folder

    model = "sentence-transformers__all-MiniLM-L6-v2"
    source = results_repository / "results" / model
    copy = tmp_path / "results" / model
    for file in source.rglob("*.json"):
        target = copy / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())
    bad = next(p for p in sorted(copy.rglob("*.json")) if p.name != "model_meta.json")
    bad.write_text("{ not json")
    table = read_mteb_results_folder(tmp_path, "BEIR")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1 and "1 file(s)" in lines[0] and bad.name in lines[0], err
    assert table.systems == ("sentence-transformers/all-MiniLM-L6-v2",)
    with pytest.raises(DataFormatError, match="not an MTEB task result") as info:
        read_mteb_results_folder(tmp_path, "BEIR", strict=True)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
