"""``rankarena train``: a real MiniLM fine-tuned on a SciFact subset
(rankarena.training.trainer)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

import rankarena.training.trainer as trainer_module
from rankarena.cli.main import main
from rankarena.core.host import plugin_manager
from rankarena.data import store_exists, write_beir
from rankarena.errors import ParameterError, RankarenaError, UnknownNameError
from rankarena.plugins.samplers.dynamic import DynamicNegatives
from rankarena.retrieval.models import resolve_model
from rankarena.training.batches import epoch_order
from rankarena.training.sampler_schedule import SamplerSchedule
from rankarena.training.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def subset_dir(scifact_subset, tmp_path_factory):
    """24 SciFact train queries, their judged documents and 60 others, as a BEIR folder."""
    corpus, queries, qrels = scifact_subset(24, 60)
    return write_beir(tmp_path_factory.mktemp("scifact-subset"), corpus, queries, {"train": qrels})


def config(subset_dir, output, **changes) -> TrainConfig:
    base = dict(
        dataset=str(subset_dir),
        output=str(output),
        batch_size=8,
        max_length=64,
        max_steps=2,
        eval_split=None,
        learning_rate=1e-4,
    )
    return TrainConfig(**{**base, **changes})


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def run(cfg: TrainConfig, trainer_class=Trainer):
    return trainer_class(cfg, plugin_manager(), log=lambda _: None, show_progress=False).run()


def test_train_evaluates_before_and_after_and_saves_a_dense_model(subset_dir, tmp_path):
    out = tmp_path / "model"
    cfg = config(
        subset_dir,
        out,
        sampler="retriever-topk",
        sampler_params={"retriever": "bm25"},
        eval_split="train",
        results=str(tmp_path / "results.parquet"),
        name="tuned",
    )
    report = run(cfg)
    assert report.steps == 2 and report.examples == 16 and report.examples_per_second > 0
    assert len(report.losses) == 2 and all(np.isfinite(report.losses))
    assert not (out / "checkpoints").exists()
    # both evaluations are in the results store
    table = pq.read_table(tmp_path / "results.parquet").to_pylist()
    means = {(r["variant"], r["metric"]): r["value"] for r in table if r["query_id"] is None}
    assert set(means) == {(v, m) for v in ("before", "after") for m in ("ndcg@10", "recall@100")}
    assert {r["system"] for r in table} == {"tuned"}
    name = subset_dir.name
    assert report.before[name]["ndcg@10"] == pytest.approx(means["before", "ndcg@10"])
    assert report.after[name]["ndcg@10"] == pytest.approx(means["after", "ndcg@10"])
    # the weights moved
    base = load_file(str(resolve_model("minilm").location) + "/model.safetensors")
    tuned = weights(out)
    assert any(not torch.equal(base[k], tuned[k]) for k in base if k in tuned)
    # the folder is a dense model by path, and sentence-transformers reads the same model
    host = plugin_manager()
    dataset = host.datasets.create("beir", path=str(subset_dir))
    dense = host.retrievers.create("dense", model=str(out), show_progress=False)
    dense.index(dataset.corpus)
    from rankarena.evaluate import evaluate

    again = evaluate(
        dense.search(dataset.queries("train"), k=100), dataset.qrels("train"), ["ndcg@10"]
    )
    assert again.mean["ndcg@10"] == pytest.approx(report.after[name]["ndcg@10"], abs=1e-9)
    from sentence_transformers import SentenceTransformer

    st_model = SentenceTransformer(str(out), device="cpu")
    texts = dataset.corpus.texts(with_title=True)[:5]
    np.testing.assert_allclose(
        st_model.encode(texts), dense.encoder.encode(texts), atol=2e-5, rtol=0
    )
    assert st_model.max_seq_length == 256  # the model's own length, not the training one
    assert json.loads((out / "training.json").read_text())["precision"] == "fp32"
    # the trainer's records are not part of the model: the embedding cache key ignores them
    import shutil

    from rankarena.plugins.retrieval.dense import model_fingerprint

    bare = tmp_path / "bare"
    shutil.copytree(out, bare, ignore=shutil.ignore_patterns("training.json", "eval-*.json"))
    assert model_fingerprint(bare, str(bare)) == model_fingerprint(out, str(out))
    (bare / "config.json").write_text((bare / "config.json").read_text() + " ")
    assert model_fingerprint(bare, str(bare)) != model_fingerprint(out, str(out))


class Interrupted(Trainer):
    """Dies right after writing the step-2 checkpoint (as a killed run would)."""

    def _checkpoint(self, *args, **kwargs):
        super()._checkpoint(*args, **kwargs)
        if args[4] == 2:
            raise KeyboardInterrupt


def test_seeded_and_resumes_to_the_same_model(subset_dir, tmp_path):
    common = dict(max_steps=3, save_steps=1, sampler="in-batch", seed=5)
    whole = run(config(subset_dir, tmp_path / "whole", **common))
    with pytest.raises(KeyboardInterrupt):
        run(config(subset_dir, tmp_path / "cut", **common), Interrupted)
    assert not (tmp_path / "cut" / "training.json").exists()
    assert (tmp_path / "cut" / "checkpoints" / "step-2").is_dir()
    resumed = run(config(subset_dir, tmp_path / "cut", **common))
    assert resumed.resumed_from == 2 and resumed.steps == 3 and resumed.examples == 24
    assert resumed.losses == pytest.approx(whole.losses, abs=1e-6)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0, msg=key)
    other = weights_after(subset_dir, tmp_path / "other", {**common, "seed": 6})
    assert any(not torch.equal(a[k], other[k]) for k in a)


def test_resumes_a_learnable_loss_from_safetensors_and_json(subset_dir, tmp_path):
    """AMCL's learnable scales (loss tensors, an extra optimiser group) and the RNG states
    round-trip through a checkpoint that holds no pickle."""
    common = dict(max_steps=3, save_steps=1, seed=3, loss="amcl")
    whole = run(config(subset_dir, tmp_path / "whole", **common))
    with pytest.raises(KeyboardInterrupt):
        run(config(subset_dir, tmp_path / "cut", **common), Interrupted)
    folder = tmp_path / "cut" / "checkpoints" / "step-2"
    assert sorted(p.name for p in folder.glob("trainer_state*")) == [
        "trainer_state.json",
        "trainer_state.safetensors",
    ]
    assert any(k.startswith("loss.") for k in load_file(str(folder / "trainer_state.safetensors")))
    resumed = run(config(subset_dir, tmp_path / "cut", **common))
    assert resumed.resumed_from == 2
    assert resumed.losses == pytest.approx(whole.losses, abs=1e-6)
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "cut")
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0, msg=key)


def test_checkpoint_state_round_trips_without_pickle(tmp_path):
    """An enabled GradScaler, AdamW's tuple betas, a loss parameter and every RNG state
    come back from safetensors + JSON as they were (no model download: a tiny network)."""
    import random
    from types import SimpleNamespace

    from safetensors.torch import save_file
    from transformers import get_linear_schedule_with_warmup

    from rankarena.training.trainer import TrainingParts, checkpoint_state, read_checkpoint

    def parts() -> TrainingParts:
        torch.manual_seed(0)
        network, loss = torch.nn.Linear(3, 2), torch.nn.Linear(1, 1)
        optimizer = torch.optim.AdamW([*network.parameters(), *loss.parameters()], lr=0.1)
        scheduler = get_linear_schedule_with_warmup(optimizer, 1, 10)
        scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
        return TrainingParts(SimpleNamespace(network=network), optimizer, scheduler, scaler, loss)

    saved = parts()
    saved.optimizer.zero_grad()
    out = saved.encoder.network(torch.ones(1, 3)).sum() + saved.loss_fn(torch.ones(1, 1)).sum()
    saved.scaler.scale(out).backward()
    saved.scaler.step(saved.optimizer)
    saved.scaler.update()
    saved.scheduler.step()
    random.seed(7)
    record, tensors = checkpoint_state(saved)
    record.update(format=2, step=1, losses=[0.5], fingerprint="f", done_before=[4, 1.0])
    (tmp_path / "trainer_state.json").write_text(json.dumps(record))
    save_file(tensors, str(tmp_path / "trainer_state.safetensors"))
    save_file(saved.encoder.network.state_dict(), str(tmp_path / "model.safetensors"))
    expected = (random.random(), np.random.rand(), torch.rand(1))
    restored = parts()
    read_checkpoint(tmp_path, json.loads(json.dumps(record)), restored).apply(restored)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert restored.scaler.state_dict() == saved.scaler.state_dict()
    assert restored.scheduler.state_dict() == saved.scheduler.state_dict()
    a, b = saved.optimizer.state_dict(), restored.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"] and b["param_groups"][0]["betas"] == (0.9, 0.999)
    for pid, entry in a["state"].items():
        for name, value in entry.items():
            torch.testing.assert_close(b["state"][pid][name], value, atol=0, rtol=0)
    modules = [(saved.encoder.network, restored.encoder.network)]
    modules.append((saved.loss_fn, restored.loss_fn))
    for one, other in modules:
        for key, value in one.state_dict().items():
            torch.testing.assert_close(other.state_dict()[key], value, atol=0, rtol=0)


def weights_after(subset_dir, out, changes):
    run(config(subset_dir, out, **changes))
    return weights(out)


def test_finished_output_is_reused_and_another_config_refused(subset_dir, tmp_path):
    out = tmp_path / "m"
    first = run(config(subset_dir, out, max_steps=1))
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    again = run(config(subset_dir, out, max_steps=1))
    assert again.losses == first.losses
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(RankarenaError, match="another configuration"):
        run(config(subset_dir, out, max_steps=1, loss="mw"))


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"loss": "infonse"}, UnknownNameError, "infonce"),
        ({"precision": "fp16"}, ParameterError, "does not report fp16"),
        ({"precision": "fp8"}, ParameterError, "valid: auto, fp32, bf16, fp16"),
        ({"batch_size": 0}, ParameterError, "batch_size must be >= 1"),
        ({"layout": "list"}, ParameterError, "teacher scores"),
        ({"chunk_size": 0}, ParameterError, "chunk_size"),
        ({"examples": "mined.parquet", "sampler": "dynamic"}, ParameterError, "one or the other"),
    ],
)
def test_bad_settings_fail_in_one_line(subset_dir, tmp_path, changes, error, match):
    with pytest.raises(error, match=match) as info:
        run(config(subset_dir, tmp_path / "bad", **changes))
    assert "\n" not in str(info.value)


def test_bf16_autocast_and_gradient_caching(subset_dir, tmp_path):
    """The CPU reports bf16: autocast runs with it; chunked (cached) steps train too."""
    out = tmp_path / "bf16"
    report = run(config(subset_dir, out, precision="bf16", chunk_size=4, max_steps=1))
    assert np.isfinite(report.losses).all()
    assert json.loads((out / "training.json").read_text())["precision"] == "bf16"


def test_list_layout_with_teacher_scores_trains_a_distillation_loss(subset_dir, tmp_path):
    report = run(
        config(
            subset_dir,
            tmp_path / "kd",
            sampler="positive-aware",
            sampler_params={"retriever": "bm25"},
            num_negatives=2,
            loss="margin-mse",
            layout="list",
            max_steps=1,
        )
    )
    assert np.isfinite(report.losses).all()


def test_cli_train_prints_before_and_after(subset_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(
        [
            "train",
            "--dataset", str(subset_dir),
            "--eval-split", "train",
            "--loss", "mw",
            "--batch-size", "8",
            "--max-length", "64",
            "--max-steps", "1",
            "--metrics", "ndcg@10",
            "--output", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "before -> after" in printed and "ndcg@10" in printed
    assert store_exists(out / "results.parquet")


def test_cli_unknown_sampler_is_one_line(subset_dir, tmp_path, capsys):
    code = main(
        ["train", "--dataset", str(subset_dir), "--sampler", "bm", "--output", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "positive-aware" in err


def test_before_and_after_follow_edited_qrels_and_new_metrics(scifact_subset, tmp_path):
    """A finished training is not redone, but its evaluations are: an edited eval qrels file
    or a metric added is evaluated again (equal to evaluating the saved model afresh)."""
    from rankarena.evaluate import evaluate

    corpus, queries, qrels = scifact_subset(24, 60)
    folder = write_beir(tmp_path / "data", corpus, queries, {"train": qrels, "test": qrels})
    out = tmp_path / "model"
    first = run(config(folder, out, max_steps=1, eval_split="test", metrics=["ndcg@10"]))
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    header, *rows = (folder / "qrels" / "test.tsv").read_text().splitlines()
    (folder / "qrels" / "test.tsv").write_text("\n".join([header, *rows[::2]]) + "\n")
    again = run(config(folder, out, max_steps=1, eval_split="test", metrics=["ndcg@10", "mrr@10"]))
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # not trained again
    assert again.losses == first.losses
    host = plugin_manager()
    dataset = host.datasets.create("beir", path=str(folder))
    for model, means in ((str(out), again.after), ("minilm", again.before)):
        dense = host.retrievers.create("dense", model=model, show_progress=False)
        run_ = dense.index(dataset.corpus).search(dataset.queries("test"), k=100)
        fresh = evaluate(run_, dataset.qrels("test"), ["ndcg@10", "mrr@10"]).mean
        assert means[folder.name] == pytest.approx(fresh, abs=1e-9)
    assert again.after[folder.name]["ndcg@10"] != pytest.approx(first.after[folder.name]["ndcg@10"])
    # a third run changes nothing and evaluates nothing: the stored keys match
    stored = pq.read_table(out / "results.parquet").num_rows
    third = run(config(folder, out, max_steps=1, eval_split="test", metrics=["ndcg@10", "mrr@10"]))
    assert third.after == again.after and pq.read_table(out / "results.parquet").num_rows == stored
    # edited training qrels: the model was trained on other data
    (folder / "qrels" / "train.tsv").write_text("\n".join([header, *rows[1::2]]) + "\n")
    with pytest.raises(RankarenaError, match="trained on other data"):
        run(config(folder, out, max_steps=1, eval_split="test", metrics=["ndcg@10"]))


def test_search_depth_reaches_past_the_positives_for_the_pooled_auc():
    """``auc@N`` pools the top N non-positives of each query: the trainer's evaluation
    searches N plus the most positives a query has (here 3), never a short pool."""
    from rankarena import Qrels
    from rankarena.training.trainer import search_depth

    qrels = Qrels.from_dict({"q1": {"a": 1, "b": 2, "c": 1, "d": 0}, "q2": {"a": 1}})
    assert search_depth(["ndcg@10"], qrels) == 100
    assert search_depth(["ndcg@10", "auc@50"], qrels) == 100
    assert search_depth(["auc"], qrels) == 503
    assert search_depth(["auc@200", "recall@1000"], qrels) == 1000


# the trainer drives samplers that act during training (rankarena.training.sampler_schedule):
# curriculum's weights scale each step's loss, dynamic re-mines due batches

SCHEDULED = dict(learning_rate=1e-3, num_negatives=2, seed=7)
CURRICULUM = dict(
    sampler="curriculum",
    sampler_params={"sampler": "retriever-topk", "sampler_params": {"retriever": "bm25"}},
)


def test_curriculum_scales_each_steps_loss_by_its_batchs_mean_weight(
    subset_dir, tmp_path, monkeypatch
):
    seen = []
    original = SamplerSchedule.loss_weight

    def recorded(self, step, batch_index):
        seen.append((step, list(batch_index), original(self, step, batch_index)))
        return seen[-1][2]

    monkeypatch.setattr(SamplerSchedule, "loss_weight", recorded)
    weighted = Trainer(
        config(subset_dir, tmp_path / "weighted", **SCHEDULED, **CURRICULUM),
        plugin_manager(),
        log=lambda _: None,
        show_progress=False,
    )
    report = weighted.run()
    step0, index0, w0 = seen[0]
    # independently: the sampler's weights at step 0 of 2 over the first batch of epoch 0
    examples = weighted.sampler.examples
    assert index0 == list(epoch_order(len(examples), SCHEDULED["seed"], 0)[:8])
    expected = weighted.sampler.weights(0, 2, examples)[index0].mean()
    assert step0 == 0 and w0 == pytest.approx(expected, abs=1e-12) and 0.0 <= w0 < 1.0
    assert seen[1][2] == pytest.approx(1.0)  # the curriculum ends at the last step

    monkeypatch.setattr(SamplerSchedule, "loss_weight", lambda self, step, index: 1.0)
    plain = run(config(subset_dir, tmp_path / "plain", **SCHEDULED, **CURRICULUM))
    assert report.losses[0] == pytest.approx(plain.losses[0] * w0, rel=1e-5)


def test_dynamic_re_mines_due_batches_with_the_model_being_trained(
    subset_dir, tmp_path, monkeypatch
):
    refreshed, batches, mined = [], [], []
    original_refresh = DynamicNegatives.refresh
    original_build = trainer_module.build_batch

    def refresh(self, context, query_encoder, num_negatives, query_ids=None):
        result = original_refresh(self, context, query_encoder, num_negatives, query_ids)
        if query_ids is None:  # sample(): the mining before training
            mined.extend(result.table.to_pylist())
        else:  # the trainer's re-mining of a batch
            refreshed.append((list(query_ids), result.table.to_pylist()))
        return result

    def build_batch(rows, *args, **kwargs):
        batches.append([dict(r) for r in rows])
        return original_build(rows, *args, **kwargs)

    monkeypatch.setattr(DynamicNegatives, "refresh", refresh)
    monkeypatch.setattr(trainer_module, "build_batch", build_batch)
    changes = dict(sampler="dynamic", max_steps=3, epochs=2, sampler_params={"every": 2})
    run(config(subset_dir, tmp_path / "dynamic", **{**SCHEDULED, **changes}))
    static = {(r["query_id"], r["positive_id"]): r for r in mined}
    assert len(batches) == 3 and len(refreshed) == 2  # steps 0 and 2 are due, 1 is not

    def pairs(rows):
        return [(r["query_id"], r["positive_id"]) for r in rows]

    for step, (queries, rows) in zip((0, 2), refreshed, strict=True):
        batch = batches[step]
        assert queries == list(dict.fromkeys(r["query_id"] for r in batch))
        fresh = {(r["query_id"], r["positive_id"]): r["negative_ids"] for r in rows}
        assert [r["negative_ids"] for r in batch] == [fresh[p] for p in pairs(batch)]
        assert all(len(r["negative_ids"]) == 2 for r in batch)
    # step 1 is not due: its batch keeps the negatives mined before training
    assert [r["negative_ids"] for r in batches[1]] == [
        static[p]["negative_ids"] for p in pairs(batches[1])
    ]
    # at step 0 the model is the starting one: the same negatives as mined before training
    assert [r["negative_ids"] for r in batches[0]] == [
        static[p]["negative_ids"] for p in pairs(batches[0])
    ]
    # by step 2 the query encoder has moved (lr 1e-3): its scores are no longer the start's
    start = np.array([static[p]["negative_scores"] for p in pairs(batches[2])])
    later = np.array([r["negative_scores"] for r in batches[2]])
    assert not np.allclose(start, later, atol=1e-4)
