"""The trust probes: bad, concurrent, interrupted and hostile use of the ``rankarena`` CLI.

Each probe sets up real files (SciFact from ``RANKARENA_DATA_DIR``), runs the real command
in a subprocess and reports how it ended: the exit status and the first line of stderr,
or the number it computed next to the one it should have computed. Probes of a full disk
and of a read-only destination mount a small tmpfs and need root; elsewhere they are
reported as not run.

    RANKARENA_DATA_DIR=../shared/data python benchmarks/trust_probes.py [--only NAME]

Prints a Markdown table: probe, exit status, verdict (``ok`` / ``FAIL``) and what it saw.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(
    os.environ.get("RANKARENA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SCIFACT = DATA / "scifact"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "RANKARENA_DATA_DIR": str(DATA)}
CLI = [
    sys.executable,
    "-c",
    "import sys; from rankarena.cli.main import main; sys.exit(main(sys.argv[1:]))",
]


@dataclass
class Outcome:
    code: int | None
    ok: bool
    seen: str


def cli(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or ENV,
        timeout=900,
    )


def one_line_error(done: subprocess.CompletedProcess, needle: str = "") -> Outcome:
    """Exit 2 and exactly one stderr line ``rankarena: error: ...`` (containing ``needle``)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    ok = (
        done.returncode == 2
        and len(lines) == 1
        and lines[0].startswith("rankarena: error: ")
        and needle in lines[0]
        and "Traceback" not in done.stderr
    )
    seen = lines[0] if len(lines) == 1 else f"{len(lines)} stderr lines: {' | '.join(lines[-2:])}"
    return Outcome(done.returncode, ok, seen[:160])


def small_beir(root: Path, queries: int = 30, others: int = 300) -> Path:
    """A BEIR folder of the first ``queries`` judged test queries and their documents."""
    import pyarrow as pa

    from rankarena.data import BeirFolder, Corpus, Qrels, write_beir

    full = BeirFolder(SCIFACT)
    judged = full.qrels("test").to_dict()
    ids = [q for q in full.queries("test").ids if q in judged][:queries]
    wanted = {d for q in ids for d in judged[q]}
    extra = [d for d in full.corpus.ids if d not in wanted][:others]
    keep = wanted | set(extra)
    table = full.corpus.table
    corpus = Corpus(table.filter(pa.array([d in keep for d in table.column("_id").to_pylist()])))
    qrels = Qrels.from_dict({q: judged[q] for q in ids})
    return write_beir(root / "small", corpus, full.queries("test").select(ids), {"test": qrels})


RUN_CONFIG = """
[run]
name = "probe"
datasets = ["{data}"]
metrics = {metrics}
k = 100
output = "{output}"

[systems.bm25]
retriever = "bm25"

[systems.robertson]
retriever = "bm25"
params = {{ method = "robertson" }}

[systems.fused]
inputs = ["bm25", "robertson"]
"""


def write_config(
    path: Path, data: Path, output: str = "out", metrics: str = '["ndcg@10"]', extra=("", "")
) -> Path:
    text = RUN_CONFIG.format(data=data, output=output, metrics=metrics)
    path.write_text(text.replace(*extra) if extra[0] else text)
    return path


@contextlib.contextmanager
def tmpfs(root: Path, size: str, read_only: bool = False) -> Iterator[Path | None]:
    """A small tmpfs at ``root/mnt`` (None when it cannot be mounted: not root)."""
    mount = root / "mnt"
    mount.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)], capture_output=True
    ).returncode:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


PROBES: dict[str, Callable[[Path], Outcome]] = {}


def probe(name: str):
    def register(function):
        PROBES[name] = function
        return function

    return register


