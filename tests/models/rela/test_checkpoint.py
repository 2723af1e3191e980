"""Strict loading of ReLA checkpoints: round trips, every refusal, and the two official quirks."""

from __future__ import annotations

import pytest
import torch

from grefbench.errors import CheckpointError
from grefbench.models import load_model, save_checkpoint
from grefbench.models.rela.checkpoint import LANG_WEIGHT_KEY, POSITION_IDS_KEY, describe_state_dict
from tests.models.tiny import TINY_TEXT, tiny_config, tiny_inputs


def build(preset: str = "rela_swin_t", seed: int = 0):
    torch.manual_seed(seed)
    return load_model("rela", config=tiny_config(preset), text_config=TINY_TEXT)


def outputs(model, seed: int = 0):
    with torch.inference_mode():
        return model(*tiny_inputs(seed=seed))


def official_style(model, path, **changes):
    """Write `{"model": state_dict}` only, as detectron2 does (no grefbench metadata)."""
    state_dict = dict(model.state_dict())
    for key, value in changes.items():
        if value is None:
            state_dict.pop(key)
        else:
            state_dict[key] = value
    torch.save({"model": state_dict}, path)
    return path


@pytest.mark.parametrize("preset", ["rela_r50", "rela_swin_b"])
def test_round_trip_reproduces_outputs_without_any_argument(tmp_path, preset):
    model = build(preset, seed=1)
    path = tmp_path / "model_final.pth"
    save_checkpoint(model, path)
    loaded = load_model("rela", weights=path)
    assert loaded.config == model.config
    for key, value in outputs(model).items():
        torch.testing.assert_close(outputs(loaded)[key], value, atol=0, rtol=0)
    stored = torch.load(path, weights_only=True)
    assert set(stored["model"]) == set(model.state_dict())


def test_official_format_loads_with_a_config_and_text_shape_from_the_tensors(tmp_path):
    model = build(seed=2)
    path = official_style(model, tmp_path / "official.pth")
    # Tiny text encoder: width 32 gives heads = 32 / 64 -> not inferable, so give the json.
    text_json = tmp_path / "bert.json"
    text_json.write_text('{"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, '
                         '"intermediate_size": 64, "vocab_size": 1000, "max_position_embeddings": 64}')
    loaded = load_model("rela", config=model.config, weights=path, text_config=text_json)
    for key, value in outputs(model).items():
        torch.testing.assert_close(outputs(loaded)[key], value, atol=0, rtol=0)


def test_text_encoder_shape_is_read_from_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    text = dict(TINY_TEXT, hidden_size=128, num_attention_heads=2, intermediate_size=96, num_hidden_layers=2)
    model = load_model("rela", config=tiny_config("rela_r50"), text_config=text)
    path = official_style(model, tmp_path / "official.pth")
    loaded = load_model("rela", config=model.config, weights=path)
    config = loaded.text_encoder.config
    assert (config.hidden_size, config.num_hidden_layers, config.intermediate_size, config.vocab_size) == (
        128, 2, 96, 1000)
    assert config.num_attention_heads == 2  # 128 / 64
    assert config.max_position_embeddings == 64


def test_old_position_ids_buffer_is_accepted(tmp_path):
    model = build()
    path = official_style(model, tmp_path / "old.pth", **{POSITION_IDS_KEY: torch.arange(64)[None]})
    load_model("rela", config=model.config, weights=path, text_config=TINY_TEXT)


def test_lang_weight_is_consumed_but_not_loaded_by_default(tmp_path):
    from grefbench.models.rela.build import build_rela

    model = build()
    path = official_style(model, tmp_path / "gate.pth", **{LANG_WEIGHT_KEY: torch.tensor(3.0)})
    loaded = load_model("rela", config=model.config, weights=path, text_config=TINY_TEXT)
    assert loaded.sem_seg_head.predictor.lang_weight.item() == 0.0
    opted_in = build_rela(config=model.config, weights=path, text_config=TINY_TEXT, load_lang_weight=True)
    assert opted_in.sem_seg_head.predictor.lang_weight.item() == 3.0
    # The gate matters: the two models disagree.
    assert (outputs(loaded)["ref_seg"] - outputs(opted_in)["ref_seg"]).abs().max() > 0


