"""Nothing read back from disk runs code: every file the project reloads gets a live pickle
payload (its ``__reduce__`` creates a marker file), the real code path reads it, and the
marker never appears. Each case ends as designed: a one-line ``rankarena: error:`` with
exit status 2, or a warning and a rebuild (trainer checkpoints, embedding cache).

Files covered: a trainer checkpoint's ``trainer_state.json``, ``trainer_state.safetensors``
and ``model.safetensors`` (the files resuming reads) and the pickled ``trainer_state.pt`` of
earlier releases; a model folder's ``pytorch_model.bin`` (and a weight file ``config.json``
names); the dense retriever's document and query embedding caches (``.npy``).
"""

from __future__ import annotations

import json
import pathlib
import pickle
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import rankarena
from rankarena.cli.main import main
from rankarena.data import Corpus, write_beir
from rankarena.errors import DataFormatError, ParameterError
from rankarena.retrieval.models import TRUST_PICKLED_WEIGHTS, resolve_model
from rankarena.training.trainer import LEGACY_STATE_FILE, STATE_FILE, TENSORS_FILE, Trainer


class Payload:
    """Unpickling this creates ``marker`` (a stand-in for any code an attacker would run)."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path) -> pathlib.Path:
    return tmp_path / "payload-ran"


def plant(path: pathlib.Path, marker: pathlib.Path, kind: str = "torch") -> None:
    """Replace ``path`` by a payload: a ``torch.save`` archive, a bare pickle, or a ``.npy``
    of an object array."""
    path.unlink(missing_ok=True)
    if kind == "torch":
        torch.save({"state": Payload(marker)}, path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps(Payload(marker)))
    else:
        with open(path, "wb") as handle:  # np.save(path) would append .npy to other names
            np.save(handle, np.array([Payload(marker)], dtype=object), allow_pickle=True)


@pytest.mark.parametrize("kind", ["torch", "pickle", "npy"])
def test_the_payloads_are_live(tmp_path, marker, kind):
    """Control: each planted file runs its payload when loaded the unsafe way."""
    path = tmp_path / "payload"
    plant(path, marker, kind)
    assert not marker.exists()
    if kind == "torch":
        torch.load(path, weights_only=False)
    elif kind == "pickle":
        pickle.loads(path.read_bytes())
    else:
        np.load(path, allow_pickle=True)
    assert marker.exists()


# ---------------------------------------------------------------- trainer checkpoints
@pytest.fixture(scope="module")
def subset_dir(scifact_subset, tmp_path_factory):
    corpus, queries, qrels = scifact_subset(8, 20)
    return write_beir(tmp_path_factory.mktemp("scifact-8"), corpus, queries, {"train": qrels})


def train(subset_dir, output, *extra: str) -> int:
    """``rankarena train``: 2 steps of 4 rows, a checkpoint after each, no evaluation."""
    return main(
        [
            "--device", "cpu",
            "train",
            "--dataset", str(subset_dir),
            "--batch-size", "4",
            "--max-length", "32",
            "--max-steps", "2",
            "--save-steps", "1",
            "--eval-split", "",
            "--output", str(output),
            *extra,
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(subset_dir, tmp_path_factory):
    """An uninterrupted run's model weights and losses."""
    out = tmp_path_factory.mktemp("reference") / "model"
    assert train(subset_dir, out) == 0
    return load_file(str(out / "model.safetensors")), trained_losses(out)


@pytest.fixture(scope="module")
def interrupted(subset_dir, tmp_path_factory):
    """An output folder whose run died right after its step-1 checkpoint."""
    out = tmp_path_factory.mktemp("interrupted") / "model"
    original = Trainer._checkpoint

    def checkpoint_then_die(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Trainer, "_checkpoint", checkpoint_then_die)
        assert train(subset_dir, out) == 130
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-1"]
    return out


def trained_losses(output: pathlib.Path) -> list[float]:
    return json.loads((output / "training.json").read_text())["report"]["losses"]


