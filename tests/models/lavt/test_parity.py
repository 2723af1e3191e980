"""grefbench's LAVT against an independent reference of the official pipeline, on official-format checkpoints."""

from __future__ import annotations

import pytest
import torch

from grefbench.models.lavt.build import build_lavt
from tests.models.lavt.helpers import (
    SMALL_BERT,
    SMALL_SWIN,
    official_args,
    official_state,
    sample_inputs,
    write_official_checkpoint,
    write_text_config,
)
from tests.models.lavt.official_lavt import bert_forward, official_pipeline

RTOL = 1e-4


def assert_close_relative(actual: torch.Tensor, expected: torch.Tensor) -> None:
    scale = expected.abs().max().item()
    error = (actual - expected).abs().max().item()
    assert error <= RTOL * scale, f"max error {error:.3g} > {RTOL} x {scale:.3g}"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A window-12 model whose `args` say swin_type 'tiny', window12 False and mha '': the tensors decide."""
    folder = tmp_path_factory.mktemp("lavt_parity")
    model_sd, bert_sd = official_state()
    path = write_official_checkpoint(folder / "model_best_refcoco.pth", model_sd, bert_sd, official_args())
    return path, write_text_config(folder / "config.json"), model_sd, bert_sd


@pytest.fixture(scope="module")
def model(checkpoint):
    path, text_config, _, _ = checkpoint
    return build_lavt(weights=path, text_config=text_config)


def test_architecture_is_read_from_the_tensors(model):
    swin = model.config.swin
    assert swin.window_size == 12  # despite window12=False in args
    assert (swin.embed_dim, list(swin.depths), list(swin.num_heads)) == (16, [2, 2, 2, 2], [1, 2, 2, 4])
    assert model.config.fusion_heads == (1, 1, 1, 1)
    assert model.text_config.num_attention_heads == 3 and not model.training


@pytest.mark.parametrize("size", [(96, 96), (98, 134)], ids=["96x96", "98x134"])
def test_logits_equal_the_official_pipeline(checkpoint, model, size):
    _, _, model_sd, bert_sd = checkpoint
    images, ids, mask = sample_inputs(*size)
    with torch.no_grad():
        logits = model(images, ids, mask)["logits"]
        expected = official_pipeline(model_sd, bert_sd, SMALL_BERT["num_attention_heads"], images, ids, mask,
                                     heads=SMALL_SWIN["heads"], window=SMALL_SWIN["window"], mha=(1, 1, 1, 1))
    assert logits.shape == (2, 2, *size) and logits.dtype == torch.float32
    assert_close_relative(logits, expected)
    # Not vacuous: the sentence changes the logits.
    with torch.no_grad():
        other = model(images, ids.flip(0), mask.flip(0))["logits"]
    assert (other - logits).abs().max() > 100 * RTOL * expected.abs().max()


def test_pwam_heads_come_from_args_mha(tmp_path):
    model_sd, bert_sd = official_state(seed=3)
    path = write_official_checkpoint(tmp_path / "mha.pth", model_sd, bert_sd,
                                     official_args(mha="2-2-4-4", swin_type="huge", window12=True))
    model = build_lavt(weights=path, text_config=write_text_config(tmp_path / "config.json"))
    assert model.config.fusion_heads == (2, 2, 4, 4)
    images, ids, mask = sample_inputs(64, 80, seed=5)
    with torch.no_grad():
        logits = model(images, ids, mask)["logits"]
        expected = official_pipeline(model_sd, bert_sd, 3, images, ids, mask, heads=SMALL_SWIN["heads"],
                                     window=12, mha=(2, 2, 4, 4))
    assert_close_relative(logits, expected)


def test_lavt_one_checkpoints_keep_bert_inside_model(tmp_path, checkpoint, model):
    _, text_config, model_sd, bert_sd = checkpoint
    inside = {**model_sd, **{f"text_encoder.{k}": v for k, v in bert_sd.items()}}
    path = write_official_checkpoint(tmp_path / "one.pth", inside, None, official_args(model="lavt_one"))
    one = build_lavt(weights=path, text_config=text_config)
    images, ids, mask = sample_inputs(64, 64)
    with torch.no_grad():
        assert torch.equal(one(images, ids, mask)["logits"], model(images, ids, mask)["logits"])


def test_text_encoder_masks_like_the_official_bert(checkpoint, model):
    """-10000 on masked words: the same as the official copy even for a row without any word."""
    _, _, _, bert_sd = checkpoint
    _, ids, mask = sample_inputs(8, 8, batch=3)
    mask[2] = 0
    with torch.no_grad():
        ours = model.encode_text(ids, mask).transpose(1, 2)
        expected = bert_forward(bert_sd, 3, ids, mask)
    torch.testing.assert_close(ours[:2], expected[:2], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours[2], expected[2], rtol=1e-3, atol=1e-3)  # -10000 + s rounds at 1e-3
