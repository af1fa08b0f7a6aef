"""``eval`` of a TREC run file of any size, end to end, against pytrec_eval (issue 19, item 3).

    python benchmarks/bench_eval_stream.py                                  # 10M lines
    python benchmarks/bench_eval_stream.py --queries 100000 --max-memory 2G --sample 2000 \\
        --no-peer --cli                                                     # 100M lines

Writes a seeded run of ``--queries`` x ``--docs`` lines (``qid Q0 docno rank score tag``,
single spaces, each query's lines together, scores descending; written by Arrow's CSV
writer) and qrels judging, per query, 4 retrieved documents (positions drawn from a
geometric distribution, so that relevant documents sit near the top as in a real run) with
grades 0-2 and one unretrieved relevant document. Then, each side in a fresh process run
under ``/usr/bin/time -v`` (wall time and peak RSS of the whole process: interpreter start,
imports and rankarena's plugin host, which imports torch for the loss plugins, included),
and timed inside that process from reading the qrels to the metric means, the libraries
loaded before the clock starts:

* rankarena: ``read_qrels`` + ``rankarena.evaluate.run_file.evaluate_run_file`` (the
  function behind ``rankarena eval``; ``--max-memory`` passed as its limit: a run larger
  than the limit's estimate is streamed in blocks of whole queries);
* pytrec_eval, end to end as its users run it: ``pytrec_eval.parse_qrel`` +
  ``pytrec_eval.parse_run`` (its own file readers) + ``RelevanceEvaluator.evaluate`` + the
  means; and a second variant feeding it faster, the run read by Arrow's CSV reader and
  the dict of dicts built from the columns (the best a pytrec_eval user can do in Python).

Measures: nDCG@10, Recall@100, MAP, P@10, MRR (pytrec_eval's ``ndcg_cut.10``,
``recall.100``, ``map``, ``P.10``, ``recip_rank``). Every query's values must agree with
pytrec_eval's to 1e-9 (exit status 1 otherwise). With ``--no-peer`` (runs too large for
pytrec_eval's dicts), pytrec_eval instead evaluates ``--sample`` queries drawn at random,
reading the file block by block and keeping only their lines (a chunked pytrec_eval), and
those queries are compared. ``--cli`` also runs ``rankarena eval`` itself (means only)
under ``/usr/bin/time -v`` and prints its wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

OURS = ["ndcg@10", "recall@100", "map", "p@10", "mrr"]
PYTREC = ["ndcg_cut_10", "recall_100", "map", "P_10", "recip_rank"]
PYTREC_MEASURES = {"ndcg_cut.10", "recall.100", "map", "P.10", "recip_rank"}
TOLERANCE = 1e-9
QUERIES_PER_WRITE = 1000


# ------------------------------------------------------------------------------- data


def write_data(folder: Path, queries: int, docs: int, seed: int) -> tuple[Path, Path]:
    """Write ``run.trec`` and ``qrels.txt`` into ``folder``; return their paths."""
    rng = np.random.default_rng(seed)
    run_path, qrels_path = folder / "run.trec", folder / "qrels.txt"
    schema = pa.schema(
        [(n, pa.string()) for n in ("q", "q0", "d")]
        + [("rank", pa.int64()), ("score", pa.float64()), ("tag", pa.string())]
    )
    options = pacsv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
    with (
        pacsv.CSVWriter(run_path, schema, write_options=options) as out,
        open(qrels_path, "w") as qrels,
    ):
        for first in range(0, queries, QUERIES_PER_WRITE):
            n = min(QUERIES_PER_WRITE, queries - first)
            ids = np.arange(first, first + n)
            qid = np.char.add("q", ids.astype(str))
            doc = rng.integers(0, 10_000_000, size=(n, docs)) * docs + np.arange(docs)
            score = -np.sort(-rng.normal(size=(n, docs)), axis=1)
            rows = n * docs
            out.write_table(
                pa.table(
                    {
                        "q": np.repeat(qid, docs),
                        "q0": pa.array(["Q0"] * rows),
                        "d": np.char.add("d", doc.ravel().astype(str)),
                        "rank": np.tile(np.arange(1, docs + 1), n),
                        "score": score.ravel(),
                        "tag": pa.array(["bench"] * rows),
                    },
                    schema=schema,
                )
            )
            positions = np.minimum(rng.geometric(0.05, size=(n, 4)) - 1, docs - 1)
            grades = rng.integers(0, 3, size=(n, 4))
            lines = []
            for i in range(n):
                judged = dict.fromkeys(positions[i].tolist())
                for j, pos in enumerate(judged):
                    lines.append(f"{qid[i]} 0 d{doc[i, pos]} {grades[i, j]}\n")
                lines.append(f"{qid[i]} 0 unretrieved{ids[i]} 1\n")
            qrels.writelines(lines)
    return run_path, qrels_path


# ------------------------------------------------------------------------ the children


def child_rankarena(run: str, qrels: str, max_memory: str | None, out: str) -> None:
    from rankarena.core.host import plugin_manager
    from rankarena.data import read_qrels
    from rankarena.evaluate.run_file import evaluate_run_file

    host = plugin_manager()  # loading the library: before the clock, as pytrec_eval's import
    start = time.perf_counter()
    blocks = []
    judgements = read_qrels(qrels)
    evaluation = evaluate_run_file(
        run, judgements, OURS, max_memory=max_memory, host=host, on_rows=blocks.append
    )
    means = evaluation.mean
    seconds = time.perf_counter() - start
    table = {"query_id": evaluation.query_ids}
    table.update({name: evaluation.per_query[name] for name in OURS})
    pq.write_table(pa.table(table), out)
    print(json.dumps({"seconds": seconds, "means": means, "blocks": len(blocks)}))


def child_pytrec(run: str, qrels: str, reader: str, out: str) -> None:
    import pytrec_eval

    start = time.perf_counter()
    with open(qrels) as handle:
        judgements = pytrec_eval.parse_qrel(handle)
    if reader == "parse_run":
        with open(run) as handle:
            ranking = pytrec_eval.parse_run(handle)
    else:
        ranking = arrow_run_dict(run)
    results = pytrec_eval.RelevanceEvaluator(judgements, PYTREC_MEASURES).evaluate(ranking)
    means = {
        ours: float(np.mean([values[key] for values in results.values()]))
        for ours, key in zip(OURS, PYTREC, strict=True)
    }
    seconds = time.perf_counter() - start
    ids = sorted(results)
    table = {"query_id": ids}
    table.update({o: [results[q][k] for q in ids] for o, k in zip(OURS, PYTREC, strict=True)})
    pq.write_table(pa.table(table), out)
    print(json.dumps({"seconds": seconds, "means": means}))


def arrow_run_dict(path: str, keep: set[str] | None = None) -> dict[str, dict[str, float]]:
    """``{qid: {docno: score}}`` from Arrow's CSV reader, block by block (only the queries
    in ``keep`` when given)."""
    names = ["q", "q0", "d", "rank", "score", "tag"]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={"q": pa.string(), "d": pa.string(), "score": pa.float64()},
            include_columns=["q", "d", "score"],
        ),
    )
    ranking: dict[str, dict[str, float]] = {}
    for batch in reader:
        if keep is not None:
            import pyarrow.compute as pc

            batch = batch.filter(pc.is_in(batch.column("q"), value_set=pa.array(list(keep))))
        columns = [batch.column(c).to_pylist() for c in ("q", "d", "score")]
        for q, d, s in zip(*columns, strict=True):
            ranking.setdefault(q, {})[d] = s
    return ranking


# ------------------------------------------------------------------------- measuring


def timed_child(args: list[str]) -> tuple[dict, float, int]:
    """Run this script as a child under ``/usr/bin/time -v``: (its JSON line, wall seconds,
    peak RSS bytes)."""
    command = ["/usr/bin/time", "-v", sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"child {args[:2]} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report, *time_v(done.stderr)


def time_v(stderr: str) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) from ``/usr/bin/time -v``'s report."""
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    assert wall and rss, stderr[-2000:]
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) * 1024


