"""Backbone configs (the official `MODEL.SWIN.*` / `MODEL.RESNETS.*` keys) and `build_backbone`.

Field defaults are those of the official config system (detectron2's `get_cfg()` plus ReLA's
`add_maskformer2_config`), not of a particular yaml: ReLA's own yamls override some of them
(`referring_R50.yaml` sets `STRIDE_IN_1X1: False`, all four `OUT_FEATURES` and
`BACKBONE.FREEZE_AT: 0`; the Swin yamls set the size of Swin-T or Swin-B).

Every backbone built here has `forward(images, lang_feat, lang_mask) -> {"res2": ..., ...}`,
`output_shape() -> {name: (channels, stride)}` and a `size_divisibility` attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from grefbench.errors import ConfigError

from .resnet import BLOCKS_PER_STAGE, STAGE_NAMES, ResNetBackbone
from grefbench.models.backbones.swin import STEMS, SwinBackbone

NORMS = ("FrozenBN", "BN", "SyncBN", "GN", "")


@dataclass
class SwinConfig:
    """`MODEL.SWIN.*`: the multimodal Swin Transformer (defaults: Swin-T, window 7)."""

    pretrain_img_size: int = 224
    patch_size: int = 4
    embed_dim: int = 96
    depths: list[int] = field(default_factory=lambda: [2, 2, 6, 2])
    num_heads: list[int] = field(default_factory=lambda: [3, 6, 12, 24])
    window_size: int = 7
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_rate: float = 0.0
    attn_drop_rate: float = 0.0
    drop_path_rate: float = 0.3
    ape: bool = False
    patch_norm: bool = True
    out_features: list[str] = field(default_factory=lambda: list(STAGE_NAMES))
    use_checkpoint: bool = False
    # grefbench's own (config key GREFBENCH.SWIN_STEM, not a MODEL.SWIN key): "patch" is the
    # official patchify conv, "conv" the opt-in convolutional stem of swin.ConvStem.
    stem: str = "patch"


@dataclass
class ResNetConfig:
    """`MODEL.RESNETS.*` and `MODEL.BACKBONE.FREEZE_AT`: detectron2's ResNet (defaults: R-50 C4)."""

    depth: int = 50
    num_groups: int = 1
    width_per_group: int = 64
    stem_out_channels: int = 64
    res2_out_channels: int = 256
    stride_in_1x1: bool = True
    res5_dilation: int = 1
    norm: str = "FrozenBN"
    out_features: list[str] = field(default_factory=lambda: ["res4"])
    freeze_at: int = 2


def _check_out_features(section: str, out_features: list[str], available: tuple[str, ...]) -> None:
    if not out_features:
        raise ConfigError(
            f"{section}.OUT_FEATURES is empty: name at least one of {list(available)}"
        )
    unknown = [name for name in out_features if name not in available]
    if unknown:
        raise ConfigError(
            f"{section}.OUT_FEATURES has unknown feature(s) {unknown}: expected some of {list(available)}"
        )


def _check_swin(config: SwinConfig) -> None:
    section = "MODEL.SWIN"
    if len(config.depths) != len(config.num_heads):
        raise ConfigError(
            f"{section}: DEPTHS {list(config.depths)} and NUM_HEADS {list(config.num_heads)} "
            "must have one entry per stage"
        )
    if not 1 <= len(config.depths) <= 4:
        raise ConfigError(f"{section}.DEPTHS must list 1 to 4 stages, got {list(config.depths)}")
    if any(depth < 1 for depth in config.depths):
        raise ConfigError(f"{section}.DEPTHS must be positive, got {list(config.depths)}")
    for index, heads in enumerate(config.num_heads):
        width = config.embed_dim * 2**index
        if heads < 1 or width % heads:
            raise ConfigError(
                f"{section}.NUM_HEADS[{index}] = {heads} does not divide the stage width "
                f"{width} (EMBED_DIM {config.embed_dim} * 2**{index})"
            )
    for name in ("patch_size", "embed_dim", "window_size", "pretrain_img_size"):
        if getattr(config, name) < 1:
            raise ConfigError(
                f"{section}.{name.upper()} must be positive, got {getattr(config, name)}"
            )
    for name in ("drop_rate", "attn_drop_rate", "drop_path_rate"):
        if not 0.0 <= getattr(config, name) < 1.0:
            raise ConfigError(
                f"{section}.{name.upper()} must be in [0, 1), got {getattr(config, name)}"
            )
    if config.stem not in STEMS:
        raise ConfigError(f"GREFBENCH.SWIN_STEM {config.stem!r} is not one of {', '.join(STEMS)}")
    if config.stem == "conv" and (config.patch_size < 2 or config.patch_size & (config.patch_size - 1)):
        raise ConfigError(
            f"GREFBENCH.SWIN_STEM 'conv' needs a {section}.PATCH_SIZE that is a power of 2, got {config.patch_size}"
        )
    _check_out_features(section, config.out_features, STAGE_NAMES[: len(config.depths)])


