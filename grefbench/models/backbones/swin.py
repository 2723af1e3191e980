"""Swin Transformer with language fusion (PWAM) after every stage: ReLA's Swin-T/Swin-B backbone.

Behaviour follows the official `MultiModalSwinTransformer` / `D2SwinTransformer`
(henghuiding/ReLA, `gres_model/modeling/backbone/swin.py`), and parameter names follow it too,
so official checkpoints load as they are. Official facts kept on purpose:

- Every second block shifts its windows by `window_size // 2`, whatever the feature size; a map
  smaller than a window is zero-padded up to one window rather than shrinking the window.
- Feature maps are zero-padded (after `norm1`) to a multiple of the window size and the padded
  tokens take part in the attention as keys and values; only the shift uses a mask (-100 between
  tokens of different shift regions, 0 elsewhere).
- Each stage's output is `norm_i(PWAM(x))`; on stages that downsample, the visual stream
  continues as `x + res_gate(PWAM(x)) * PWAM(x)` into the patch merging.

Differences in how, not what: tokens stay channels-last `(B, H*W, C)` from the patch embedding
to the output norms, and the window attention (`window_attention.py`) replaces the official
pad / roll / partition / softmax / reverse chain by gathers and fused attention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from .fusion import PWAM
from .window_attention import WindowAttention, WindowLayout, window_layout


def drop_path(tokens: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples with probability `rate`, rescale the others."""
    if rate == 0.0 or not training:
        return tokens
    keep = 1.0 - rate
    shape = (tokens.shape[0],) + (1,) * (tokens.dim() - 1)
    return tokens * tokens.new_empty(shape).bernoulli_(keep).div_(keep)


class DropPath(nn.Module):
    """Module form of `drop_path`, identity in eval mode."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return drop_path(tokens, self.rate, self.training)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Mlp(nn.Module):
    """Two linear layers with GELU between them (the transformer feed-forward)."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(tokens)))))


@dataclass(frozen=True)
class BlockOptions:
    """The settings every Swin block of the network shares."""

    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop: float = 0.0
    attn_drop: float = 0.0


class SwinBlock(nn.Module):
    """Pre-norm window attention and MLP, each with a residual connection."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        drop_path_rate: float,
        options: BlockOptions,
    ) -> None:
        super().__init__()
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(
            dim,
            window_size,
            num_heads,
            options.qkv_bias,
            options.qk_scale,
            options.attn_drop,
            options.drop,
        )
        self.drop_path = DropPath(drop_path_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * options.mlp_ratio), options.drop)

    def forward(self, tokens: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        tokens = tokens + self.drop_path(self.attn(self.norm1(tokens), layout))
        return tokens + self.drop_path(self.mlp(self.norm2(tokens)))


class PatchMerging(nn.Module):
    """Concatenate each 2x2 neighbourhood (x00, x10, x01, x11) and project 4C to 2C."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
        batch, _, channels = tokens.shape
        grid = tokens.view(batch, height, width, channels)
        if height % 2 or width % 2:
            grid = F.pad(grid, (0, 0, 0, width % 2, 0, height % 2))
        half_height, half_width = grid.shape[1] // 2, grid.shape[2] // 2
        # (B, H/2, dy, W/2, dx, C) -> (B, H/2, W/2, dx, dy, C): the official x00, x10, x01, x11.
        grid = grid.view(batch, half_height, 2, half_width, 2, channels).permute(0, 1, 3, 4, 2, 5)
        merged = grid.reshape(batch, half_height * half_width, 4 * channels)
        return self.reduction(self.norm(merged))