# ---------------------------------------------------------------- silent wrong answers
@probe("run: a metric added to a config that already ran is computed")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    config = write_config(tmp / "run.toml", data)
    cli("run", config)
    write_config(config, data, metrics='["ndcg@10", "recall@100"]')
    done = cli("run", config)
    rows = [line for line in done.stdout.splitlines() if "bm25 " in line or "│ bm25" in line]
    ok = (
        done.returncode == 0
        and "probe: recall@100" in done.stdout
        and "0 runs computed, 3 reused" in done.stdout
    )
    return Outcome(
        done.returncode,
        ok,
        "recall@100 table printed, 0 runs computed" if ok else done.stdout[-200:] + str(rows),
    )


@probe("run: an edited qrels file is scored anew (equal to `eval` on it)")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    config = write_config(tmp / "run.toml", data)
    cli("run", config)
    qrels = data / "qrels" / "test.tsv"
    header, *rows = qrels.read_text().splitlines()
    qrels.write_text("\n".join([header, *rows[: len(rows) // 2]]) + "\n")
    done = cli("run", config)
    import rankarena
    from rankarena.data import BeirFolder, Run
    from rankarena.evaluate import evaluate
    from rankarena.runs.pipeline import Runner, load_config

    runner = Runner(load_config(config), rankarena.plugin_manager(), log=lambda *a: None)
    key = runner.key("bm25", str(data))
    expected = evaluate(
        Run.from_parquet(tmp / "out" / "runs" / f"{key}.parquet"),
        BeirFolder(data).qrels("test"),
        ["ndcg@10"],
    ).mean["ndcg@10"]
    shown = next(r for r in runner.results().table.to_pylist() if r["system"] == "bm25")["value"]
    ok = done.returncode == 0 and abs(shown - expected) < 1e-12
    return Outcome(
        done.returncode, ok, f"stored nDCG@10 {shown:.4f}, eval on the edited qrels {expected:.4f}"
    )


def _strict(extra: tuple[str, str], needle: str) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        config = write_config(tmp / "run.toml", small_beir(tmp), extra=extra)
        return one_line_error(cli("run", config), needle)

    return run


for _name, _extra, _needle in [
    ('[run] splt = "train"', ("k = 100", 'k = 100\nsplt = "train"'), "unknown key(s) splt"),
    (
        '[run] ouptut = "elsewhere"',
        ('output = "out"', 'ouptut = "elsewhere"'),
        "unknown key(s) ouptut",
    ),
    ("[run] k = 2.7", ("k = 100", "k = 2.7"), "k must be an integer >= 1, got 2.7"),
    ('[run] k = "abc"', ("k = 100", 'k = "abc"'), "k must be an integer"),
    (
        'params = "x"',
        (
            'params = {{ method = "robertson" }}'.replace("{{", "{").replace("}}", "}"),
            'params = "x"',
        ),
        "params must be a table",
    ),
    (
        "[systems] x = 1",
        ("[systems.bm25]", "[systems]\nx = 1\n[systems.bm25]"),
        "[systems.x] must be a table",
    ),
]:
    probe(f"run: {_name}")(_strict(_extra, _needle))


@probe("run: config path is a folder")
def _(tmp: Path) -> Outcome:
    (tmp / "c.toml").mkdir()
    return one_line_error(cli("run", tmp / "c.toml"), "is a folder")


@probe("run: config file not UTF-8")
def _(tmp: Path) -> Outcome:
    (tmp / "c.toml").write_bytes(b'[run]\nname = "caf\xe9"\n')
    return one_line_error(cli("run", tmp / "c.toml"), "not valid UTF-8")


@probe("run: output is an existing file")
def _(tmp: Path) -> Outcome:
    config = write_config(tmp / "run.toml", small_beir(tmp))
    (tmp / "out").write_text("x")
    return one_line_error(cli("run", config), "is a file")


@probe("eval: run of another split (no query in the qrels)")
def _(tmp: Path) -> Outcome:
    cli("retrieve", "--dataset", SCIFACT, "--k", "10", "--output", tmp / "t.run")
    return one_line_error(
        cli("eval", "--dataset", SCIFACT, "--split", "train", "--run", tmp / "t.run"),
        "0 of 300 run queries",
    )


@probe("eval: header-only qrels")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    cli("retrieve", "--dataset", data, "--k", "10", "--output", tmp / "t.run")
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    return one_line_error(cli("eval", "--dataset", data, "--run", tmp / "t.run"))


@probe("run: queries that are all stopwords")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    lines = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines()]
    (data / "queries.jsonl").write_text(
        "".join(json.dumps({**q, "text": "the of and"}) + "\n" for q in lines)
    )
    return one_line_error(cli("run", write_config(tmp / "run.toml", data)), "no rows")


@probe("eval: headerless qrels whose first grade is `x`")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    cli("retrieve", "--dataset", data, "--k", "10", "--output", tmp / "t.run")
    qrels = data / "qrels" / "test.tsv"
    _, first, *rest = qrels.read_text().splitlines()
    qrels.write_text("\n".join([first.rsplit("\t", 1)[0] + "\tx", *rest]) + "\n")
    return one_line_error(
        cli("eval", "--dataset", data, "--run", tmp / "t.run"), ":1: relevance 'x'"
    )


@probe("eval: a run score written `1_0`")
def _(tmp: Path) -> Outcome:
    run = tmp / "t.run"
    run.write_text("1 Q0 31715818 1 1_0 x\n")
    return one_line_error(cli("eval", "--dataset", SCIFACT, "--run", run), "'1_0' is not a number")


def _scores(tmp: Path, text: bytes | str) -> Path:
    path = tmp / "scores.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@probe("aggregate: a null system name")
def _(tmp: Path) -> Outcome:
    return one_line_error(
        cli("aggregate", _scores(tmp, "system,task,score\na,t1,0.5\n,t1,0.4\na,t2,0.3\n")),
        "system is missing",
    )


@probe("aggregate: header-only score CSV")
def _(tmp: Path) -> Outcome:
    return one_line_error(cli("aggregate", _scores(tmp, "system,task,score\n")), "no scores")


@probe("aggregate: --bootstrap -3")
def _(tmp: Path) -> Outcome:
    path = _scores(tmp, "system,task,score\na,t1,0.5\nb,t1,0.4\n")
    return one_line_error(cli("aggregate", path, "--bootstrap", "-3"), "-3")


@probe("aggregate: score CSV with a latin-1 byte")
def _(tmp: Path) -> Outcome:
    return one_line_error(
        cli("aggregate", _scores(tmp, b"system,task,score\ncaf\xe9,t1,0.5\nb,t1,0.4\n")), "UTF-8"
    )


@probe("aggregate: a string score column")
def _(tmp: Path) -> Outcome:
    return one_line_error(
        cli("aggregate", _scores(tmp, "system,task,score\na,t1,high\nb,t1,low\n")), "not a number"
    )


@probe("aggregate: a field over 128 KB")
def _(tmp: Path) -> Outcome:
    return one_line_error(
        cli(
            "aggregate", _scores(tmp, "system,task,score\n" + "a" * 200_000 + ",t1,0.5\nb,t1,0.4\n")
        )
    )


@probe("eval: corpus id with a space (refused at read)")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    lines = (data / "corpus.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "_id": "doc 1"})
    (data / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    return one_line_error(
        cli("retrieve", "--dataset", data, "--output", tmp / "t.run"), "contains whitespace"
    )


@probe("retrieve: a corpus line nested 200,000 levels deep")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    with open(data / "corpus.jsonl", "a") as handle:
        handle.write('{"_id": "deep", "text": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    return one_line_error(
        cli("retrieve", "--dataset", data, "--output", tmp / "t.run"), "nested too deeply"
    )


# ---------------------------------------------------------------- lost or duplicated data
@probe("eval: 8 concurrent `eval --output same.parquet` keep every row")
def _(tmp: Path) -> Outcome:
    cli("retrieve", "--dataset", SCIFACT, "--k", "100", "--output", tmp / "t.run")
    procs = [
        subprocess.Popen(
            [
                *CLI,
                "eval",
                "--dataset",
                str(SCIFACT),
                "--run",
                str(tmp / "t.run"),
                "--output",
                str(tmp / "same.parquet"),
                "--system",
                f"s{i}",
            ],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    codes = [p.wait() for p in procs]
    from rankarena.data import Results

    rows = Results.from_parquet(tmp / "same.parquet").table.num_rows
    return Outcome(
        max(codes), codes == [0] * 8 and rows == 16, f"exit codes {codes}; {rows} of 16 rows kept"
    )


@probe("store: 2 processes x 150 appends of 300 rows")
def _(tmp: Path) -> Outcome:
    script = textwrap.dedent(
        """
        import sys
        from rankarena.data import Results
        store, w = sys.argv[1], sys.argv[2]
        for i in range(150):
            rows = [{"system": f"w{w}", "dataset": "d", "split": "t", "metric": f"m{j}",
                     "value": 1.0, "run_id": f"{w}-{i}"} for j in range(300)]
            Results.from_rows(rows).append_to(store)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp / "s.parquet"), str(w)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    codes = [p.wait() for p in procs]
    from rankarena.data import Results

    rows = Results.from_parquet(tmp / "s.parquet").table.num_rows
    return Outcome(
        max(codes),
        codes == [0, 0] and rows == 90_000,
        f"exit codes {codes}; {rows} of 90000 rows kept",
    )


@probe("run: 2 concurrent `rankarena run` on one folder, 5 pairs")
def _(tmp: Path) -> Outcome:
    data = small_beir(tmp)
    seen = []
    for pair in range(5):
        config = write_config(
            tmp / f"run{pair}.toml", data, output=f"out{pair}", metrics='["ndcg@10", "recall@100"]'
        )
        procs = [
            subprocess.Popen(
                [*CLI, "run", str(config)],
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate() for p in procs]
        computed = sum(
            int(line.split(":", 1)[1].split(" runs computed")[0])
            for out, _ in outs
            for line in out.splitlines()
            if "runs computed" in line
        )
        from rankarena.data import Results

        rows = Results.from_parquet(tmp / f"out{pair}" / "results.parquet").table.num_rows
        seen.append((max(p.returncode for p in procs), computed, rows))
    ok = all(s == (0, 3, 6) for s in seen)
    return Outcome(
        max(s[0] for s in seen),
        ok,
        "(exit, runs computed, rows) per pair: " + ", ".join(map(str, seen)),
    )


# ---------------------------------------------------------------- code executed from data
class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@probe("train: a planted pickle in a checkpoint's trainer_state.pt is not run")
def _(tmp: Path) -> Outcome:
    marker = tmp / "PWNED"
    step = tmp / "model" / "checkpoints" / "step-1"
    step.mkdir(parents=True)
    import torch

    torch.save({"payload": _Payload(marker)}, step / "trainer_state.pt")
    for name in ("state.json", "trainer_state.json"):
        (step / name).write_bytes(pickle.dumps(_Payload(marker)))
    done = cli(
        "train",
        "--dataset",
        small_beir(tmp),
        "--split",
        "test",
        "--max-steps",
        "1",
        "--batch-size",
        "4",
        "--eval-split",
        "",
        "--output",
        tmp / "model",
    )
    ran = marker.exists()
    return Outcome(
        done.returncode,
        not ran and "Traceback" not in done.stderr,
        f"payload ran: {ran}; " + (done.stderr.strip().splitlines() or ["(no stderr)"])[-1][:120],
    )


@probe("dense: a malicious pytorch_model.bin is neither run nor a traceback")
def _(tmp: Path) -> Outcome:
    from rankarena.retrieval.models import resolve_model

    marker = tmp / "PWNED"
    model = tmp / "evil-model"
    shutil.copytree(
        resolve_model("minilm").location,
        model,
        ignore=shutil.ignore_patterns(
            "*.safetensors", "*.bin", "*.onnx", "*.h5", "onnx", "openvino"
        ),
    )
    (model / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    done = cli(
        "retrieve",
        "--dataset",
        small_beir(tmp),
        "--retriever",
        "dense",
        "--param",
        f"model={model}",
        "--output",
        tmp / "t.run",
    )
    result = one_line_error(done)
    result.ok = result.ok and not marker.exists()
    return result


# ---------------------------------------------------------------- caches
def _dense_cache_probe(tmp: Path, damage: Callable[[Path], None]) -> Outcome:
    data = small_beir(tmp, queries=5, others=45)
    env = {**ENV, "RANKARENA_CACHE_DIR": str(tmp / "cache")}
    first = cli(
        "retrieve",
        "--dataset",
        data,
        "--retriever",
        "dense",
        "--output",
        tmp / "a.run",
        "--metrics",
        "ndcg@10",
        env=env,
    )
    entries = list((tmp / "cache" / "embeddings").glob("*.npy"))
    for entry in entries:
        damage(entry)
    second = cli(
        "retrieve",
        "--dataset",
        data,
        "--retriever",
        "dense",
        "--output",
        tmp / "b.run",
        "--metrics",
        "ndcg@10",
        env=env,
    )
    third = cli(
        "retrieve", "--dataset", data, "--retriever", "dense", "--output", tmp / "c.run", env=env
    )
    same = (tmp / "a.run").read_text() == (tmp / "b.run").read_text() == (tmp / "c.run").read_text()
    ok = first.returncode == second.returncode == third.returncode == 0 and same and entries != []
    warning = next(
        (line for line in second.stderr.splitlines() if "cache" in line.lower()), "(no warning)"
    )
    return Outcome(
        second.returncode, ok, f"runs identical after rebuild: {same}; {warning.strip()[:110]}"
    )


@probe("dense: an embedding cache with 199 rows for 200 documents is rebuilt")
def _(tmp: Path) -> Outcome:
    import numpy as np

    def drop_row(entry: Path) -> None:
        vectors = np.load(entry)
        np.save(entry, vectors[:-1])

    return _dense_cache_probe(tmp, drop_row)


@probe("dense: a truncated embedding cache is rebuilt, not fatal on every rerun")
def _(tmp: Path) -> Outcome:
    return _dense_cache_probe(tmp, lambda entry: entry.write_bytes(entry.read_bytes()[:1000]))


# ---------------------------------------------------------------- destinations
@probe("retrieve: --output existing.run/x.run")
def _(tmp: Path) -> Outcome:
    (tmp / "existing.run").write_text("x")
    return one_line_error(
        cli("retrieve", "--dataset", SCIFACT, "--output", tmp / "existing.run" / "x.run")
    )


def _read_only(command: Callable[[Path, Path], list]) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        with tmpfs(tmp, "4M", read_only=True) as mount:
            if mount is None:
                return Outcome(None, True, "not run (needs root to mount a read-only tmpfs)")
            return one_line_error(cli(*command(tmp, mount)))

    return run


def _scifact_run(tmp: Path) -> Path:
    if not (tmp / "t.run").exists():
        cli("retrieve", "--dataset", SCIFACT, "--k", "100", "--output", tmp / "t.run")
    return tmp / "t.run"


probe("run: read-only destination")(
    _read_only(
        lambda tmp, m: [
            "run",
            write_config(tmp / "run.toml", small_beir(tmp), output=str(m / "out")),
        ]
    )
)
probe("eval: read-only destination")(
    _read_only(
        lambda tmp, m: [
            "eval",
            "--dataset",
            SCIFACT,
            "--run",
            _scifact_run(tmp),
            "--output",
            m / "r.parquet",
        ]
    )
)
probe("retrieve: read-only destination")(
    _read_only(lambda tmp, m: ["retrieve", "--dataset", SCIFACT, "--output", m / "t.run"])
)
probe("aggregate: read-only destination")(
    _read_only(
        lambda tmp, m: [
            "aggregate",
            _scores(tmp, "system,task,score\na,t1,0.5\nb,t1,0.4\n"),
            "--output",
            m / "b.csv",
        ]
    )
)


def _full_disk(
    command: Callable[[Path, Path], list], keep: str | None = None
) -> Callable[[Path], Outcome]:
    def run(tmp: Path) -> Outcome:
        with tmpfs(tmp, "600k") as mount:
            if mount is None:
                return Outcome(None, True, "not run (needs root to mount a small tmpfs)")
            args = command(tmp, mount)
            before = (mount / keep).read_bytes() if keep and (mount / keep).exists() else None
            done = cli(*args)
            result = one_line_error(done, "No space left on device")
            if keep and before is not None:
                intact = (mount / keep).read_bytes() == before
                result.ok = result.ok and intact
                result.seen += f" (existing {keep} intact: {intact})"
            return result

    return run


def _eval_full(tmp: Path, mount: Path) -> list:
    run = _scifact_run(tmp)
    cli(
        "eval", "--dataset", SCIFACT, "--run", run, "--output", mount / "r.parquet"
    )  # a store to keep
    free = shutil.disk_usage(mount).free
    (mount / "filler").write_bytes(b"\0" * max(free - 2048, 0))
    return [
        "eval",
        "--dataset",
        SCIFACT,
        "--run",
        run,
        "--output",
        mount / "r.parquet",
        "--per-query",
    ]


probe("eval: full disk")(_full_disk(_eval_full, keep="r.parquet"))
probe("retrieve: full disk")(
    _full_disk(
        lambda tmp, m: ["retrieve", "--dataset", SCIFACT, "--k", "1000", "--output", m / "t.run"]
    )
)
probe("run: full disk")(
    _full_disk(
        lambda tmp, m: ["run", write_config(tmp / "run.toml", SCIFACT, output=str(m / "out"))]
    )
)


# ---------------------------------------------------------------- memory
def _big_scores(tmp: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["system,task,score"]
    scores = rng.random((5000, 200))
    lines += [f"s{i},t{j},{scores[i, j]:.6f}" for i in range(5000) for j in range(200)]
    return _scores(tmp, "\n".join(lines) + "\n")


for _method in ("copeland", "swiss"):

    def _memory(tmp: Path, method: str = _method) -> Outcome:
        # swiss: 1,000 tournaments (its default, 100,000, takes about an hour on 5,000
        # systems on 2 cores: it works, it is just long)
        extra = ["--param", "swiss.tournaments=1000"] if method == "swiss" else []
        done = cli("aggregate", _big_scores(tmp), "--method", method, "--top", "3", *extra)
        if done.returncode == 0:
            return Outcome(0, True, "completed: " + " ".join(done.stdout.split()[:12]))
        return one_line_error(done, "GiB")

    probe(f"aggregate --method {_method}: 5,000 systems x 200 tasks")(_memory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the probes whose name contains this text")
    args = parser.parse_args()
    if not SCIFACT.is_dir():
        print(f"{SCIFACT} is missing: set RANKARENA_DATA_DIR", file=sys.stderr)
        return 2
    chosen = {name: fn for name, fn in PROBES.items() if not args.only or args.only in name}
    print("| # | probe | exit | verdict | seconds | what it saw |\n|---|---|---|---|---|---|")
    failures = 0
    for number, (name, function) in enumerate(chosen.items(), start=1):
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            try:
                outcome = function(Path(folder))
            except Exception as exc:  # a probe that breaks is a failure, not a crash
                outcome = Outcome(None, False, f"probe raised {type(exc).__name__}: {exc}"[:160])
        seconds = time.perf_counter() - started
        failures += not outcome.ok
        seen = outcome.seen.replace("|", "\\|").replace("\n", " ")
        print(
            f"| {number} | {name} | {outcome.code} | {'ok' if outcome.ok else 'FAIL'} | "
            f"{seconds:.1f} | {seen} |",
            flush=True,
        )
    print(f"\n{len(chosen) - failures} of {len(chosen)} probes ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
