"""Config loading: presets with the official values, yaml `_BASE_` chains, detectron2 dumps, clear refusals."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from grefbench.errors import ConfigError
from grefbench.models.rela.config import config_from_dict, config_to_dict, load_config
from grefbench.models.rela.presets import PRESETS

# A chain shaped like the official configs/ folder (Base <- referring_R50 <- referring_swin_*),
# with training sections that must be kept but ignored.
BASE = """\
MODEL:
  BACKBONE:
    FREEZE_AT: 0
    NAME: "build_d2_resnet_backbone"
  WEIGHTS: "detectron2://ImageNetPretrained/torchvision/R-50.pkl"
  PIXEL_MEAN: [123.675, 116.280, 103.530]
  PIXEL_STD: [58.395, 57.120, 57.375]
  RESNETS:
    DEPTH: 50
    STEM_TYPE: "basic"  # not used
    STEM_OUT_CHANNELS: 64
    STRIDE_IN_1X1: False
    OUT_FEATURES: ["res2", "res3", "res4", "res5"]
    RES5_MULTI_GRID: [1, 1, 1]  # not used
DATASETS:
  TRAIN: ("refcoco_unc_train",)
SOLVER:
  STEPS: (327778, 355092)
  CLIP_GRADIENTS:
    ENABLED: True
INPUT:
  IMAGE_SIZE: 1024
  MIN_SCALE: 0.75
  FORMAT: "RGB"
  DATASET_MAPPER_NAME: "refcoco"
REFERRING:
  BERT_TYPE: "bert-base-uncased"
VERSION: 2
"""
REFERRING = """\
_BASE_: base/Base-COCO.yaml
MODEL:
  META_ARCHITECTURE: "GRES"
  SEM_SEG_HEAD:
    NAME: "ReferringHead"
    NUM_CLASSES: 80
    CONVS_DIM: 256
    MASK_DIM: 256
    NORM: "GN"
    PIXEL_DECODER_NAME: "MSDeformAttnPixelDecoder"
    IN_FEATURES: ["res2", "res3", "res4", "res5"]
    DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES: ["res3", "res4", "res5"]
    COMMON_STRIDE: 4
    TRANSFORMER_ENC_LAYERS: 6
  MASK_FORMER:
    TRANSFORMER_DECODER_NAME: "MultiScaleMaskedReferringDecoder"
    TRANSFORMER_IN_FEATURE: "multi_scale_pixel_decoder"
    MASK_WEIGHT: 5.0
    DROPOUT: 0.0
    DEC_LAYERS: 10  # 9 decoder layers
    TEST:
      INSTANCE_ON: True
INPUT:
  IMAGE_SIZE: 480
"""
SWIN_B = """\
_BASE_: referring_R50.yaml
MODEL:
  BACKBONE:
    NAME: "D2SwinTransformer"
  SWIN:
    EMBED_DIM: 128
    DEPTHS: [2, 2, 18, 2]
    NUM_HEADS: [4, 8, 16, 32]
    WINDOW_SIZE: 12
    PRETRAIN_IMG_SIZE: 384
