"""LAVT configuration: a frozen dataclass, plain-dict round trip (stored in checkpoints) and validation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from grefbench.errors import ConfigError
from grefbench.models.lavt.presets import IMAGENET_MEAN, IMAGENET_STD, PRESETS
from grefbench.models.rela.backbone import SwinConfig, _check_swin

STAGES = 4  # SimpleDecoding fuses exactly four stages (strides 4, 8, 16, 32)


@dataclass(frozen=True)
class LAVTConfig:
    """Everything that shapes a LAVT model and its inputs.

    `swin` is the multimodal Swin (ReLA's `SwinConfig`; LAVT has no absolute position embedding
    and a patchify stem officially); `fusion_heads` the PWAM heads per stage (official `--mha`,
    '' meaning one each); `text_encoder` names the text encoder's shape or packaged source
    ("bert-base-uncased" officially, "minilm-l6" for the demo).
    """

    swin: SwinConfig = field(default_factory=SwinConfig)
    fusion_heads: tuple[int, ...] = (1, 1, 1, 1)
    fusion_dropout: float = 0.0
    image_size: int = 480
    max_tokens: int = 20
    pixel_mean: tuple[float, ...] = IMAGENET_MEAN
    pixel_std: tuple[float, ...] = IMAGENET_STD
    text_encoder: str = "bert-base-uncased"
    name: str = ""


def check_config(config: LAVTConfig, *, origin: str = "config") -> None:
    """Raise ConfigError naming the field when `config` cannot describe a LAVT model."""
    if not isinstance(config.swin, SwinConfig):
        raise ConfigError(f"{origin}: swin must be a SwinConfig, got {type(config.swin).__name__}")
    swin = config.swin
    if len(swin.depths) != STAGES:
        raise ConfigError(f"{origin}: LAVT needs {STAGES} Swin stages (SimpleDecoding), got depths {list(swin.depths)}")
    try:
        _check_swin(swin)
    except ConfigError as error:
        raise ConfigError(f"{origin}: {error}") from None
    if sorted(swin.out_features) != ["res2", "res3", "res4", "res5"]:
        raise ConfigError(f"{origin}: LAVT decodes all four stages; swin.out_features is {list(swin.out_features)}")
    if len(config.fusion_heads) != STAGES:
        raise ConfigError(f"{origin}: fusion_heads needs one entry per stage, got {list(config.fusion_heads)}")
    for index, heads in enumerate(config.fusion_heads):
        width = swin.embed_dim * 2**index
        if not isinstance(heads, int) or heads < 1 or width % heads:
            raise ConfigError(f"{origin}: fusion_heads[{index}] = {heads!r} does not divide the stage width {width}")
    if not 0.0 <= config.fusion_dropout < 1.0:
        raise ConfigError(f"{origin}: fusion_dropout must be in [0, 1), got {config.fusion_dropout}")
    if config.image_size < 1:
        raise ConfigError(f"{origin}: image_size must be positive, got {config.image_size}")
    if config.max_tokens < 2:
        raise ConfigError(f"{origin}: max_tokens must be at least 2, got {config.max_tokens}")
    if len(config.pixel_mean) != 3 or len(config.pixel_std) != 3 or min(config.pixel_std) <= 0:
        raise ConfigError(f"{origin}: pixel_mean and pixel_std need 3 values (std > 0), got "
                          f"{list(config.pixel_mean)} and {list(config.pixel_std)}")


def config_to_dict(config: LAVTConfig) -> dict[str, Any]:
    """A JSON-able dict of `config` (what checkpoints store as "grefbench_config")."""
    values = {item.name: getattr(config, item.name) for item in dataclasses.fields(config)}
    values["swin"] = {name: (list(v) if isinstance(v, (list, tuple)) else v)
                      for name, v in dataclasses.asdict(config.swin).items()}
    for name in ("fusion_heads", "pixel_mean", "pixel_std"):
        values[name] = list(values[name])
    return values


def config_from_dict(values: Mapping[str, Any], *, origin: str = "config") -> LAVTConfig:
    """The inverse of `config_to_dict`; unknown fields are a ConfigError naming them."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{origin}: a LAVT config must be a mapping, got {type(values).__name__}")
    known = {item.name for item in dataclasses.fields(LAVTConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{origin}: unknown LAVT config field(s) {unknown}; known: {sorted(known)}")
    swin_values = values.get("swin", {})
    if not isinstance(swin_values, Mapping):
        raise ConfigError(f"{origin}: swin must be a mapping of SwinConfig fields")
    swin_known = {item.name for item in dataclasses.fields(SwinConfig)}
    unknown = sorted(set(swin_values) - swin_known)
    if unknown:
        raise ConfigError(f"{origin}: unknown swin field(s) {unknown}; known: {sorted(swin_known)}")
    swin = SwinConfig(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in swin_values.items()})
    rest = {k: v for k, v in values.items() if k != "swin"}
    for name in ("fusion_heads", "pixel_mean", "pixel_std"):
        if name in rest:
            rest[name] = tuple(rest[name])
    try:
        config = LAVTConfig(swin=swin, **rest)
    except TypeError as error:
        raise ConfigError(f"{origin}: {error}") from None
    check_config(config, origin=origin)
    return config


def load_config(config: "str | LAVTConfig | Mapping[str, Any]") -> LAVTConfig:
    """A preset name, a `LAVTConfig` or its dict form to a checked `LAVTConfig`."""
    if isinstance(config, LAVTConfig):
        check_config(config, origin=config.name or "config")
        return config
    if isinstance(config, str):
        if config not in PRESETS:
            raise ConfigError(f"unknown LAVT preset {config!r}; known: {', '.join(PRESETS)}")
        return config_from_dict({**PRESETS[config], "name": config}, origin=f"preset {config}")
    if isinstance(config, Mapping):
        return config_from_dict(config)
    raise ConfigError(f"a LAVT config is a preset name ({', '.join(PRESETS)}), a LAVTConfig or a dict, "
                      f"got {type(config).__name__}")
