"""GREFBENCH.SWIN_STEM: the official patchify stem by default, and the opt-in convolutional stem."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grefbench.errors import ConfigError
from grefbench.models import load_model, save_checkpoint
from grefbench.models.rela.backbone import build_backbone
from grefbench.models.rela.config import config_from_dict, config_to_dict, load_config
from grefbench.models.backbones.swin import ConvStem, PatchEmbed
from tests.models.tiny import TINY_TEXT, tiny_config, tiny_inputs


def build(stem: str, seed: int = 0):
    config = tiny_config("rela_swin_t")
    config = dataclasses.replace(config, backbone=dataclasses.replace(config.backbone, stem=stem))
    torch.manual_seed(seed)
    return load_model("rela", config=config, text_config=TINY_TEXT)


def test_official_presets_keep_the_patchify_stem():
    for preset in ("rela_swin_t", "rela_swin_b"):
        assert load_config(preset).backbone.stem == "patch"
    assert load_config("rela_tiny").backbone.stem == "conv"  # the demo recipe opts in
    keys = set(build("patch").state_dict())
    assert {"backbone.patch_embed.proj.weight", "backbone.patch_embed.proj.bias"} <= keys
    assert not any(key.startswith("backbone.patch_embed.convs.") for key in keys)


@pytest.mark.parametrize("patch_size", [2, 4, 8])
@pytest.mark.parametrize("size", [(32, 32), (37, 50)])
def test_conv_stem_gives_the_patchify_output_shape(patch_size, size):
    images = torch.randn(2, 3, *size)
    expected = PatchEmbed(patch_size, 3, 24, True)(images).shape
    stem = ConvStem(patch_size, 3, 24, True)
    assert stem(images).shape == expected
    # log2(patch_size) stride-2 convolutions, one stride-1 convolution, then the 1x1 projection.
    strides = [layer.stride[0] for layer in stem.convs if isinstance(layer, torch.nn.Conv2d)]
    assert strides == [2] * (patch_size.bit_length() - 1) + [1]


def test_conv_stem_sees_beyond_its_patch():
    # A change 6 px outside a 4x4 patch moves that token's features; the patchify stem's do not.
    torch.manual_seed(0)
    images = torch.randn(1, 3, 32, 32)
    moved = images.clone()
    moved[:, :, 8:12, 2] += 5.0  # column 2, left of token (2, 2) whose pixels are columns 8..11
    for stem, changes in ((PatchEmbed(4, 3, 16, False), False), (ConvStem(4, 3, 16, False).eval(), True)):
        with torch.no_grad():
            delta = (stem(images) - stem(moved))[0, :, 2, 2].abs().max().item()
        assert (delta > 1e-6) is changes


def test_conv_stem_model_runs_and_its_checkpoint_round_trips(tmp_path):
    model = build("conv").eval()
    assert any(key.startswith("backbone.patch_embed.convs.") for key in model.state_dict())
    images, tokens, mask = tiny_inputs()
    with torch.no_grad():
        outputs = model(images, tokens, mask)
    path = tmp_path / "model_final.pth"
    save_checkpoint(model, path)
    loaded = load_model("rela", weights=path, text_config=TINY_TEXT).eval()
    assert loaded.config.backbone.stem == "conv"
    with torch.no_grad():
        again = loaded(images, tokens, mask)
    for key in ("ref_seg", "nt_label"):
        torch.testing.assert_close(again[key], outputs[key])
    assert config_from_dict(config_to_dict(model.config), origin="test") == model.config


def test_stem_key_is_checked():
    # Like the other backbone settings, the stem is checked when the backbone is built.
    assert load_config("rela_swin_t", ["GREFBENCH.SWIN_STEM=conv"]).backbone.stem == "conv"
    with pytest.raises(ConfigError, match="GREFBENCH.SWIN_STEM 'convs' is not one of patch, conv"):
        build_backbone(load_config("rela_swin_t", ["GREFBENCH.SWIN_STEM=convs"]).backbone)
    with pytest.raises(ConfigError, match="power of 2"):
        build_backbone(load_config("rela_swin_t", ["GREFBENCH.SWIN_STEM=conv", "MODEL.SWIN.PATCH_SIZE=3"]).backbone)
    with pytest.raises(ConfigError, match="Swin backbones only"):
        load_config("rela_r50", ["GREFBENCH.SWIN_STEM=conv"])
    with pytest.raises(ConfigError, match="unknown config key MODEL.SWIN.STEM"):
        load_config("rela_swin_t", ["MODEL.SWIN.STEM=conv"])
