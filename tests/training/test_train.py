"""`grefbench train`: the recipe runs, resumes, saves what load_model reads; DDP under torchrun."""

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from grefbench.data.catalog import embedded_root
from grefbench.models import load_model
from grefbench.training.loop import EpochBatches, TrainOptions, epoch_order, train
from grefbench.training.schedule import learning_rate_factor
from tests.builders import free_port


def _options(out, **changes):
    values = dict(data_root=embedded_root(), dataset="grefshapes", out=out, config="rela_tiny", split="testB",
                  val_split="testA", freeze_text=True, group_by_image=2, dice_weight=1.0, steps=4, batch_size=2, lr=5e-4,
                  warmup=2, workers=0, log_every=1, eval_every=2, eval_limit=4, checkpoint_every=2, threads=1)
    values.update(changes)
    return TrainOptions(**values)


# What the demo recipe adds to `_options` (README "Demo model"): the category head on the backbone.
DEMO_HEAD = dict(config_overrides=("GREFBENCH.CATEGORY_CLASSES=7", "GREFBENCH.CATEGORY_FEATURES=backbone"),
                 category_weight=1.0)


def test_recipe_trains_logs_and_saves_a_loadable_model(tmp_path):
    final = train(_options(tmp_path / "run", **DEMO_HEAD))
    rows = json.loads((tmp_path / "run" / "training_log.json").read_text())["rows"]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) == 4 and all(loss > 0 for loss in losses)
    assert [r["step"] for r in rows if "val_gIoU" in r] == [2, 4]
    assert (tmp_path / "run" / "loss_curve.svg").read_text().startswith("<?xml")
    assert (tmp_path / "run" / "training_log.csv").read_text().startswith("step,loss,lr")
    # The frozen packaged text encoder is left out of the checkpoint and comes back on load.
    content = torch.load(final, weights_only=True)
    assert content["text_encoder_source"] == "minilm-l6"
    assert not any(k.startswith("text_encoder.") for k in content["model"])
    assert final.stat().st_size < 20e6
    model = load_model("rela", weights=final)
    assert model.config.category_features == "backbone" and "sem_seg_head.category_embed.weight" in content["model"]
    trained = torch.load(tmp_path / "run" / "checkpoints" / "last.pth", weights_only=True)["model"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items() if k != "sem_seg_head.predictor.lang_weight")


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "--steps and --batch-size must be positive"),
    ({"group_by_image": 0}, "--group-by-image must be at least 1"),
    ({"dice_weight": -1.0}, "--dice-weight must be 0 or more"),
    ({"category_weight": -1.0}, "--category-weight must be 0 or more"),
    ({"no_target_weight": -0.5}, "--no-target-weight must be 0 or more"),
    ({"no_target_weight": float("nan")}, "--no-target-weight must be 0 or more"),
    ({"category_weight": 1.0}, "--category-weight needs a category head"),
    ({"config_overrides": ("GREFBENCH.CATEGORY_CLASSES=7",)}, r"train it with --category-weight"),
    ({"config_overrides": ("GREFBENCH.CATEGORY_CLASSES=4",), "category_weight": 1.0},
     "its largest category id is 6, so it needs at least 7"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, changes, message):
    from grefbench.errors import UsageError

    with pytest.raises(UsageError, match=message):
        train(_options(tmp_path / "run", **changes))
    assert not (tmp_path / "run").exists()


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    from grefbench.training import loop

    straight = train(_options(tmp_path / "straight"))
    original = loop.save_state

    def killed_after_saving(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_state", killed_after_saving)
    with pytest.raises(KeyboardInterrupt):
        train(_options(tmp_path / "resumed"))
    monkeypatch.setattr(loop, "save_state", original)
    assert not (tmp_path / "resumed" / "model_final.pth").exists()
    resumed = train(_options(tmp_path / "resumed"))
    rows = json.loads((tmp_path / "resumed" / "training_log.json").read_text())["rows"]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    a = torch.load(straight, weights_only=True)["model"]
    b = torch.load(resumed, weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5


def test_batches_depend_only_on_seed_and_step():
    whole = list(EpochBatches(10, 2, seed=3, start=0, stop=12))
    assert list(EpochBatches(10, 2, seed=3, start=7, stop=12)) == whole[7:]
    assert sorted(i for batch in whole[:5] for i in batch) == list(range(10))  # one epoch covers all
    ranks = [list(EpochBatches(10, 2, seed=3, start=0, stop=5, rank=r, world=2)) for r in (0, 1)]
    assert all(sorted(a + b) == sorted(set(a + b)) for a, b in zip(*ranks))


def test_grouped_batches_keep_sentences_of_an_image_together():
    groups = np.repeat(np.arange(12), 5)  # 12 images, 5 sentences each
    whole = list(EpochBatches(60, 8, seed=1, start=0, stop=14, groups=groups, group_size=4))
    assert list(EpochBatches(60, 8, seed=1, start=9, stop=14, groups=groups, group_size=4)) == whole[9:]
    epoch = [i for batch in whole[:7] for i in batch]
    assert len(set(epoch)) == 56 and set(epoch) <= set(range(60))  # no repeats within an epoch
    images_per_batch = [len(set(groups[batch].tolist())) for batch in whole[:7]]
    assert np.mean(images_per_batch) <= 3.5  # plain shuffling gives about 5.5
    order = epoch_order(np.random.default_rng(0), groups, 60, 4)
    runs = [len(list(run)) for _, run in itertools.groupby(groups[order].tolist())]
    assert sorted(order.tolist()) == list(range(60)) and len(runs) <= 30  # runs of 2 or 3, not 1


def test_schedule_warms_up_then_decays():
    factors = [learning_rate_factor(s, total=100, warmup=10) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[50] < factors[10] and factors[-1] == pytest.approx(0.01, abs=1e-3)


def test_ddp_under_torchrun(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    command = [torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()), "-m", "grefbench", "train",
               "--config", "rela_tiny", "--data-root", str(embedded_root()), "--dataset", "grefshapes",
               "--split", "testB", "--val-split", "", "--out", str(tmp_path / "ddp"), "--steps", "2",
               "--batch-size", "1", "--freeze-text", "--workers", "0", "--threads", "1", "--quiet",
               # grefbench's opt-in decoder language and category head: every parameter must get a
               # gradient on every rank (DDP runs with find_unused_parameters=False).
               "--set", "GREFBENCH.DECODER_LANGUAGE=every_layer", "--set", "GREFBENCH.CATEGORY_CLASSES=7",
               "--category-weight", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    log = json.loads((tmp_path / "ddp" / "training_log.json").read_text())
    assert log["provenance"]["world_size"] == 2
    model = load_model("rela", weights=tmp_path / "ddp" / "model_final.pth")
    assert model.config.name.startswith("rela_tiny") and model.config.category_classes == 7
    assert model.config.decoder.language_mode == "every_layer"


def _lavt_options(out, **changes):
    values = dict(data_root=embedded_root(), dataset="grefshapes", out=out, model="lavt", config="lavt_tiny",
                  split="testB", val_split="testA", freeze_text=True, group_by_image=2, steps=4, batch_size=2,
                  lr=5e-4, workers=0, log_every=1, eval_every=2, eval_limit=4, checkpoint_every=2, threads=1)
    values.update(changes)
    return TrainOptions(**values)


def test_lavt_trains_with_its_official_recipe_resumes_and_saves_the_official_format(tmp_path, monkeypatch):
    from grefbench.training import loop

    from grefbench.models.lavt.checkpoint import read_lavt_checkpoint

    straight = train(_lavt_options(tmp_path / "straight"))
    content = read_lavt_checkpoint(straight)
    assert content["text_encoder_source"] == "minilm-l6" and "bert_model" not in content
    assert any(k.startswith("classifier.") for k in content["model"])
    recipe = json.loads((tmp_path / "straight" / "training_log.json").read_text())["provenance"]["recipe"]
    # LAVT's official optimiser: weight decay 0.01, no warm-up, poly decay to 0, no clipping.
    assert (recipe["weight_decay"], recipe["warmup"], recipe["decay"], recipe["lr_floor"], recipe["clip"]) == \
        (0.01, 0, "poly", 0.0, 0.0)
    assert recipe["dice_weight"] == 0.0 and recipe["no_target_weight"] is None
    model = load_model("lavt", weights=straight)
    trained = torch.load(tmp_path / "straight" / "checkpoints" / "last.pth", weights_only=True)["model"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())

    original = loop.save_state

    def killed_after_saving(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_state", killed_after_saving)
    with pytest.raises(KeyboardInterrupt):
        train(_lavt_options(tmp_path / "resumed"))
    monkeypatch.setattr(loop, "save_state", original)
    resumed = train(_lavt_options(tmp_path / "resumed"))
    a = read_lavt_checkpoint(straight)["model"]
    b = read_lavt_checkpoint(resumed)["model"]
    assert a.keys() == b.keys()
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5


def test_lavt_refuses_options_of_another_family(tmp_path):
    from grefbench.errors import UsageError

    with pytest.raises(UsageError, match="--no-target-weight is not an option of lavt's loss"):
        train(_lavt_options(tmp_path / "a", no_target_weight=1.0))
    with pytest.raises(UsageError, match="--dice-weight must be 0 or more"):
        train(_lavt_options(tmp_path / "a", dice_weight=-1.0))
    with pytest.raises(UsageError, match="--set overrides are for rela"):
        train(_lavt_options(tmp_path / "b", config_overrides=("GREFBENCH.CATEGORY_CLASSES=7",)))
    assert not (tmp_path / "a").exists()


def test_lavt_ddp_under_torchrun(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    command = [torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()), "-m", "grefbench", "train",
               "--model", "lavt", "--config", "lavt_tiny", "--data-root", str(embedded_root()), "--dataset",
               "grefshapes", "--split", "testB", "--val-split", "", "--out", str(tmp_path / "ddp"), "--steps", "2",
               "--batch-size", "1", "--freeze-text", "--workers", "0", "--threads", "1", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    log = json.loads((tmp_path / "ddp" / "training_log.json").read_text())
    assert log["provenance"]["world_size"] == 2
    assert load_model("lavt", weights=tmp_path / "ddp" / "model_final.pth").config.name.startswith("lavt_tiny")
