"""Check rankarena's MTEB leaderboard against mteb's own, benchmark by benchmark, on any
folder of the MTEB results repository (outside the test suite, which checks three).

    python benchmarks/check_mteb_leaderboard.py ../shared/data/mteb-results
    python benchmarks/check_mteb_leaderboard.py ~/results --benchmark "MTEB(Multilingual, v2)"

Without ``--benchmark`` it checks every benchmark mteb defines that has at least one task
file in the folder. For each it prints the models, the model × task cells and the number of
differences from mteb's tables (models, per-task scores to 1e-9, Borda ranks, mean and
mean-by-task-type values and ranks; ``tests/mteb_leaderboard_reference.py``), with the
first few differences. Exit status 1 when any benchmark differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mteb_leaderboard_reference import leaderboard_differences, load_mteb_results

import rankarena


def benchmarks_in(folder: Path) -> list[str]:
    """The names of mteb's benchmarks with at least one task file in ``folder``."""
    import mteb

    present = {p.stem for p in folder.glob("results/*/*/*.json")}
    return [
        bench.name
        for bench in mteb.get_benchmarks()
        if any(task.metadata.name in present for task in bench.tasks)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("folder", type=Path, help="a checkout (or slice) of the results repository")
    parser.add_argument("--benchmark", action="append", help="check only these (repeatable)")
    args = parser.parse_args(argv)
    if not (args.folder / "results").is_dir():
        parser.error(f"{args.folder}: no results/ folder (not an MTEB results repository)")

    import mteb

    start = time.perf_counter()
    results = load_mteb_results(args.folder)
    print(f"mteb {mteb.__version__}: loaded {args.folder} in {time.perf_counter() - start:.1f} s")
    host = rankarena.plugin_manager()
    names = args.benchmark or benchmarks_in(args.folder)
    failed = 0
    for name in names:
        start = time.perf_counter()
        try:
            models, cells, problems = leaderboard_differences(results, args.folder, name, host)
        except Exception as error:  # a benchmark mteb itself cannot tabulate is reported
            print(f"{name:<40} ERROR {type(error).__name__}: {error}".splitlines()[0])
            failed += 1
            continue
        verdict = "same" if not problems else f"{len(problems)} differences"
        print(
            f"{name:<40} {models:4d} models {cells:6d} cells  {verdict}"
            f"  ({time.perf_counter() - start:.1f} s)"
        )
        for problem in problems[:5]:
            print(f"    {problem}")
        failed += bool(problems)
    print(f"{len(names) - failed} of {len(names)} benchmarks equal mteb's leaderboard")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
