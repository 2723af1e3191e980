"""Tests of ReLA's image backbones: shapes, official names, exactness of the fused paths, training."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from grefbench.errors import ConfigError
from grefbench.models.rela.backbone import ResNetConfig, SwinConfig, build_backbone
from grefbench.models.backbones.fusion import PWAM
from grefbench.models.rela.resnet import ConvNorm, FrozenBatchNorm2d, ResNetBackbone
from grefbench.models.backbones.swin import (
    PatchEmbed,
    PatchMerging,
    SwinBackbone,
    WindowAttention,
    window_layout,
)

TEXT_DIM = 768
NAMES = ["res2", "res3", "res4", "res5"]


def tiny_swin(window_size: int = 7, **overrides) -> SwinConfig:
    options = {
        "embed_dim": 32,
        "depths": [1, 1, 2, 1],
        "num_heads": [1, 2, 4, 8],
        "window_size": window_size,
    }
    options.update(overrides)
    return SwinConfig(**options)


def tiny_resnet(**overrides) -> ResNetConfig:
    options = {
        "width_per_group": 8,
        "stem_out_channels": 16,
        "res2_out_channels": 32,
        "out_features": NAMES,
        "freeze_at": 0,
    }
    options.update(overrides)
    return ResNetConfig(**options)


def language(
    batch: int, length: int = 6, valid: tuple[int, ...] = (6, 3), text_dim: int = TEXT_DIM
):
    """Random word features `(B, text_dim, L)` and a mask `(B, L, 1)` with `valid[b]` real words."""
    words = torch.randn(batch, text_dim, length)
    mask = torch.zeros(batch, length, 1, dtype=torch.long)
    for index in range(batch):
        mask[index, : valid[index % len(valid)]] = 1
    return words, mask


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every float tensor of the state dict a random, well-scaled value (gates open, BN off identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.dim() > 1:
                tensor.copy_(
                    torch.randn(tensor.shape, generator=generator) * tensor[0].numel() ** -0.5
                )
            else:
                tensor.copy_(
                    torch.randn(tensor.shape, generator=generator) * 0.3
                    + (1.0 if "norm" in name else 0.0)
                )
    return module


# ----------------------------------------------------------------------------- Swin


@pytest.mark.parametrize("window_size", [7, 12])
@pytest.mark.parametrize("height,width", [(64, 96), (96, 64), (50, 70), (32, 32)])
def test_swin_output_shapes(window_size, height, width):
    torch.manual_seed(0)
    model = build_backbone(tiny_swin(window_size)).eval()
    words, mask = language(2)
    with torch.inference_mode():
        outputs = model(torch.randn(2, 3, height, width), words, mask)
    assert list(outputs) == NAMES
    assert model.size_divisibility == 32
    expected_height, expected_width = -(-height // 4), -(-width // 4)
    for name in NAMES:
        channels, stride = model.output_shape()[name]
        assert stride == 4 * 2 ** NAMES.index(name)
        assert outputs[name].shape == (2, channels, expected_height, expected_width)
        assert outputs[name].is_contiguous()
        assert torch.isfinite(outputs[name]).all()
        expected_height, expected_width = (expected_height + 1) // 2, (expected_width + 1) // 2


def test_swin_out_features_and_mask_layouts():
    torch.manual_seed(0)
    model = build_backbone(tiny_swin(out_features=["res3", "res5"])).eval()
    words, mask = language(2)
    images = torch.randn(2, 3, 64, 96)
    with torch.inference_mode():
        outputs = model(images, words, mask)
        flat_mask = model(images, words, mask.squeeze(-1))
    assert list(outputs) == ["res3", "res5"] and list(model.output_shape()) == ["res3", "res5"]
    assert all(torch.equal(outputs[name], flat_mask[name]) for name in outputs)


def reference_window_attention(
    attention: WindowAttention, tokens: torch.Tensor, shift: int
) -> torch.Tensor:
    """Explicit pad / roll / partition / softmax attention / reverse / crop on `(B, H, W, C)` tokens."""
    batch, height, width, channels = tokens.shape
    size, heads = attention.window_size, attention.num_heads
    grid = F.pad(tokens, (0, 0, 0, -width % size, 0, -height % size))
    padded_height, padded_width = grid.shape[1:3]
    if shift:
        grid = torch.roll(grid, shifts=(-shift, -shift), dims=(1, 2))
    windows = grid.reshape(batch, padded_height // size, size, padded_width // size, size, channels)
    windows = windows.transpose(2, 3).reshape(-1, size * size, channels)

    query, key, value = (
        attention.qkv(windows).reshape(len(windows), size * size, 3, heads, -1).unbind(2)
    )
    query, key, value = (part.transpose(1, 2) for part in (query, key, value))
    logits = (query * attention.scale) @ key.transpose(-1, -2)

    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    table_index = (rows[:, None] - rows[None, :] + size - 1) * (2 * size - 1) + (
        cols[:, None] - cols[None, :] + size - 1
    )
    logits = logits + attention.relative_position_bias_table[table_index].permute(2, 0, 1)

    if shift:

        def region(position: int, padded: int) -> int:
            return 0 if position < padded - size else (1 if position < padded - shift else 2)

        labels = torch.tensor(
            [
                [
                    region(y, padded_height) * 3 + region(x, padded_width)
                    for x in range(padded_width)
                ]
                for y in range(padded_height)
            ]
        )
        labels = (
            labels.reshape(padded_height // size, size, padded_width // size, size)
            .transpose(1, 2)
            .reshape(-1, size * size)
        )
        mask = (labels[:, :, None] != labels[:, None, :]).to(logits.dtype) * -100.0  # (nW, N, N)
        logits = (
            logits.view(batch, -1, heads, size * size, size * size) + mask[None, :, None]
        ).flatten(0, 1)

    attended = (
        (logits.softmax(-1) @ value).transpose(1, 2).reshape(len(windows), size * size, channels)
    )
    attended = attention.proj(attended)
    grid = attended.reshape(
        batch, padded_height // size, padded_width // size, size, size, channels
    )
    grid = grid.transpose(2, 3).reshape(batch, padded_height, padded_width, channels)
    if shift:
        grid = torch.roll(grid, shifts=(shift, shift), dims=(1, 2))
    return grid[:, :height, :width]


@pytest.mark.parametrize("dtype,tolerance", [(torch.float32, 2e-5), (torch.float64, 1e-12)])
@pytest.mark.parametrize(
    "height,width,size,shift,batch",
    [
        (14, 14, 7, 3, 1),
        (16, 24, 12, 6, 2),
        (9, 5, 7, 3, 2),
        (15, 15, 12, 6, 1),
        (15, 15, 12, 0, 2),
        (4, 6, 7, 3, 1),
        (20, 13, 5, 0, 1),
    ],
)
def test_window_attention_equals_explicit_softmax(
    dtype, tolerance, height, width, size, shift, batch
):
    torch.manual_seed(0)
    attention = WindowAttention(dim=32, window_size=size, num_heads=4).to(dtype).eval()
    randomize_(attention)
    tokens = torch.randn(batch, height, width, 32, dtype=dtype)
    layout = window_layout(height, width, size, shift, tokens.device)
    with torch.inference_mode():
        fused = attention(tokens.flatten(1, 2), layout).view(batch, height, width, 32)
        expected = reference_window_attention(attention, tokens, shift)
    difference = (fused - expected).abs().max().item()
    assert difference < tolerance, f"max abs diff {difference:.3e}"


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    size=st.integers(2, 12),
    shifted=st.booleans(),
)
def test_window_layout_round_trip(height, width, size, shifted):
    layout = window_layout(height, width, size, size // 2 if shifted else 0, torch.device("cpu"))
    tokens = torch.arange(height * width + 1)  # the last entry plays the padding token
    slots = tokens[layout.gather_index]
    assert torch.equal(slots[layout.scatter_index], tokens[:-1])
    assert (slots == height * width).sum() == layout.num_windows * size * size - height * width
    assert layout.padded == (height % size != 0 or width % size != 0)


@pytest.mark.parametrize("height,width", [(6, 8), (5, 7), (1, 3)])
def test_patch_merging_order_and_odd_sizes(height, width):
    torch.manual_seed(0)
    merging = randomize_(PatchMerging(8)).eval()
    tokens = torch.randn(2, height, width, 8)
    grid = F.pad(tokens, (0, 0, 0, width % 2, 0, height % 2))
    # Neighbourhood order of the official module: (row 0, col 0), (1, 0), (0, 1), (1, 1).
    quads = [grid[:, 0::2, 0::2], grid[:, 1::2, 0::2], grid[:, 0::2, 1::2], grid[:, 1::2, 1::2]]
    expected = merging.reduction(merging.norm(torch.cat(quads, dim=-1).flatten(1, 2)))
    with torch.inference_mode():
        merged = merging(tokens.flatten(1, 2), height, width)
    assert merged.shape == (2, ((height + 1) // 2) * ((width + 1) // 2), 16)
    assert (merged - expected).abs().max() < 1e-5


def test_patch_embed_pads_bottom_right():
    torch.manual_seed(0)
    embed = randomize_(PatchEmbed(patch_size=4, in_channels=3, embed_dim=8, patch_norm=False))
    images = torch.randn(1, 3, 10, 13)
    expected = embed.proj(F.pad(images, (0, 3, 0, 2)))
    assert torch.equal(embed(images), expected)


def test_swin_names_match_official_layout():
    model = build_backbone(tiny_swin(ape=True, pretrain_img_size=64))
    state = model.state_dict()
    assert state["layers.0.blocks.0.attn.relative_position_index"].dtype == torch.long
    assert state["layers.0.blocks.0.attn.relative_position_bias_table"].shape == (13 * 13, 1)
    assert state["absolute_pos_embed"].shape == (1, 32, 16, 16)
    assert state["layers.1.fusion.image_lang_att.f_key.0.weight"].shape == (64, TEXT_DIM, 1)
    assert state["layers.1.fusion.vis_project.0.weight"].shape == (64, 64, 1)
    assert state["layers.2.downsample.reduction.weight"].shape == (256, 512)
    for index in range(3):
        assert state[f"layers.{index}.res_gate.0.weight"].abs().sum() == 0  # the gate starts closed
        assert f"layers.{index}.res_gate.2.weight" in state
    assert not any(key.startswith(("layers.3.res_gate", "layers.3.downsample")) for key in state)
    assert [f"norm{index}.weight" in state for index in range(4)] == [True] * 4


def test_swin_text_dim_follows_text_encoder():
    torch.manual_seed(0)
    model = build_backbone(tiny_swin(), text_dim=384).eval()
    assert model.state_dict()["layers.0.fusion.image_lang_att.f_value.0.weight"].shape == (
        32,
        384,
        1,
    )
    words, mask = language(1, text_dim=384)
    with torch.inference_mode():
        outputs = model(torch.randn(1, 3, 64, 64), words, mask)
    assert outputs["res5"].shape == (1, 256, 2, 2)


def test_padding_words_change_nothing_real_words_do():
    torch.manual_seed(0)
    model = randomize_(build_backbone(tiny_swin())).eval()
    words, mask = language(2, valid=(4, 2))
    images = torch.randn(2, 3, 64, 96)
    changed_padding = words.clone()
    changed_padding[0, :, 4:] = 100 * torch.randn(TEXT_DIM, 2)
    changed_padding[1, :, 2:] = 100 * torch.randn(TEXT_DIM, 4)
    changed_real = words.clone()
    changed_real[1, :, 1] += 1.0
    with torch.inference_mode():
        base = model(images, words, mask)
        padding = model(images, changed_padding, mask)
        real = model(images, changed_real, mask)
    for name in NAMES:
        assert torch.equal(base[name], padding[name])
        assert torch.equal(base[name][0], real[name][0])  # sample 0 is untouched
        assert not torch.allclose(base[name][1], real[name][1])


def test_pwam_equals_channels_first_conv1d_reference():
    torch.manual_seed(0)
    channels, text_dim, length = 16, 24, 5
    fusion = randomize_(PWAM(channels, text_dim)).eval()
    pixels = torch.randn(2, 30, channels)
    words = torch.randn(2, length, text_dim)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).unsqueeze(-1)

    def conv(sequential: nn.Sequential, inputs: torch.Tensor) -> torch.Tensor:  # inputs (B, C, N)
        pointwise = sequential[0]
        return nn.functional.conv1d(inputs, pointwise.weight, pointwise.bias)

    instance_norm = nn.InstanceNorm1d(channels)
    visual = F.gelu(conv(fusion.vis_project, pixels.transpose(1, 2)))
    attention = fusion.image_lang_att
    query = instance_norm(conv(attention.f_query, pixels.transpose(1, 2))).transpose(1, 2)
    key = conv(attention.f_key, words.transpose(1, 2)) * mask.transpose(1, 2)
    value = conv(attention.f_value, words.transpose(1, 2)) * mask.transpose(1, 2)
    logits = channels**-0.5 * (query @ key) + (1e4 * mask.transpose(1, 2) - 1e4)
    attended = (logits.softmax(-1) @ value.transpose(1, 2)).transpose(1, 2)
    language_part = instance_norm(conv(attention.W, attended))
    expected = F.gelu(conv(fusion.project_mm, visual * language_part)).transpose(1, 2)
    with torch.inference_mode():
        fused = fusion(pixels, words, mask)
    assert (fused - expected).abs().max() < 1e-5


def test_swin_backward_and_training_regularisers():
    torch.manual_seed(0)
    config = tiny_swin(drop_path_rate=0.3, drop_rate=0.1, attn_drop_rate=0.1)
    model = randomize_(build_backbone(config)).train()
    words, mask = language(2)
    images = torch.randn(2, 3, 64, 96)
    outputs = model(images, words, mask)
    sum(output.square().mean() for output in outputs.values()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert model.layers[0].blocks[0].attn.relative_position_bias_table.grad.abs().sum() > 0

    # Dropout and drop-path are random in training and the identity in eval.
    again = model(images, words, mask)
    assert not torch.equal(outputs["res5"], again["res5"])
    plain = build_backbone(tiny_swin())
    plain.load_state_dict(model.state_dict())
    with torch.inference_mode():
        evaluated = model.eval()(images, words, mask)
        expected = plain.eval()(images, words, mask)
    assert all(torch.equal(evaluated[name], expected[name]) for name in NAMES)


def test_swin_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    words, mask = language(1)
    images = torch.randn(1, 3, 64, 64)
    gradients = []
    for use_checkpoint in (False, True):
        model = randomize_(
            build_backbone(tiny_swin(drop_path_rate=0.0, use_checkpoint=use_checkpoint))
        ).train()
        model(images, words, mask)["res4"].sum().backward()
        gradients.append(model.patch_embed.proj.weight.grad)
    assert torch.allclose(gradients[0], gradients[1], atol=1e-5)


def test_layouts_cached_in_inference_mode_work_in_training():
    torch.manual_seed(0)
    model = build_backbone(tiny_swin())
    words, mask = language(1)
    images = torch.randn(1, 3, 44, 52)  # a shape no other test uses, so the cache is cold
    with torch.inference_mode():
        model.eval()(images, words, mask)
    model.train()(images, words, mask)["res5"].sum().backward()
    assert model.patch_embed.proj.weight.grad is not None


# ----------------------------------------------------------------------------- ResNet


def test_resnet_output_shapes_and_language_is_ignored():
    torch.manual_seed(0)
    model = randomize_(build_backbone(tiny_resnet())).eval()
    images = torch.randn(2, 3, 64, 96)
    words, mask = language(2)
    with torch.inference_mode():
        outputs = model(images, words, mask)
        without_language = model(images, None, None)
    assert model.size_divisibility == 0
    assert model.output_shape() == {
        "res2": (32, 4),
        "res3": (64, 8),
        "res4": (128, 16),
        "res5": (256, 32),
    }
    for name, (channels, stride) in model.output_shape().items():
        assert outputs[name].shape == (2, channels, 64 // stride, 96 // stride)
        assert torch.equal(outputs[name], without_language[name])


def test_resnet_builds_only_needed_stages_and_dilates_res5():
    assert not hasattr(build_backbone(tiny_resnet(out_features=["res3"])), "res4")
    dilated = build_backbone(tiny_resnet(res5_dilation=2)).eval()
    assert dilated.output_shape()["res5"] == (256, 16)
    with torch.inference_mode():
        assert dilated(torch.randn(1, 3, 64, 64))["res5"].shape == (1, 256, 4, 4)
    basic = build_backbone(ResNetConfig(depth=18, res2_out_channels=64, out_features=NAMES))
    assert basic.output_shape()["res5"] == (512, 32)
    assert "res2.0.conv2.norm.running_var" in basic.state_dict()


def test_resnet_official_names():
    state = build_backbone(
        ResNetConfig(stride_in_1x1=False, out_features=NAMES, freeze_at=0)
    ).state_dict()
    assert len(state) == 265
    assert state["stem.conv1.weight"].shape == (64, 3, 7, 7)
    for buffer in ("weight", "bias", "running_mean", "running_var"):
        assert state[f"stem.conv1.norm.{buffer}"].shape == (64,)
    assert state["res2.0.shortcut.weight"].shape == (256, 64, 1, 1)
    assert state["res5.2.conv3.norm.running_var"].shape == (2048,)
    assert "res2.1.shortcut.weight" not in state
    assert not any("num_batches_tracked" in key for key in state)


def test_frozen_batch_norm_has_buffers_only_and_matches_batch_norm():
    torch.manual_seed(0)
    norm = randomize_(FrozenBatchNorm2d(8))
    assert list(norm.parameters()) == []
    assert sorted(name for name, _ in norm.named_buffers()) == [
        "bias",
        "running_mean",
        "running_var",
        "weight",
    ]
    assert norm.eps == 1e-5
    features = torch.randn(2, 8, 5, 5, requires_grad=True)
    expected = F.batch_norm(
        features, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, 1e-5
    )
    assert torch.allclose(norm(features), expected, atol=1e-6)
    assert torch.allclose(
        FrozenBatchNorm2d(8)(features), features, atol=1e-6
    )  # identity when fresh

    conv = randomize_(ConvNorm(4, 8, "FrozenBN", kernel_size=3, padding=1, stride=2))
    inputs = torch.randn(2, 4, 9, 9)
    unfolded = F.batch_norm(
        F.conv2d(inputs, conv.weight, None, 2, 1),
        conv.norm.running_mean,
        conv.norm.running_var,
        conv.norm.weight,
        conv.norm.bias,
        False,
        0.0,
        1e-5,
    )
    assert torch.allclose(conv(inputs), unfolded, atol=1e-5)


def test_resnet_trainable_parameters_and_freezing():
    model = build_backbone(tiny_resnet(freeze_at=0))
    assert all(
        name.endswith(".weight") and parameter.dim() == 4
        for name, parameter in model.named_parameters()
    )
    assert all(parameter.requires_grad for parameter in model.parameters())
    frozen = build_backbone(tiny_resnet(freeze_at=3))
    trainable = {
        name.split(".")[0]
        for name, parameter in frozen.named_parameters()
        if parameter.requires_grad
    }
    assert trainable == {"res4", "res5"}

    with_bn = build_backbone(tiny_resnet(norm="BN", freeze_at=2))
    assert isinstance(with_bn.stem.conv1.norm, FrozenBatchNorm2d)
    assert isinstance(with_bn.res2[0].conv1.norm, FrozenBatchNorm2d)
    assert isinstance(with_bn.res3[0].conv1.norm, nn.BatchNorm2d)


def test_resnet_backward():
    torch.manual_seed(0)
    model = randomize_(build_backbone(tiny_resnet())).train()
    outputs = model(torch.randn(2, 3, 64, 64))
    sum(output.mean() for output in outputs.values()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert all(buffer.grad is None for buffer in model.buffers())


# ----------------------------------------------------------------------------- both


@pytest.mark.parametrize(
    "config", [tiny_swin(window_size=5), tiny_resnet(norm="BN")], ids=["swin", "resnet"]
)
def test_state_dict_round_trip(config):
    torch.manual_seed(0)
    model = randomize_(build_backbone(config)).eval()
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["model"]
    fresh = build_backbone(config).eval()
    fresh.load_state_dict(state, strict=True)
    words, mask = language(1)
    images = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        before, after = model(images, words, mask), fresh(images, words, mask)
    assert all(torch.equal(before[name], after[name]) for name in before)


@pytest.mark.parametrize(
    "config,message",
    [
        (SwinConfig(depths=[2, 2], num_heads=[3]), "NUM_HEADS"),
        (SwinConfig(num_heads=[5, 6, 12, 24]), "NUM_HEADS[0]"),
        (SwinConfig(out_features=["res6"]), "OUT_FEATURES"),
        (SwinConfig(drop_path_rate=1.5), "DROP_PATH_RATE"),
        (ResNetConfig(depth=42), "DEPTH"),
        (ResNetConfig(norm="LN"), "NORM"),
        (ResNetConfig(res5_dilation=3), "RES5_DILATION"),
        (ResNetConfig(depth=18), "RES2_OUT_CHANNELS"),
        (ResNetConfig(out_features=[]), "OUT_FEATURES"),
    ],
)
def test_bad_configs_are_config_errors(config, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build_backbone(config)


def test_build_backbone_types():
    assert isinstance(build_backbone(tiny_swin()), SwinBackbone)
    assert isinstance(build_backbone(tiny_resnet()), ResNetBackbone)
    with pytest.raises(ConfigError, match="unsupported backbone config"):
        build_backbone({"depth": 50})