def _check_resnet(config: ResNetConfig) -> None:
    section = "MODEL.RESNETS"
    if config.depth not in BLOCKS_PER_STAGE:
        raise ConfigError(
            f"{section}.DEPTH must be one of {sorted(BLOCKS_PER_STAGE)}, got {config.depth}"
        )
    if config.res5_dilation not in (1, 2):
        raise ConfigError(f"{section}.RES5_DILATION must be 1 or 2, got {config.res5_dilation}")
    if config.norm not in NORMS:
        raise ConfigError(
            f"{section}.NORM {config.norm!r} is not supported: expected one of {list(NORMS)}"
        )
    if config.depth < 50:
        # The same restrictions as detectron2's build_resnet_backbone for BasicBlock networks.
        if config.res2_out_channels != 64:
            raise ConfigError(f"{section}.RES2_OUT_CHANNELS must be 64 for R{config.depth}")
        if config.res5_dilation != 1:
            raise ConfigError(f"{section}.RES5_DILATION must be 1 for R{config.depth}")
        if config.num_groups != 1:
            raise ConfigError(f"{section}.NUM_GROUPS must be 1 for R{config.depth}")
    for name in ("num_groups", "width_per_group", "stem_out_channels", "res2_out_channels"):
        if getattr(config, name) < 1:
            raise ConfigError(
                f"{section}.{name.upper()} must be positive, got {getattr(config, name)}"
            )
    if config.norm == "GN":
        widths = [
            config.stem_out_channels,
            config.num_groups * config.width_per_group,
            config.res2_out_channels,
        ]
        if any(width % 32 for width in widths):
            raise ConfigError(
                f"{section}.NORM 'GN' uses 32 groups: channel widths {widths} must divide by 32"
            )
    _check_out_features(section, config.out_features, STAGE_NAMES)


def build_backbone(config: SwinConfig | ResNetConfig, *, text_dim: int = 768) -> nn.Module:
    """Build the image backbone a config describes; `text_dim` is the language feature width.

    Raises `ConfigError` naming the offending key when the config cannot describe a network.
    """
    if text_dim < 1:
        raise ConfigError(f"text_dim must be positive, got {text_dim}")
    if isinstance(config, SwinConfig):
        _check_swin(config)
        return SwinBackbone(
            pretrain_img_size=config.pretrain_img_size,
            patch_size=config.patch_size,
            embed_dim=config.embed_dim,
            depths=tuple(config.depths),
            num_heads=tuple(config.num_heads),
            window_size=config.window_size,
            mlp_ratio=config.mlp_ratio,
            qkv_bias=config.qkv_bias,
            qk_scale=config.qk_scale,
            drop_rate=config.drop_rate,
            attn_drop_rate=config.attn_drop_rate,
            drop_path_rate=config.drop_path_rate,
            ape=config.ape,
            patch_norm=config.patch_norm,
            out_features=tuple(config.out_features),
            use_checkpoint=config.use_checkpoint,
            text_dim=text_dim,
            stem=config.stem,
        )
    if isinstance(config, ResNetConfig):
        _check_resnet(config)
        return ResNetBackbone(
            depth=config.depth,
            num_groups=config.num_groups,
            width_per_group=config.width_per_group,
            stem_out_channels=config.stem_out_channels,
            res2_out_channels=config.res2_out_channels,
            stride_in_1x1=config.stride_in_1x1,
            res5_dilation=config.res5_dilation,
            norm=config.norm,
            out_features=tuple(config.out_features),
            freeze_at=config.freeze_at,
        )
    raise ConfigError(
        f"unsupported backbone config {type(config).__name__}: expected SwinConfig or ResNetConfig"
    )
