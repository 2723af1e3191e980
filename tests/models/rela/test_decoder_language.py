"""GREFBENCH.DECODER_LANGUAGE: the official decoder language path, and the opt-in "every_layer" variant."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from grefbench.errors import ConfigError
from grefbench.models import load_model, save_checkpoint
from grefbench.models.rela.config import config_from_dict, config_to_dict, load_config
from grefbench.models.rela.criterion import ReferringCriterion
from tests.models.tiny import TINY_TEXT, tiny_config, tiny_inputs


def build(mode: str, seed: int = 0):
    config = tiny_config("rela_swin_t")
    config = dataclasses.replace(config, decoder=dataclasses.replace(config.decoder, language_mode=mode))
    torch.manual_seed(seed)
    return load_model("rela", config=config, text_config=TINY_TEXT)


def decoder_inputs(seed: int = 0, length: int = 8):
    generator = torch.Generator().manual_seed(seed)
    scales = [torch.randn(2, 32, side, side, generator=generator) for side in (2, 4, 8)]
    mask_features = torch.randn(2, 16, 16, 16, generator=generator)
    lang_feat = torch.randn(2, TINY_TEXT["hidden_size"], length, generator=generator)
    lang_mask = torch.ones(2, length, dtype=torch.int64)
    lang_mask[1, 5:] = 0
    return scales, mask_features, lang_feat, lang_mask


def test_the_default_is_the_official_decoder_and_presets_keep_it():
    # The official presets keep the official decoder; only grefbench's demo preset opts in.
    for preset in ("rela_r50", "rela_swin_t", "rela_swin_b"):
        assert load_config(preset).decoder.language_mode == "official"
    assert load_config("rela_tiny").decoder.language_mode == "every_layer"
    keys = set(build("official").state_dict())
    assert "sem_seg_head.predictor.lang_weight" in keys
    assert not any(".RLA_lang_layers." in key for key in keys)


def test_official_decoder_ignores_language_at_initialisation():
    # The zero-initialised projection: from scratch the queries see no language at all.
    predictor = build("official").sem_seg_head.predictor.eval()
    scales, mask_features, lang_feat, lang_mask = decoder_inputs()
    with torch.inference_mode():
        a = predictor(scales, mask_features, lang_feat, lang_mask)
        b = predictor(scales, mask_features, torch.randn_like(lang_feat), lang_mask)
    torch.testing.assert_close(a["pred_masks"], b["pred_masks"], atol=0, rtol=0)


def test_every_layer_mode_attends_to_language_in_each_layer_and_skips_padding():
    model = build("every_layer")
    predictor = model.sem_seg_head.predictor.eval()
    assert len(predictor.RLA_lang_layers) == predictor.num_layers
    assert not hasattr(predictor, "lang_weight") and not hasattr(predictor, "RLA_lang_att")
    scales, mask_features, lang_feat, lang_mask = decoder_inputs()
    changed_padding = lang_feat.clone()
    changed_padding[1, :, 5:] = torch.randn(TINY_TEXT["hidden_size"], 3)
    changed_word = lang_feat.clone()
    changed_word[1, :, 2] = torch.randn(TINY_TEXT["hidden_size"])
    with torch.inference_mode():
        base = predictor(scales, mask_features, lang_feat, lang_mask)
        padding = predictor(scales, mask_features, changed_padding, lang_mask)
        word = predictor(scales, mask_features, changed_word, lang_mask)
    for key in base:
        torch.testing.assert_close(padding[key], base[key], atol=1e-6, rtol=1e-6)
    assert (word["pred_masks"][1] - base["pred_masks"][1]).abs().max() > 1e-4
    torch.testing.assert_close(word["pred_masks"][0], base["pred_masks"][0], atol=0, rtol=0)


def test_every_layer_mode_trains_every_parameter():
    model = build("every_layer").train()
    images, tokens, mask = tiny_inputs(batch=2)
    outputs = model(images, tokens, mask)
    gt = torch.zeros(2, 64, 64, dtype=torch.uint8)
    gt[0, 8:30, 4:40] = 1
    ReferringCriterion(model.config.mask_weight, dice_weight=1.0)(outputs, gt, torch.tensor([False, True]))[
        "loss_mask"
    ].backward()
    assert [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None] == []


def test_the_mode_is_stored_in_checkpoints_and_reloads(tmp_path):
    model = build("every_layer", seed=3)
    assert config_from_dict(config_to_dict(model.config), origin="test").decoder.language_mode == "every_layer"
    path = tmp_path / "model_final.pth"
    save_checkpoint(model, path)
    loaded = load_model("rela", weights=path)
    assert loaded.config.decoder.language_mode == "every_layer"
    with torch.inference_mode():
        for key, value in model(*tiny_inputs()).items():
            torch.testing.assert_close(loaded(*tiny_inputs())[key], value, atol=0, rtol=0)


def test_the_config_key_is_set_by_override_and_checked():
    assert load_config("rela_tiny", ["GREFBENCH.DECODER_LANGUAGE=every_layer"]).decoder.language_mode == "every_layer"
    with pytest.raises(ConfigError, match=r"GREFBENCH\.DECODER_LANGUAGE 'sideways' is not one of official, every_layer"):
        load_config("rela_tiny", ["GREFBENCH.DECODER_LANGUAGE=sideways"])