def copy_of(interrupted, tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    out = tmp_path / "model"
    shutil.copytree(interrupted, out)
    return out, out / "checkpoints" / "step-1"


def assert_same_model(output, reference) -> None:
    weights, losses = reference
    assert trained_losses(output) == pytest.approx(losses, abs=1e-6)
    trained = load_file(str(output / "model.safetensors"))
    for key, value in weights.items():
        torch.testing.assert_close(trained[key], value, atol=1e-6, rtol=0, msg=key)


def test_a_checkpoint_holds_no_pickle(interrupted):
    folder = interrupted / "checkpoints" / "step-1"
    record = json.loads((folder / STATE_FILE).read_text())
    assert record["step"] == 1 and len(record["losses"]) == 1
    assert {"optimizer_groups", "scheduler", "scaler", "rng", "fingerprint"} <= set(record)
    tensors = load_file(str(folder / TENSORS_FILE))
    assert "rng.cpu" in tensors and any(k.startswith("optimizer.") for k in tensors)
    suffixes = {p.suffix for p in folder.rglob("*") if p.is_file()}
    assert suffixes == {".json", ".safetensors"}  # JSON and safetensors only: no pickle


def test_an_intact_checkpoint_resumes_and_a_planted_legacy_state_is_never_read(
    subset_dir, interrupted, reference, tmp_path, marker, capsys
):
    out, folder = copy_of(interrupted, tmp_path)
    plant(folder / LEGACY_STATE_FILE, marker)
    assert train(subset_dir, out) == 0
    assert not marker.exists()
    assert "resuming from" in capsys.readouterr().out
    assert_same_model(out, reference)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (STATE_FILE, "pickle"),
        (TENSORS_FILE, "torch"),
        ("model.safetensors", "torch"),
        ("legacy", "torch"),
    ],
)
def test_a_planted_checkpoint_file_is_skipped_with_a_warning(
    subset_dir, interrupted, reference, tmp_path, marker, capsys, name, kind
):
    """Every file resuming reads, replaced by a payload: the checkpoint is skipped with a
    warning and the run starts over, to the same model as an uninterrupted run. ``legacy``:
    a checkpoint of an earlier release (only a pickled ``trainer_state.pt``)."""
    out, folder = copy_of(interrupted, tmp_path)
    if name == "legacy":
        (folder / STATE_FILE).unlink()
        (folder / TENSORS_FILE).unlink()
        plant(folder / LEGACY_STATE_FILE, marker, kind)
    else:
        plant(folder / name, marker, kind)
    assert train(subset_dir, out) == 0
    assert not marker.exists()
    printed = capsys.readouterr().out
    assert "skipped, not a usable checkpoint" in printed and "resuming" not in printed
    if name == "legacy":
        assert "never loaded" in printed
    assert_same_model(out, reference)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["rng"].update(python=[3, [1, 2], None]), "bad RNG state"),
        (lambda r: r["optimizer_groups"][0].update(params=[0]), "other parameters"),
        (lambda r: r["scheduler"].update(last_epoch="x"), "scheduler state does not fit"),
    ],
)
def test_an_inconsistent_checkpoint_record_is_skipped(
    subset_dir, interrupted, tmp_path, capsys, change, reason
):
    out, folder = copy_of(interrupted, tmp_path)
    record = json.loads((folder / STATE_FILE).read_text())
    change(record)
    (folder / STATE_FILE).write_text(json.dumps(record))
    assert train(subset_dir, out) == 0
    assert reason in capsys.readouterr().out


