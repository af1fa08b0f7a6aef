"""The trainer drives samplers that act during training
(rankarena.training.sampler_schedule): ``curriculum``'s weights scale each step's loss,
``dynamic`` re-mines due batches with the model being trained."""

from __future__ import annotations

import numpy as np
import pytest

import rankarena.training.trainer as trainer_module
from rankarena.core.host import plugin_manager
from rankarena.data import write_beir
from rankarena.plugins.samplers.dynamic import DynamicNegatives
from rankarena.training.batches import epoch_order
from rankarena.training.sampler_schedule import SamplerSchedule
from rankarena.training.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def subset_dir(scifact_subset, tmp_path_factory):
    """16 SciFact train queries, their judged documents and 40 others, as a BEIR folder."""
    corpus, queries, qrels = scifact_subset(16, 40)
    return write_beir(tmp_path_factory.mktemp("schedule-subset"), corpus, queries, {"train": qrels})


def trainer(subset_dir, output, **changes) -> Trainer:
    base = dict(
        dataset=str(subset_dir),
        output=str(output),
        batch_size=8,
        max_length=64,
        max_steps=2,
        eval_split=None,
        learning_rate=1e-3,
        num_negatives=2,
        seed=7,
    )
    config = TrainConfig(**{**base, **changes})
    return Trainer(config, plugin_manager(), log=lambda _: None, show_progress=False)


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
    weighted = trainer(subset_dir, tmp_path / "weighted", **CURRICULUM)
    report = weighted.run()
    step0, index0, w0 = seen[0]
    # independently: the sampler's weights at step 0 of 2 over the first batch of epoch 0
    examples = weighted.sampler.examples
    assert index0 == list(epoch_order(len(examples), 7, 0)[:8])
    expected = weighted.sampler.weights(0, 2, examples)[index0].mean()
    assert step0 == 0 and w0 == pytest.approx(expected, abs=1e-12) and 0.0 <= w0 < 1.0
    assert seen[1][2] == pytest.approx(1.0)  # the curriculum ends at the last step

    monkeypatch.setattr(SamplerSchedule, "loss_weight", lambda self, step, index: 1.0)
    plain = trainer(subset_dir, tmp_path / "plain", **CURRICULUM).run()
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
    run = trainer(subset_dir, tmp_path / "dynamic", sampler="dynamic", max_steps=3, epochs=2,
                  sampler_params={"every": 2})  # fmt: skip
    run.run()
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
