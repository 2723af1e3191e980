"""The auxiliary category head (GREFBENCH.CATEGORY_CLASSES) and what it reads (GREFBENCH.CATEGORY_FEATURES)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grefbench.errors import ConfigError
from grefbench.models import load_model
from grefbench.models.rela.config import config_from_dict, config_to_dict, load_config
from tests.models.tiny import TINY_TEXT, tiny_config, tiny_inputs


def build(classes: int, features: str = "mask", seed: int = 0):
    config = dataclasses.replace(tiny_config("rela_swin_t"), category_classes=classes, category_features=features)
    torch.manual_seed(seed)
    return load_model("rela", config=config, text_config=TINY_TEXT)


def test_the_category_head_only_exists_when_configured_and_only_outputs_in_training():
    assert not hasattr(build(0).sem_seg_head, "category_embed")
    model = build(7)
    images, tokens, mask = tiny_inputs(batch=2)
    with torch.inference_mode():
        assert set(model(images, tokens, mask)) == {"ref_seg", "nt_label"}
    outputs = model.train()(images, tokens, mask)
    assert outputs["category_logits"].shape == (2, 7, 16, 16)  # the mask-feature grid
    assert load_config("rela_tiny", ["GREFBENCH.CATEGORY_CLASSES=7"]).category_classes == 7
    with pytest.raises(ConfigError, match="GREFBENCH.CATEGORY_CLASSES must be 0"):
        load_config("rela_tiny", ["GREFBENCH.CATEGORY_CLASSES=-1"])


def test_the_backbone_head_reads_res2_beside_upsampled_res3():
    model = build(7, "backbone").train()
    shapes = model.backbone.output_shape()
    head = model.sem_seg_head.category_embed
    assert head.in_channels == shapes["res2"][0] + shapes["res3"][0]
    grabbed = {}
    model.backbone.register_forward_hook(lambda _module, _args, out: grabbed.update(out))
    logits = model(*tiny_inputs(batch=2))["category_logits"]
    assert logits.shape[-2:] == grabbed["res2"].shape[-2:]
    # By hand: a 1x1 convolution over [res2, bilinear res3 at res2's size].
    coarse = torch.nn.functional.interpolate(grabbed["res3"], size=grabbed["res2"].shape[-2:], mode="bilinear",
                                             align_corners=False)
    expected = torch.nn.functional.conv2d(torch.cat([grabbed["res2"], coarse], dim=1), head.weight, head.bias)
    torch.testing.assert_close(logits, expected)


@pytest.mark.parametrize(("features", "decoder_learns"), [("mask", True), ("backbone", False)])
def test_the_category_loss_trains_the_backbone_and_reaches_the_pixel_decoder_only_through_mask_features(
        features, decoder_learns):
    model = build(7, features).train()
    model(*tiny_inputs(batch=2))["category_logits"].square().mean().backward()
    stem = [p.grad for p in model.backbone.patch_embed.parameters()]
    assert all(grad is not None and grad.abs().sum() > 0 for grad in stem)
    pixel_decoder = [p.grad for p in model.sem_seg_head.pixel_decoder.parameters()]
    assert any(grad is not None and grad.abs().sum() > 0 for grad in pixel_decoder) == decoder_learns


def test_the_choice_is_a_checked_config_key_stored_in_checkpoint_configs():
    config = load_config("rela_tiny", ["GREFBENCH.CATEGORY_CLASSES=7", "GREFBENCH.CATEGORY_FEATURES=backbone"])
    assert config.category_features == "backbone"
    assert config_from_dict(config_to_dict(config), origin="test").category_features == "backbone"
    assert load_config("rela_tiny").category_features == "mask"
    with pytest.raises(ConfigError, match="GREFBENCH.CATEGORY_FEATURES 'pixels' is not one of mask, backbone"):
        load_config("rela_tiny", ["GREFBENCH.CATEGORY_FEATURES=pixels"])
    # A pixel decoder on res3..res5 alone is valid, but the backbone head needs res2 as well.
    coarse_only = ["MODEL.SWIN.OUT_FEATURES=['res3', 'res4', 'res5']",
                   "MODEL.SEM_SEG_HEAD.IN_FEATURES=['res3', 'res4', 'res5']", "MODEL.SEM_SEG_HEAD.COMMON_STRIDE=8"]
    assert load_config("rela_tiny", coarse_only).category_features == "mask"
    with pytest.raises(ConfigError, match="reads res2 and res3, which the backbone must output"):
        load_config("rela_tiny", [*coarse_only, "GREFBENCH.CATEGORY_FEATURES=backbone"])


def test_checkpoint_configs_from_before_the_key_read_as_the_mask_head():
    stored = config_to_dict(load_config("rela_tiny", ["GREFBENCH.CATEGORY_CLASSES=7"]))
    del stored["category_features"]
    assert config_from_dict(stored, origin="old checkpoint").category_features == "mask"