def test_the_fingerprint_is_checked_before_any_other_file_is_read(
    subset_dir, interrupted, tmp_path, marker, capsys
):
    """A checkpoint of another configuration is refused in one line, whatever its other
    files hold."""
    out, folder = copy_of(interrupted, tmp_path)
    record = json.loads((folder / STATE_FILE).read_text())
    (folder / STATE_FILE).write_text(json.dumps({**record, "fingerprint": "0" * 64}))
    for name in (TENSORS_FILE, "model.safetensors", LEGACY_STATE_FILE):
        plant(folder / name, marker)
    assert train(subset_dir, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error: ") and err.count("\n") == 1
    assert "checkpoint of another configuration" in err
    assert not marker.exists()


# ---------------------------------------------------------------- model folders
@pytest.fixture(scope="module")
def minilm() -> pathlib.Path:
    return pathlib.Path(resolve_model("minilm").location)


@pytest.fixture
def pickled_model(minilm, tmp_path, marker) -> pathlib.Path:
    """The MiniLM folder with a payload ``pytorch_model.bin`` in place of its safetensors."""
    folder = tmp_path / "pickled-model"
    shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    plant(folder / "pytorch_model.bin", marker)
    return folder


def assert_one_line_error(capsys, *needles: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("rankarena: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err


def test_pickled_weights_are_refused_with_the_way_to_opt_in(
    subset_dir, pickled_model, tmp_path, marker, capsys
):
    code = train(subset_dir, tmp_path / "out", "--model", str(pickled_model))
    assert code == 2 and not marker.exists()
    assert_one_line_error(capsys, "pytorch_model.bin", "pickled weights", TRUST_PICKLED_WEIGHTS)


@pytest.mark.parametrize(
    ("kind", "component", "params"),
    [
        ("retrievers", "dense", {"device": "cpu"}),
        ("rerankers", "bi-encoder", {"device": "cpu"}),
        ("rerankers", "cross-encoder", {"device": "cpu"}),
    ],
)
def test_every_model_loader_refuses_pickled_weights(pickled_model, marker, kind, component, params):
    registry = getattr(rankarena.plugin_manager(), kind)
    with pytest.raises(ParameterError, match=r"pytorch_model\.bin holds pickled weights") as info:
        registry.create(component, model=str(pickled_model), **params)
    assert "\n" not in str(info.value) and not marker.exists()


def test_opted_in_pickled_weights_still_run_no_code(
    subset_dir, pickled_model, tmp_path, marker, capsys, monkeypatch
):
    """With the opt-in, the file is read by torch's restricted unpickler: the payload is
    refused in one line."""
    monkeypatch.setenv(TRUST_PICKLED_WEIGHTS, "1")
    code = train(subset_dir, tmp_path / "out", "--model", str(pickled_model))
    assert code == 2 and not marker.exists()
    assert_one_line_error(capsys, "pytorch_model.bin", "restricted unpickler refused it")


def test_opted_in_plain_pickled_weights_load(minilm, tmp_path, monkeypatch):
    """The opt-in works for an honest ``pytorch_model.bin`` (tensors only)."""
    folder = tmp_path / "bin-model"
    shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    weights = load_file(str(minilm / "model.safetensors"))
    torch.save(weights, folder / "pytorch_model.bin")
    host = rankarena.plugin_manager()
    with pytest.raises(ParameterError, match=TRUST_PICKLED_WEIGHTS):
        host.retrievers.create("dense", model=str(folder), device="cpu")
    monkeypatch.setenv(TRUST_PICKLED_WEIGHTS, "1")
    dense = host.retrievers.create("dense", model=str(folder), device="cpu")
    loaded = dense.encoder.network.state_dict()
    key = "embeddings.word_embeddings.weight"
    torch.testing.assert_close(loaded[key], weights[key])


def test_a_pickled_weight_file_named_by_the_config_is_refused(minilm, tmp_path, marker):
    folder = tmp_path / "named"
    shutil.copytree(minilm, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "transformers_weights": "w.bin"}))
    plant(folder / "w.bin", marker)
    with pytest.raises(ParameterError, match=r"w\.bin holds pickled weights"):
        rankarena.plugin_manager().retrievers.create("dense", model=str(folder), device="cpu")
    assert not marker.exists()


def test_a_corrupt_safetensors_file_is_one_line(minilm, tmp_path, marker):
    folder = tmp_path / "corrupt"
    shutil.copytree(minilm, folder)
    plant(folder / "model.safetensors", marker)
    with pytest.raises(DataFormatError, match=r"model\.safetensors: not a readable weight file"):
        rankarena.plugin_manager().retrievers.create("dense", model=str(folder), device="cpu")
    assert not marker.exists()


# ---------------------------------------------------------------- embedding caches
@pytest.fixture(scope="module")
def small(scifact):
    queries = scifact.queries("test")
    return Corpus(scifact.corpus.table.slice(0, 12)), queries.select(queries.ids[:4])


def cached_dense(cache_dir):
    return rankarena.plugin_manager().retrievers.create(
        "dense", device="cpu", cache_dir=str(cache_dir), max_length=32, show_progress=False
    )


@pytest.mark.parametrize("kind", ["npy", "pickle", "torch"])
def test_planted_embedding_caches_are_rebuilt(small, tmp_path, marker, kind):
    corpus, queries = small
    expected = cached_dense(tmp_path).index(corpus).search(queries, k=5)
    entries = sorted(tmp_path.glob("*.npy"))
    assert [p.name.startswith("q-") for p in entries].count(True) == 1 and len(entries) == 2
    for path in entries:
        plant(path, marker, kind)
    retriever = cached_dense(tmp_path)
    with pytest.warns(RuntimeWarning, match="unreadable") as caught:
        assert retriever.index(corpus).search(queries, k=5) == expected
    assert not marker.exists() and not retriever.cache_hit
    assert len(caught) == 2  # the document and the query entry
    for path in entries:  # rebuilt in place: plain float32 arrays again
        assert np.load(path, allow_pickle=False).dtype == np.float32