def test_missing_key_is_named(tmp_path):
    model = build()
    key = "sem_seg_head.pixel_decoder.mask_features.weight"
    path = official_style(model, tmp_path / "missing.pth", **{key: None})
    with pytest.raises(CheckpointError, match=r"missing 1 key\(s\): sem_seg_head\.pixel_decoder\.mask_features\.weight"):
        load_model("rela", config=model.config, weights=path, text_config=TINY_TEXT)


def test_unexpected_key_is_named(tmp_path):
    model = build()
    path = official_style(model, tmp_path / "extra.pth", **{"sem_seg_head.predictor.extra_head.weight": torch.ones(2)})
    with pytest.raises(CheckpointError, match=r"unexpected 1 key\(s\): sem_seg_head\.predictor\.extra_head\.weight"):
        load_model("rela", config=model.config, weights=path, text_config=TINY_TEXT)


def test_misshaped_key_is_named_with_both_shapes(tmp_path):
    model = build()
    key = "sem_seg_head.predictor.query_feat.weight"
    path = official_style(model, tmp_path / "shape.pth", **{key: torch.zeros(7, 32)})
    with pytest.raises(CheckpointError, match=r"query_feat\.weight has shape \(7, 32\) in the checkpoint but \(16, 32\)"):
        load_model("rela", config=model.config, weights=path, text_config=TINY_TEXT)


def test_checkpoint_of_another_model_says_what_it_looks_like(tmp_path):
    r50 = build("rela_r50")  # tiny widths but the ResNet-50 block layout
    path = official_style(r50, tmp_path / "r50.pth")
    with pytest.raises(CheckpointError, match=r"looks like a ReLA-R50 checkpoint .* but config rela_swin_b \(tiny\) was given"):
        load_model("rela", config=tiny_config("rela_swin_b"), weights=path, text_config=TINY_TEXT)


def test_official_checkpoint_without_config_uses_the_identified_preset():
    state = {"backbone.patch_embed.proj.weight": torch.zeros(128, 3, 4, 4)}
    for stage, depth in enumerate((2, 2, 18, 2)):
        for block in range(depth):
            state[f"backbone.layers.{stage}.blocks.{block}.norm1.weight"] = torch.zeros(1)
    assert describe_state_dict(state)[0] == "rela_swin_b"
    state["backbone.patch_embed.proj.weight"] = torch.zeros(96, 3, 4, 4)
    assert describe_state_dict(state)[0] is None  # Swin-S layout, not an official ReLA


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_corrupt_files_are_checkpoint_errors(tmp_path, content):
    path = tmp_path / "model_final.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_model("rela", config="rela_r50", weights=path)


def test_truncated_checkpoint_is_a_checkpoint_error(tmp_path):
    model = build()
    path = tmp_path / "full.pth"
    save_checkpoint(model, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_model("rela", weights=path)


def test_unsafe_pickles_are_refused(tmp_path):
    import pickle

    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        pickle.dump({"model": {"x": object()}}, handle, protocol=2)
    with pytest.raises(CheckpointError):
        load_model("rela", config="rela_r50", weights=path)


def test_missing_file_and_foreign_content(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model("rela", config="rela_r50", weights=tmp_path / "nope.pth")
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match='no "model" state dict'):
        load_model("rela", config="rela_r50", weights=path)
    torch.save({"model": {"a": 1}}, path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_model("rela", config="rela_r50", weights=path)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    model = build()
    save_checkpoint(model, tmp_path / "out" / "model.pth")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.pth"]
