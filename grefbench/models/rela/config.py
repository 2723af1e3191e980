"""ReLA configuration: plain dataclasses, loaded from a preset name or an official detectron2 yaml.

`load_config` accepts a preset (`rela_r50`, `rela_swin_t`, `rela_swin_b`), a path to an official
ReLA yaml with its `_BASE_` chain, or a detectron2 `cfg.dump()` of one. Semantics follow
detectron2: `_BASE_` is relative to the file that names it, later files override earlier ones,
string values are read as Python literals when they parse (yacs), and a key detectron2 would not
know is an error naming the key and the file. Training-only sections are kept, not checked.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from grefbench.errors import ConfigError
from grefbench.models.rela import config_keys as keys
from grefbench.models.rela.presets import PRESETS
from grefbench.models.rela.yaml_chain import merge_document, read_yaml_chain

STAGE_STRIDES = {"res2": 4, "res3": 8, "res4": 16, "res5": 32}
# Backbone dataclass fields set by a GREFBENCH key, not by a MODEL.SWIN / MODEL.RESNETS key.
GREFBENCH_BACKBONE_FIELDS = ("stem",)
# GREFBENCH.DECODER_LANGUAGE values: the official decoder, or grefbench's opt-in variant (decoder.py).
LANGUAGE_MODES = ("official", "every_layer")
# What the auxiliary category head (GREFBENCH.CATEGORY_CLASSES) reads: see ReferringHead.
CATEGORY_FEATURES = ("mask", "backbone")


@dataclass(frozen=True)
class PixelDecoderConfig:
    """MSDeformAttnPixelDecoder; encoder heads come from MASK_FORMER.NHEADS, points and FFN width are fixed officially."""

    in_features: tuple[str, ...]
    encoder_in_features: tuple[str, ...]
    conv_dim: int
    mask_dim: int
    norm: str
    encoder_layers: int
    encoder_heads: int
    dropout: float
    common_stride: int
    encoder_points: int = 4
    encoder_feedforward: int = 1024


@dataclass(frozen=True)
class DecoderConfig:
    """ReLA decoder; `layers` is MASK_FORMER.DEC_LAYERS - 1, as the official builder counts."""

    hidden_dim: int
    num_queries: int
    heads: int
    feedforward: int
    layers: int
    pre_norm: bool
    enforce_input_proj: bool
    language_weight: float = 0.1
    language_mode: str = "official"


@dataclass(frozen=True)
class ReLAConfig:
    """Everything that shapes a ReLA model and its inputs; `backbone` is a ResNetConfig or a SwinConfig."""

    backbone: Any
    pixel_decoder: PixelDecoderConfig
    decoder: DecoderConfig
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]
    size_divisibility: int
    image_size: int
    bert_type: str
    max_tokens: int
    mask_weight: float
    category_classes: int = 0
    category_features: str = "mask"
    name: str = ""
    ignored: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def backbone_config_classes() -> dict[str, type]:
    """The backbone config dataclasses by kind ("resnet", "swin")."""
    from grefbench.models.rela.backbone import ResNetConfig, SwinConfig

    return {"resnet": ResNetConfig, "swin": SwinConfig}


def backbone_kind(backbone: Any) -> str:
    """"resnet" or "swin" for a backbone config instance."""
    for kind, cls in backbone_config_classes().items():
        if isinstance(backbone, cls):
            return kind
    raise TypeError(f"not a backbone config: {type(backbone).__name__}")


def load_config(config: "str | os.PathLike | ReLAConfig", overrides: Sequence[str] = ()) -> ReLAConfig:
    """A preset name, a yaml path, or a ReLAConfig (returned as is) to a checked ReLAConfig.

    `overrides` are "KEY=VALUE" strings with detectron2 keys applied last, like detectron2's
    `--opts KEY VALUE` (values read as Python literals when they are one, e.g. "[1, 1, 2, 1]").
    """
    if isinstance(config, ReLAConfig):
        if overrides:
            raise ConfigError("overrides apply to a preset or a yaml file, not to a config object")
        return config
    text = os.fspath(config)
    if text in PRESETS:
        values, sources = {}, {}
        for document in PRESETS[text]:
            merge_document(document, f"preset {text}", values, sources)
        name = text
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config {text!r} is neither a preset ({', '.join(PRESETS)}) nor an existing yaml file"
            )
        values, sources = read_yaml_chain(path)
        name = str(path)
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator or not key.strip():
            raise ConfigError(f"override {override!r} is not KEY=VALUE (e.g. INPUT.IMAGE_SIZE=320)")
        merge_document({key.strip(): value.strip()}, f"override {override!r}", values, sources)
    return build_config(values, sources, name=name + "".join(f" {o}" for o in overrides))


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    """`value` converted to the type of `default` (lists become tuples), or a ConfigError."""
    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {key} must be {expected}, got {value!r}")

    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise fail("a list")
        if default:
            return tuple(_coerce(f"{key}[{i}]", item, default[0], source) for i, item in enumerate(value))
        return tuple(value)
    return value


def build_config(values: Mapping[str, Any], sources: Mapping[str, str], *, name: str = "") -> ReLAConfig:
    """Check flat detectron2 keys (`MODEL.SWIN.EMBED_DIM`, ...) against the defaults and build a ReLAConfig."""
    model: dict[str, Any] = dict(keys.MODEL_DEFAULTS)
    backbone_values: dict[str, dict[str, Any]] = {"resnet": {}, "swin": {}}
    ignored: dict[str, Any] = {}
    freeze_at = 2
    classes = backbone_config_classes()
    for key, value in values.items():
        source = sources.get(key, "config")
        section = key.split(".", 1)[0]
        if section in keys.IGNORED_SECTIONS:
            ignored[key] = value
        elif key in keys.MODEL_DEFAULTS:
            model[key] = _coerce(key, value, keys.MODEL_DEFAULTS[key], source)
        elif key == keys.FREEZE_AT_KEY:
            freeze_at = _coerce(key, value, 2, source)
        elif key.rsplit(".", 1)[0] in keys.BACKBONE_SECTIONS:
            kind = keys.BACKBONE_SECTIONS[key.rsplit(".", 1)[0]]
            field_name = key.rsplit(".", 1)[1].lower()
            fields = {f.name: f for f in dataclasses.fields(classes[kind])}
            if field_name in fields and field_name not in GREFBENCH_BACKBONE_FIELDS:
                backbone_values[kind][field_name] = _coerce(key, value, _field_default(fields[field_name]), source)
            elif key in keys.BACKBONE_FIXED:
                if _coerce(key, value, keys.BACKBONE_FIXED[key], source) != tuple_or_value(keys.BACKBONE_FIXED[key]):
                    raise ConfigError(
                        f"{source}: {key} = {value!r} is not supported (only {keys.BACKBONE_FIXED[key]!r})"
                    )
            elif key not in keys.BACKBONE_UNUSED:
                raise ConfigError(f"{source}: unknown config key {key}")
        elif key in keys.IGNORED_KEYS or key.startswith(keys.IGNORED_PREFIXES):
            ignored[key] = value
        else:
            raise ConfigError(f"{source}: unknown config key {key}")

    def source_of(key: str) -> str:
        return sources.get(key, "defaults")

    for key, required in keys.REQUIRED_VALUES.items():
        if model[key] != required:
            raise ConfigError(f"{source_of(key)}: {key} is {model[key]!r}; grefbench implements {required!r}")
    backbone_name = model["MODEL.BACKBONE.NAME"]
    if backbone_name not in keys.BACKBONE_NAMES:
        raise ConfigError(
            f"{source_of('MODEL.BACKBONE.NAME')}: MODEL.BACKBONE.NAME {backbone_name!r} is not supported "
            f"(one of {', '.join(keys.BACKBONE_NAMES)})"
        )
    kind = keys.BACKBONE_NAMES[backbone_name]
    backbone_fields = {f.name for f in dataclasses.fields(classes[kind])}
    prefix = "MODEL.RESNETS." if kind == "resnet" else "MODEL.SWIN."
    chosen = {
        key[len(prefix):].lower(): tuple_or_value(default)
        for key, default in keys.BACKBONE_DEFAULTS.items()
        if key.startswith(prefix) and key[len(prefix):].lower() in backbone_fields
    }
    chosen.update(backbone_values[kind])
    if kind == "resnet" and "freeze_at" in backbone_fields:
        chosen["freeze_at"] = freeze_at
    if kind == "swin":
        chosen["stem"] = model["GREFBENCH.SWIN_STEM"]
    elif model["GREFBENCH.SWIN_STEM"] != keys.MODEL_DEFAULTS["GREFBENCH.SWIN_STEM"]:
        raise ConfigError(f"{source_of('GREFBENCH.SWIN_STEM')}: GREFBENCH.SWIN_STEM applies to Swin backbones only")
    try:
        backbone = classes[kind](**chosen)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{name or 'config'}: invalid {prefix[:-1]} settings: {error}") from error

    dec_layers = model["MODEL.MASK_FORMER.DEC_LAYERS"]
    if dec_layers < 1:
        raise ConfigError(f"{source_of('MODEL.MASK_FORMER.DEC_LAYERS')}: MODEL.MASK_FORMER.DEC_LAYERS must be >= 1")
    heads = model["MODEL.MASK_FORMER.NHEADS"]
    config = ReLAConfig(
        backbone=backbone,
        pixel_decoder=PixelDecoderConfig(
            in_features=model["MODEL.SEM_SEG_HEAD.IN_FEATURES"],
            encoder_in_features=model["MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES"],
            conv_dim=model["MODEL.SEM_SEG_HEAD.CONVS_DIM"],
            mask_dim=model["MODEL.SEM_SEG_HEAD.MASK_DIM"],
            norm=model["MODEL.SEM_SEG_HEAD.NORM"],
            encoder_layers=model["MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS"],
            encoder_heads=heads,
            dropout=model["MODEL.MASK_FORMER.DROPOUT"],
            common_stride=model["MODEL.SEM_SEG_HEAD.COMMON_STRIDE"],
            encoder_feedforward=model["GREFBENCH.ENCODER_FEEDFORWARD"],
        ),
        decoder=DecoderConfig(
            hidden_dim=model["MODEL.MASK_FORMER.HIDDEN_DIM"],
            num_queries=model["MODEL.MASK_FORMER.NUM_OBJECT_QUERIES"],
            heads=heads,
            feedforward=model["MODEL.MASK_FORMER.DIM_FEEDFORWARD"],
            layers=dec_layers - 1,
            pre_norm=model["MODEL.MASK_FORMER.PRE_NORM"],
            enforce_input_proj=model["MODEL.MASK_FORMER.ENFORCE_INPUT_PROJ"],
            language_mode=model["GREFBENCH.DECODER_LANGUAGE"],
        ),
        pixel_mean=model["MODEL.PIXEL_MEAN"],
        pixel_std=model["MODEL.PIXEL_STD"],
        size_divisibility=model["MODEL.MASK_FORMER.SIZE_DIVISIBILITY"],
        image_size=model["INPUT.IMAGE_SIZE"],
        bert_type=model["REFERRING.BERT_TYPE"],
        max_tokens=model["REFERRING.MAX_TOKENS"],
        mask_weight=model["MODEL.MASK_FORMER.MASK_WEIGHT"],
        category_classes=model["GREFBENCH.CATEGORY_CLASSES"],
        category_features=model["GREFBENCH.CATEGORY_FEATURES"],
        name=name,
        ignored=ignored,
    )
    check_config(config, origin=name or "config")
    return config


def _field_default(spec: dataclasses.Field) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return None


def tuple_or_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_config(config: ReLAConfig, *, origin: str = "config") -> None:
    """Refuse combinations the official model cannot build (ConfigError naming the key)."""
    def fail(message: str) -> ConfigError:
        return ConfigError(f"{origin}: {message}")

    def check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
        if value not in choices:
            raise fail(f"{key} {value!r} is not one of {', '.join(choices)}")

    pixel, decoder = config.pixel_decoder, config.decoder
    if len(config.pixel_mean) != 3 or len(config.pixel_std) != 3:
        raise fail("MODEL.PIXEL_MEAN and MODEL.PIXEL_STD need 3 values (R, G, B)")
    if any(value <= 0 for value in config.pixel_std):
        raise fail("MODEL.PIXEL_STD values must be positive")
    out_features = tuple(getattr(config.backbone, "out_features", STAGE_STRIDES))
    for name in pixel.in_features:
        if name not in STAGE_STRIDES or name not in out_features:
            raise fail(f"MODEL.SEM_SEG_HEAD.IN_FEATURES names {name!r}, which the backbone does not output")
    for name in pixel.encoder_in_features:
        if name not in pixel.in_features:
            raise fail(f"DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES names {name!r}, not in SEM_SEG_HEAD.IN_FEATURES")
    if not pixel.encoder_in_features:
        raise fail("DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES is empty")
    if pixel.norm not in ("", "GN"):
        raise fail(f"MODEL.SEM_SEG_HEAD.NORM {pixel.norm!r} is not supported (\"GN\" or \"\")")
    if pixel.conv_dim % 32:
        raise fail(f"MODEL.SEM_SEG_HEAD.CONVS_DIM {pixel.conv_dim} must be a multiple of 32 (GroupNorm of 32 groups)")
    if pixel.conv_dim % pixel.encoder_heads or decoder.hidden_dim % decoder.heads:
        raise fail("CONVS_DIM and HIDDEN_DIM must be multiples of MODEL.MASK_FORMER.NHEADS")
    finest = min(STAGE_STRIDES[name] for name in pixel.encoder_in_features)
    extra_levels = len([n for n in pixel.in_features if STAGE_STRIDES[n] < finest])
    if pixel.common_stride > finest or pixel.common_stride & (pixel.common_stride - 1):
        raise fail(f"MODEL.SEM_SEG_HEAD.COMMON_STRIDE {pixel.common_stride} must be a power of 2 <= {finest}")
    fpn_levels = (finest // pixel.common_stride).bit_length() - 1
    if fpn_levels > extra_levels:
        raise fail(f"COMMON_STRIDE {pixel.common_stride} needs {fpn_levels} finer IN_FEATURES than the encoder's")
    if len(pixel.encoder_in_features) + fpn_levels < 3:
        raise fail("the decoder needs 3 scales: encoder levels + FPN levels must be at least 3")
    check_choice("GREFBENCH.DECODER_LANGUAGE", decoder.language_mode, LANGUAGE_MODES)
    if config.pixel_decoder.encoder_feedforward < 1:
        raise fail(f"GREFBENCH.ENCODER_FEEDFORWARD must be 1 or more, not {config.pixel_decoder.encoder_feedforward}")
    if config.category_classes < 0:
        raise fail(f"GREFBENCH.CATEGORY_CLASSES must be 0 (no head) or more, not {config.category_classes}")
    check_choice("GREFBENCH.CATEGORY_FEATURES", config.category_features, CATEGORY_FEATURES)
    if config.category_features == "backbone" and not {"res2", "res3"} <= set(out_features):
        raise fail("GREFBENCH.CATEGORY_FEATURES 'backbone' reads res2 and res3, which the backbone must output")
    if decoder.num_queries < 1 or config.max_tokens < 1 or config.image_size < 1:
        raise fail("NUM_OBJECT_QUERIES, REFERRING.MAX_TOKENS and INPUT.IMAGE_SIZE must be positive")


def config_to_dict(config: ReLAConfig) -> dict[str, Any]:
    """Plain nested values of a config (for checkpoints); `config_from_dict` reverses it."""
    values = {
        item.name: getattr(config, item.name)
        for item in dataclasses.fields(config)
        if item.name not in ("backbone", "pixel_decoder", "decoder", "ignored")
    }
    values["backbone"] = {"kind": backbone_kind(config.backbone), **_plain(dataclasses.asdict(config.backbone))}
    values["pixel_decoder"] = _plain(dataclasses.asdict(config.pixel_decoder))
    values["decoder"] = _plain(dataclasses.asdict(config.decoder))
    return _plain(values)


def config_from_dict(values: Mapping[str, Any], *, origin: str) -> ReLAConfig:
    """The config stored by `config_to_dict` (ConfigError naming `origin` when it does not fit)."""
    try:
        backbone_values = dict(values["backbone"])
        kind = backbone_values.pop("kind")
        cls = backbone_config_classes()[kind]
        top = {k: v for k, v in values.items() if k not in ("backbone", "pixel_decoder", "decoder")}
        config = ReLAConfig(
            backbone=cls(**_tuples(backbone_values)),
            pixel_decoder=PixelDecoderConfig(**_tuples(values["pixel_decoder"])),
            decoder=DecoderConfig(**_tuples(values["decoder"])),
            **_tuples(top),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{origin}: stored config does not fit this grefbench version: {error!r}") from error
    check_config(config, origin=origin)
    return config


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _tuples(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