def compare(ours: pa.Table, theirs: pa.Table, only: set[str] | None = None) -> tuple[int, float]:
    """(queries compared, largest difference); exits when the query sets differ."""
    a = {q: i for i, q in enumerate(ours.column("query_id").to_pylist())}
    b = theirs.column("query_id").to_pylist()
    if only is not None:
        b = [q for q in b if q in only]
    if set(b) != (set(a) if only is None else only & set(a)):
        sys.exit("the evaluated queries differ")
    worst = 0.0
    for name in OURS:
        mine = ours.column(name).to_numpy()
        theirs_values = dict(
            zip(theirs["query_id"].to_pylist(), theirs[name].to_pylist(), strict=True)
        )
        diff = np.abs(mine[[a[q] for q in b]] - np.array([theirs_values[q] for q in b]))
        worst = max(worst, float(diff.max()) if len(diff) else 0.0)
    return len(b), worst


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "rankarena":
            run_path, qrels, memory, out = rest
            child_rankarena(run_path, qrels, None if memory == "-" else memory, out)
        else:
            child_pytrec(*rest)
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-memory", help="rankarena's memory limit, e.g. 2G")
    parser.add_argument("--no-peer", action="store_true", help="no whole-run pytrec_eval")
    parser.add_argument("--sample", type=int, default=1000, help="queries checked with --no-peer")
    parser.add_argument("--cli", action="store_true", help="also time `rankarena eval`")
    parser.add_argument(
        "--repeats", type=int, default=1, help="rounds of every side, interleaved (medians)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the files go and are kept (reused when made with the same sizes and seed; "
        "default: a temporary folder, deleted)",
    )
    args = parser.parse_args()
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="bench-eval-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        measure(args, folder)
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


