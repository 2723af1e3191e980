"""LAVT presets built tiny (forward and backward), input checks and the config's round trip and validation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grefbench.errors import ConfigError, UsageError
from grefbench.models.lavt.config import LAVTConfig, config_from_dict, config_to_dict, load_config
from grefbench.models.lavt.model import LAVT
from grefbench.models.lavt.presets import PRESETS
from grefbench.models.text.bert import make_text_config
from tests.models.lavt.helpers import sample_inputs

TINY_TEXT = {"vocab_size": 100, "hidden_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 32, "max_position_embeddings": 32}


def tiny(preset: str) -> LAVTConfig:
    """`preset` with its Swin shrunk (keeping its window, stem and the PWAM heads per stage)."""
    config = load_config(preset)
    swin = dataclasses.replace(config.swin, embed_dim=8, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4])
    return dataclasses.replace(config, swin=swin)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_runs_forward_and_backward_when_tiny(preset):
    torch.manual_seed(0)
    model = LAVT(tiny(preset), make_text_config(TINY_TEXT))
    images, ids, mask = sample_inputs(40, 56)
    model.train()
    assert model.backbone.training and not model.text_encoder.training  # official: BERT never leaves eval mode
    logits = model(images, ids, mask)["logits"]
    assert logits.shape == (2, 2, 40, 56)
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 2, (2, 40, 56))).backward()
    for name in ("backbone.patch_embed.proj.weight", "backbone.layers.2.fusion.image_lang_att.f_key.0.weight",
                 "backbone.layers.0.res_gate.0.weight", "classifier.conv1_2.weight",
                 "text_encoder.encoder.layer.0.output.dense.weight"):
        gradient = model.get_parameter(name).grad
        assert gradient is not None and gradient.abs().sum() > 0, name
    model.eval()
    with torch.no_grad():
        first, second = model(images, ids, mask)["logits"], model(images, ids, mask)["logits"]
    assert torch.equal(first, second) and first.argmax(1).shape == (2, 40, 56)


def test_the_official_initialisation_opens_every_gate():
    model = LAVT(tiny("lavt_swin_b"), make_text_config(TINY_TEXT))
    for index in range(4):
        assert model.backbone.layers[index].res_gate[0].weight.abs().sum() > 0  # trunc-normal, not ReLA's zeros
    assert model.backbone.layers[0].blocks[0].mlp.fc1.bias.abs().sum() == 0


def test_inputs_are_checked():
    model = LAVT(tiny("lavt_tiny"), make_text_config(TINY_TEXT)).eval()
    images, ids, mask = sample_inputs(32, 32)
    with pytest.raises(UsageError, match="uint8"):
        model(images.float(), ids, mask)
    with pytest.raises(UsageError, match=r"\[B, 3, H, W\]"):
        model(images[:, :1], ids, mask)
    with pytest.raises(UsageError, match="token rows"):
        model(images, ids[:1], mask[:1])
    with pytest.raises(UsageError, match=r"\[B, L\]"):
        model(images, ids, mask[:, :5])


def test_presets_are_the_official_and_the_demo_configuration():
    official = load_config("lavt_swin_b")
    assert (official.swin.embed_dim, list(official.swin.depths), list(official.swin.num_heads),
            official.swin.window_size) == (128, [2, 2, 18, 2], [4, 8, 16, 32], 12)
    assert (official.image_size, official.max_tokens, official.fusion_heads) == (480, 20, (1, 1, 1, 1))
    assert official.swin.drop_path_rate == 0.3 and not official.swin.ape
    demo = load_config("lavt_tiny")
    assert (demo.swin.embed_dim, demo.image_size, demo.text_encoder) == (32, 128, "minilm-l6")


def test_config_round_trips_and_refuses_what_cannot_be_built():
    config = load_config("lavt_tiny")
    assert config_from_dict(config_to_dict(config)) == config
    values = config_to_dict(config)
    with pytest.raises(ConfigError, match="unknown LAVT config field"):
        config_from_dict({**values, "decoder": 3})
    with pytest.raises(ConfigError, match="unknown swin field"):
        config_from_dict({**values, "swin": {**values["swin"], "shift": 2}})
    with pytest.raises(ConfigError, match=r"fusion_heads\[1\] = 3"):
        config_from_dict({**values, "fusion_heads": [1, 3, 1, 1]})
    with pytest.raises(ConfigError, match="4 Swin stages"):
        config_from_dict({**values, "swin": {**values["swin"], "depths": [2, 2, 2], "num_heads": [1, 2, 4]}})
    with pytest.raises(ConfigError, match="unknown LAVT preset"):
        load_config("lavt_swin_z")