class SwinStage(nn.Module):
    """Swin blocks, then PWAM; on downsampling stages a gated residual and patch merging.

    Returns `(fused, next_tokens)`: `fused` is the PWAM output at this stage's resolution (the
    stage feature before its output norm), `next_tokens` the input of the next stage or None.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        drop_path_rates: Sequence[float],
        downsample: bool,
        text_dim: int,
        options: BlockOptions,
        use_checkpoint: bool = False,
        fusion_heads: int = 1,
        fusion_dropout: float = 0.0,
        gate_without_downsample: bool = False,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                num_heads,
                window_size,
                0 if index % 2 == 0 else window_size // 2,
                drop_path_rates[index],
                options,
            )
            for index in range(depth)
        )
        self.fusion = PWAM(dim, text_dim, num_heads=fusion_heads, dropout=fusion_dropout)
        self.downsample = PatchMerging(dim) if downsample else None
        self.res_gate = None
        # LAVT builds the gate on the last stage too (its result is discarded there); ReLA does not.
        if downsample or gate_without_downsample:
            self.res_gate = nn.Sequential(
                nn.Linear(dim, dim, bias=False),
                nn.ReLU(),
                nn.Linear(dim, dim, bias=False),
                nn.Tanh(),
            )
            nn.init.zeros_(self.res_gate[0].weight)  # the gate starts closed, as in the official
            nn.init.zeros_(self.res_gate[2].weight)

    def forward(
        self,
        tokens: torch.Tensor,
        height: int,
        width: int,
        words: torch.Tensor,
        word_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        layouts = {
            shift: window_layout(height, width, self.window_size, shift, tokens.device)
            for shift in {block.shift_size for block in self.blocks}
        }
        for block in self.blocks:
            layout = layouts[block.shift_size]
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                tokens = torch.utils.checkpoint.checkpoint(
                    block, tokens, layout, use_reentrant=False
                )
            else:
                tokens = block(tokens, layout)
        fused = self.fusion(tokens, words, word_mask)
        if self.downsample is None:
            return fused, None
        tokens = tokens + self.res_gate(fused) * fused
        return fused, self.downsample(tokens, height, width)


class PatchEmbed(nn.Module):
    """Zero-pad the image to a multiple of the patch size and embed patches with a strided conv.

    `proj` replaces the strided conv (ConvStem passes its 1x1 projection); the padding and the
    optional LayerNorm stay the same.
    """

    def __init__(
        self, patch_size: int, in_channels: int, embed_dim: int, patch_norm: bool, proj: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = proj if proj is not None else nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size,
                                                            stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Padded images to unnormalised patch features."""
        return self.proj(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images `(B, 3, H, W)` to patch features `(B, C, H', W')`, H' = ceil(H / patch_size)."""
        height, width = images.shape[-2:]
        pad_bottom, pad_right = -height % self.patch_size, -width % self.patch_size
        if pad_bottom or pad_right:
            images = F.pad(images, (0, pad_right, 0, pad_bottom))
        features = self.embed(images)
        if self.norm is not None:
            features = self.norm(features.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return features


class ConvStem(PatchEmbed):
    """grefbench's opt-in Swin stem (`GREFBENCH.SWIN_STEM: conv`): 3x3 convolutions instead of a patchify conv.

    Xiao et al. 2021 ("Early Convolutions Help Transformers See Better"): log2(patch_size)
    stride-2 3x3 conv + BatchNorm + ReLU layers, one stride-1 3x3 layer, then a 1x1 projection
    to `embed_dim`. Each token then sees 15 px for patch size 4 (4 px patchified), and same-size
    outputs as `PatchEmbed` on the same zero padding.
    """

    def __init__(self, patch_size: int, in_channels: int, embed_dim: int, patch_norm: bool) -> None:
        if patch_size < 2 or patch_size & (patch_size - 1):
            raise ValueError(f"the conv stem needs a patch size that is a power of 2, got {patch_size}")
        halvings = patch_size.bit_length() - 1
        widths = [max(embed_dim // 2 ** (halvings - index), 8) for index in range(1, halvings + 1)]
        layers: list[nn.Module] = []
        channels = in_channels
        for index, width in enumerate([*widths, embed_dim]):
            stride = 2 if index < halvings else 1
            layers += [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        super().__init__(patch_size, in_channels, embed_dim, patch_norm, proj=nn.Conv2d(channels, embed_dim, 1))
        self.convs = nn.Sequential(*layers)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.convs(images))


# GREFBENCH.SWIN_STEM values: the official patchify conv, or grefbench's opt-in conv stem.
STEMS = {"patch": PatchEmbed, "conv": ConvStem}


class SwinBackbone(nn.Module):
    """The multimodal Swin Transformer: `forward(images, lang_feat, lang_mask)` to res2..res5.

    `lang_feat` is `(B, text_dim, L)` (the official channels-first layout), `lang_mask` is
    `(B, L, 1)` or `(B, L)` with 1 for real words. Outputs are contiguous NCHW features at
    strides 4, 8, 16, 32 with `embed_dim * 2**i` channels, restricted to `out_features`.

    ReLA's defaults; LAVT passes its PWAM heads per stage (`fusion_heads`, official `--mha`),
    `fusion_dropout` (`--fusion_drop`) and `gate_every_stage=True` (a `res_gate` on the last stage).
    """

    size_divisibility = 32

    def __init__(
        self,
        *,
        pretrain_img_size: int = 224,
        patch_size: int = 4,
        in_channels: int = 3,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.3,
        ape: bool = False,
        patch_norm: bool = True,
        out_features: Sequence[str] = ("res2", "res3", "res4", "res5"),
        use_checkpoint: bool = False,
        text_dim: int = 768,
        stem: str = "patch",
        fusion_heads: Sequence[int] | None = None,
        fusion_dropout: float = 0.0,
        gate_every_stage: bool = False,
    ) -> None:
        super().__init__()
        num_stages = len(depths)
        fusion_heads = tuple(fusion_heads) if fusion_heads is not None else (1,) * num_stages
        self.out_features = tuple(out_features)
        self.num_features = [embed_dim * 2**index for index in range(num_stages)]
        self.patch_embed = STEMS[stem](patch_size, in_channels, embed_dim, patch_norm)
        if ape:
            patches = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, patches, patches))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        else:
            self.absolute_pos_embed = None
        self.pos_drop = nn.Dropout(drop_rate)

        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # stochastic depth decay
        options = BlockOptions(mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate)
        self.layers = nn.ModuleList(
            SwinStage(
                self.num_features[index],
                depths[index],
                num_heads[index],
                window_size,
                rates[sum(depths[:index]) : sum(depths[: index + 1])],
                downsample=index < num_stages - 1,
                text_dim=text_dim,
                options=options,
                use_checkpoint=use_checkpoint,
                fusion_heads=fusion_heads[index],
                fusion_dropout=fusion_dropout,
                gate_without_downsample=gate_every_stage,
            )
            for index in range(num_stages)
        )
        for index in range(num_stages):  # one output norm per stage, named norm0..norm3
            self.add_module(f"norm{index}", nn.LayerNorm(self.num_features[index]))
        self._strides = {f"res{index + 2}": patch_size * 2**index for index in range(num_stages)}

    def output_shape(self) -> dict[str, tuple[int, int]]:
        """`{name: (channels, stride)}` of each returned feature."""
        return {
            name: (self.num_features[int(name[3:]) - 2], self._strides[name])
            for name in self.out_features
        }

    def forward(
        self, images: torch.Tensor, lang_feat: torch.Tensor, lang_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if images.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
        if lang_mask.dim() == 2:
            lang_mask = lang_mask.unsqueeze(-1)
        words = lang_feat.transpose(1, 2)  # (B, L, text_dim)

        features = self.patch_embed(images)
        batch, _, height, width = features.shape
        if self.absolute_pos_embed is not None:
            features = features + F.interpolate(
                self.absolute_pos_embed, size=(height, width), mode="bicubic"
            )
        tokens = self.pos_drop(features.flatten(2).transpose(1, 2))

        outputs = {}
        for index, stage in enumerate(self.layers):
            fused, tokens = stage(tokens, height, width, words, lang_mask)
            name = f"res{index + 2}"
            if name in self.out_features:
                normed = getattr(self, f"norm{index}")(fused)
                outputs[name] = (
                    normed.view(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()
                )
            height, width = (height + 1) // 2, (width + 1) // 2
        return outputs