def measure(args: argparse.Namespace, folder: Path) -> None:
    start = time.perf_counter()
    stamp = folder / "made-by.json"
    made = {"queries": args.queries, "docs": args.docs, "seed": args.seed}
    if stamp.is_file() and json.loads(stamp.read_text()) == made:  # --workdir kept from before
        run_path, qrels_path = folder / "run.trec", folder / "qrels.txt"
    else:
        stamp.unlink(missing_ok=True)
        run_path, qrels_path = write_data(folder, args.queries, args.docs, args.seed)
        stamp.write_text(json.dumps(made))
    lines = args.queries * args.docs
    size = run_path.stat().st_size
    print(
        f"run: {lines:,} lines ({args.queries:,} queries x {args.docs:,}), "
        f"{size / 2**30:.2f} GiB; written in {time.perf_counter() - start:.1f} s; "
        f"{os.cpu_count()} CPUs"
    )
    ours_out = folder / "ours.parquet"
    memory = [args.max_memory or "-"]
    ours_args = ["--child", "rankarena", *map(str, (run_path, qrels_path)), *memory, str(ours_out)]
    readers = [] if args.no_peer else ["parse_run", "arrow"]
    labels = {"parse_run": "pytrec_eval.parse_run", "arrow": "Arrow read + dicts"}
    rounds: list[list[tuple[dict, float, int]]] = []
    for _ in range(args.repeats):  # the sides interleaved, round by round
        measured = [timed_child(ours_args)]
        for reader in readers:
            out = folder / f"pytrec-{reader}.parquet"
            measured.append(
                timed_child(["--child", "pytrec", str(run_path), str(qrels_path), reader, str(out)])
            )
        rounds.append(measured)
    first = rounds[0][0][0]
    how = f"streamed, {first['blocks']} blocks" if first["blocks"] > 1 else "read whole"
    limit = f", limit {args.max_memory}" if args.max_memory else ""
    names = [f"rankarena evaluate_run_file ({how}{limit})"]
    names += [f"pytrec_eval ({labels[r]})" for r in readers]
    rows = [
        (name, [r[i] for r in rounds]) for i, name in enumerate(names)
    ]  # (label, [(report, wall, rss) per round])
    ours = pq.read_table(ours_out)
    ok = True
    for reader in readers:
        count, worst = compare(ours, pq.read_table(folder / f"pytrec-{reader}.parquet"))
        ok &= worst <= TOLERANCE
        print(f"vs pytrec_eval ({labels[reader]}): {count:,} queries, max |diff| {worst:.2e}")
    if args.no_peer:
        rng = np.random.default_rng(args.seed + 1)
        ids = ours.column("query_id").to_pylist()
        sample = {ids[i] for i in rng.choice(len(ids), min(args.sample, len(ids)), False)}
        import pytrec_eval

        t = time.perf_counter()
        with open(qrels_path) as handle:
            judgements = pytrec_eval.parse_qrel(handle)
        judgements = {q: judgements[q] for q in sample if q in judgements}
        ranking = arrow_run_dict(str(run_path), keep=sample)
        results = pytrec_eval.RelevanceEvaluator(judgements, PYTREC_MEASURES).evaluate(ranking)
        theirs = {"query_id": sorted(results)}
        theirs.update(
            {
                o: [results[q][k] for q in theirs["query_id"]]
                for o, k in zip(OURS, PYTREC, strict=True)
            }
        )
        count, worst = compare(ours, pa.table(theirs), only=sample)
        ok &= worst <= TOLERANCE
        print(
            f"vs chunked pytrec_eval on {count:,} sampled queries: max |diff| {worst:.2e} "
            f"({time.perf_counter() - t:.1f} s)"
        )
    print()
    each = f"median of {args.repeats} rounds" if args.repeats > 1 else "one round"
    print(f"| side ({each}) | in-process s | wall s (time -v) | peak RSS (time -v) |")
    print("| --- | ---: | ---: | ---: |")
    medians = []
    for label, runs in rows:
        seconds = float(np.median([report["seconds"] for report, _, _ in runs]))
        wall = float(np.median([w for _, w, _ in runs]))
        rss = max(r for _, _, r in runs)
        medians.append((seconds, wall))
        print(f"| {label} | {seconds:.2f} | {wall:.2f} | {rss / 2**30:.2f} GiB |")
    for i, (label, runs) in enumerate(rows[1:], start=1):
        inside = [p[0]["seconds"] / o[0]["seconds"] for p, o in zip(runs, rows[0][1], strict=True)]
        walls = [p[1] / o[1] for p, o in zip(runs, rows[0][1], strict=True)]
        spread = (
            f" (rounds: {min(inside):.2f}-{max(inside):.2f}x in process, "
            f"{min(walls):.2f}-{max(walls):.2f}x wall)"
            if len(runs) > 1
            else ""
        )
        print(
            f"rankarena is {medians[i][0] / medians[0][0]:.2f}x faster than {label} in process, "
            f"{medians[i][1] / medians[0][1]:.2f}x by wall time (medians){spread}"
        )
    report = rows[0][1][0][0]
    print(f"means: {json.dumps({k: round(v, 6) for k, v in report['means'].items()})}")
    if args.cli:
        command = ["/usr/bin/time", "-v", shutil.which("rankarena") or "rankarena", "eval"]
        command += ["--qrels", str(qrels_path), "--run", str(run_path)]
        command += ["--metrics", ",".join(OURS)]
        if args.max_memory:
            command += ["--max-memory", args.max_memory]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall, rss = time_v(done.stderr)
        print(f"$ {' '.join(command[2:])}\n{done.stdout.strip()}")
        print(f"rankarena eval: exit {done.returncode}, wall {wall:.2f} s, peak RSS ", end="")
        print(f"{rss / 2**30:.2f} GiB (Maximum resident set size {rss // 1024} kbytes)")
        ok &= done.returncode == 0
    print("AGREE" if ok else "DISAGREE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