"""


@pytest.fixture
def chain(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "Base-COCO.yaml").write_text(BASE)
    (tmp_path / "referring_R50.yaml").write_text(REFERRING)
    (tmp_path / "referring_swin_base.yaml").write_text(SWIN_B)
    return tmp_path


def test_presets_hold_the_official_values():
    r50 = load_config("rela_r50")
    assert type(r50.backbone).__name__ == "ResNetConfig"
    assert r50.backbone.stride_in_1x1 is False and r50.backbone.freeze_at == 0
    assert r50.pixel_mean == (123.675, 116.28, 103.53) and r50.pixel_std == (58.395, 57.12, 57.375)
    assert r50.image_size == 480 and r50.size_divisibility == 32 and r50.max_tokens == 20
    assert r50.pixel_decoder.encoder_layers == 6 and r50.pixel_decoder.conv_dim == 256
    assert r50.pixel_decoder.encoder_feedforward == 1024 and r50.pixel_decoder.dropout == 0.0
    assert (r50.decoder.layers, r50.decoder.num_queries, r50.decoder.heads) == (9, 100, 8)
    assert r50.mask_weight == 5.0 and r50.bert_type == "bert-base-uncased"
    swin_t = load_config("rela_swin_t").backbone
    assert (swin_t.embed_dim, tuple(swin_t.depths), swin_t.window_size) == (96, (2, 2, 6, 2), 7)
    swin_b = load_config("rela_swin_b").backbone
    assert (swin_b.embed_dim, tuple(swin_b.depths), tuple(swin_b.num_heads)) == (128, (2, 2, 18, 2), (4, 8, 16, 32))
    assert (swin_b.window_size, swin_b.pretrain_img_size) == (12, 384)


def test_base_chain_is_resolved_relative_to_each_file(chain):
    config = load_config(chain / "referring_swin_base.yaml")
    assert config == dataclasses.replace(load_config("rela_swin_b"), name=config.name)
    assert config.ignored["SOLVER.STEPS"] == (327778, 355092)  # a yacs literal, kept
    assert config.ignored["DATASETS.TRAIN"] == ("refcoco_unc_train",)
    assert config.ignored["MODEL.WEIGHTS"].startswith("detectron2://")


def test_later_files_override_earlier_ones(chain):
    (chain / "child.yaml").write_text("_BASE_: referring_R50.yaml\nMODEL:\n  MASK_FORMER:\n    DEC_LAYERS: 4\n"
                                      "  SEM_SEG_HEAD:\n    IN_FEATURES: \"('res2', 'res3', 'res4', 'res5')\"\n")
    config = load_config(chain / "child.yaml")
    assert config.decoder.layers == 3
    assert config.pixel_decoder.in_features == ("res2", "res3", "res4", "res5")
    assert config.image_size == 480


def test_a_detectron2_dump_loads_to_the_same_config(tmp_path):
    # A cfg.dump() holds every key of every section; build one from the default tables.
    from grefbench.models.rela import config_keys

    tree: dict = {}

    def put(key, value):
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = list(value) if isinstance(value, tuple) else value

    for table in (config_keys.MODEL_DEFAULTS, config_keys.BACKBONE_DEFAULTS, config_keys.BACKBONE_FIXED):
        for key, value in table.items():
            put(key, value)
    for key in sorted(config_keys.IGNORED_KEYS):
        put(key, 0)
    put("MODEL.RESNETS.STEM_TYPE", "deeplab")
    put("MODEL.RESNETS.RES4_DILATION", 1)
    put("MODEL.RESNETS.RES5_MULTI_GRID", [1, 2, 4])
    for prefix in config_keys.IGNORED_PREFIXES:
        put(prefix + "SOME_KEY", [0.5, 1.0])
    for section in config_keys.IGNORED_SECTIONS:
        put(section + ".ANY_KEY" if section in ("SOLVER", "DATASETS", "DATALOADER", "TEST", "GLOBAL") else section, 1)
    for document in PRESETS["rela_swin_b"]:
        for key, value in _flat(document):
            put(key, value)
    put("MODEL.BACKBONE.FREEZE_AT", 0)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    config = load_config(path)
    assert config == dataclasses.replace(load_config("rela_swin_b"), name=config.name)


def _flat(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize(
    "override, message",
    [
        ("MODEL:\n  MASK_FORMER:\n    HIDEN_DIM: 64\n", r"unknown config key MODEL\.MASK_FORMER\.HIDEN_DIM"),
        ("MODEL:\n  SWIN:\n    EMBED_DIMS: 64\n", r"unknown config key MODEL\.SWIN\.EMBED_DIMS"),
        ("FOO:\n  BAR: 1\n", r"unknown config key FOO\.BAR"),
        ("MODEL:\n  MASK_FORMER:\n    HIDDEN_DIM: wide\n", r"MODEL\.MASK_FORMER\.HIDDEN_DIM must be an integer"),
        ("MODEL:\n  MASK_FORMER:\n    PRE_NORM: 1\n", r"PRE_NORM must be true or false"),
        ("MODEL:\n  META_ARCHITECTURE: MaskFormer\n", r"META_ARCHITECTURE is 'MaskFormer'; grefbench implements 'GRES'"),
        ("MODEL:\n  BACKBONE:\n    NAME: build_resnet_backbone\n", r"MODEL\.BACKBONE\.NAME 'build_resnet_backbone' is not supported"),
        ("INPUT:\n  FORMAT: BGR\n", r"INPUT\.FORMAT is 'BGR'"),
        ("MODEL:\n  RESNETS:\n    DEFORM_ON_PER_STAGE: [False, False, True, True]\n", r"DEFORM_ON_PER_STAGE .* not supported"),
        ("MODEL:\n  SEM_SEG_HEAD:\n    NORM: BN\n", r"NORM 'BN' is not supported"),
        ("MODEL:\n  SEM_SEG_HEAD:\n    CONVS_DIM: 48\n", r"CONVS_DIM 48 must be a multiple of 32"),
        ("MODEL:\n  MASK_FORMER:\n    DEC_LAYERS: 0\n", r"DEC_LAYERS must be >= 1"),
        ("MODEL:\n  SEM_SEG_HEAD:\n    IN_FEATURES: [res3, res4, res5]\n", r"needs 1 finer IN_FEATURES"),
        ("GREFBENCH:\n  ENCODER_FEEDFORWARD: 0\n", r"GREFBENCH\.ENCODER_FEEDFORWARD must be 1 or more, not 0"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_the_file(chain, override, message):
    path = chain / "bad.yaml"
    path.write_text("_BASE_: referring_R50.yaml\n" + override)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path)
    assert "bad.yaml" in str(error.value)


def test_errors_in_a_base_file_name_that_file(chain):
    (chain / "referring_R50.yaml").write_text(REFERRING + "  SOMETHING_NEW: 1\n")
    with pytest.raises(ConfigError, match=r"referring_R50\.yaml: unknown config key INPUT\.SOMETHING_NEW"):
        load_config(chain / "referring_swin_base.yaml")


def test_unreadable_configs(tmp_path):
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config("rela_swin_x")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a yaml mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("MODEL: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid yaml"):
        load_config(tmp_path / "broken.yaml")
    (tmp_path / "orphan.yaml").write_text("_BASE_: missing.yaml\n")
    with pytest.raises(ConfigError, match=r"missing\.yaml does not exist"):
        load_config(tmp_path / "orphan.yaml")
    (tmp_path / "a.yaml").write_text("_BASE_: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_BASE_: a.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "unsafe.yaml").write_text("MODEL: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid yaml"):
        load_config(tmp_path / "unsafe.yaml")
    (tmp_path / "remote.yaml").write_text("_BASE_: https://example.com/base.yaml\n")
    with pytest.raises(ConfigError, match="URL"):
        load_config(tmp_path / "remote.yaml")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_config_survives_a_plain_dict_round_trip(name):
    config = load_config(name)
    assert config_from_dict(config_to_dict(config), origin="test") == config


def test_encoder_feedforward_key_sets_the_pixel_decoder_ffn():
    """Official configs keep Mask2Former's hard-coded 1024; the grefbench key changes only that width."""
    from grefbench.models import load_model
    from tests.models.tiny import TINY_TEXT, tiny_config

    config = load_config("rela_tiny", ["GREFBENCH.ENCODER_FEEDFORWARD=96"])
    assert config.pixel_decoder.encoder_feedforward == 96
    assert config_from_dict(config_to_dict(config), origin="test") == config
    assert dataclasses.replace(config.pixel_decoder, encoder_feedforward=256) == load_config("rela_tiny").pixel_decoder
    tiny = tiny_config("rela_swin_t")
    model = load_model("rela", config=dataclasses.replace(
        tiny, pixel_decoder=dataclasses.replace(tiny.pixel_decoder, encoder_feedforward=96)), text_config=TINY_TEXT)
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items() if "encoder.layers" in key}
    ffn = {key: shape for key, shape in shapes.items() if key.endswith(("linear1.weight", "linear2.weight"))}
    assert ffn and all(96 in shape for shape in ffn.values())


def test_official_configs_folder_when_present():
    from pathlib import Path

    folder = Path("/work/ref/henghuiding+ReLA/configs")
    if not folder.is_dir():
        pytest.skip("the official ReLA checkout is not on this machine")
    for file_name, preset in [("referring_R50.yaml", "rela_r50"), ("referring_swin_tiny.yaml", "rela_swin_t"),
                              ("referring_swin_base.yaml", "rela_swin_b")]:
        config = load_config(folder / file_name)
        assert config == dataclasses.replace(load_config(preset), name=config.name), file_name
