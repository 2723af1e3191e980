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

Differences in how, not what: tokens stay channels-last; the padding, cyclic shift and window
partition are one gather with a precomputed index (and the way back one gather too), and the
window attention runs through `scaled_dot_product_attention` with the relative-position bias
and shift mask as an additive mask. Since a padded token is all zeros after `norm1`, its
key and value are the `qkv` bias, so `qkv` is applied to the real tokens plus one zero row
that every padded slot reads.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from .fusion import PWAM

SHIFT_MASK_VALUE = -100.0  # the official value between tokens of different shift regions


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


@dataclass(frozen=True)
class WindowLayout:
    """Where each token of an `H x W` map goes in the (padded, shifted) windows, and back.

    `gather_index[slot]` is the flat token read into window slot `slot` (window-major, then
    row-major inside the window); `H * W` stands for a padding token. `scatter_index[token]` is
    the slot holding the real token `token`. `shift_mask` is `(num_windows, 1, N, N)` or None.
    """

    num_windows: int
    gather_index: torch.Tensor
    scatter_index: torch.Tensor
    shift_mask: torch.Tensor | None
    padded: bool


@functools.lru_cache(maxsize=64)
def window_layout(
    height: int, width: int, window_size: int, shift_size: int, device: torch.device
) -> WindowLayout:
    """Build (once per shape) the gather/scatter indices and the shift mask of one block type."""
    with torch.inference_mode(False):  # cached tensors must stay usable under autograd
        padded_height = math.ceil(height / window_size) * window_size
        padded_width = math.ceil(width / window_size) * window_size
        windows_down = padded_height // window_size
        windows_across = padded_width // window_size

        # Slot coordinates in the shifted, padded frame, laid out window by window.
        rows = torch.arange(padded_height).view(windows_down, 1, window_size, 1)
        cols = torch.arange(padded_width).view(1, windows_across, 1, window_size)
        rows, cols = torch.broadcast_tensors(rows, cols)  # (nWh, nWw, ws, ws)
        # torch.roll(x, -shift) puts x[(i + shift) % size] at position i.
        source_rows = (rows + shift_size) % padded_height
        source_cols = (cols + shift_size) % padded_width
        real = (source_rows < height) & (source_cols < width)
        gather_index = torch.where(
            real, source_rows * width + source_cols, torch.full_like(rows, height * width)
        ).flatten()
        slots = torch.arange(gather_index.numel())
        scatter_index = torch.empty(height * width, dtype=torch.long)
        scatter_index[gather_index[real.flatten()]] = slots[real.flatten()]

        shift_mask = None
        if shift_size > 0:
            # Three regions per axis in the shifted frame: [0, P-ws), [P-ws, P-shift), [P-shift, P).
            def regions(positions: torch.Tensor, padded: int) -> torch.Tensor:
                return (positions >= padded - window_size).long() + (
                    positions >= padded - shift_size
                ).long()

            region = regions(rows, padded_height) * 3 + regions(cols, padded_width)
            region = region.reshape(windows_down * windows_across, -1)
            different = region.unsqueeze(1) != region.unsqueeze(2)  # (nW, N, N)
            shift_mask = torch.zeros(different.shape).masked_fill_(different, SHIFT_MASK_VALUE)
            shift_mask = shift_mask.unsqueeze(1).to(device)

        return WindowLayout(
            num_windows=windows_down * windows_across,
            gather_index=gather_index.to(device),
            scatter_index=scatter_index.to(device),
            shift_mask=shift_mask,
            padded=bool(padded_height != height or padded_width != width),
        )


def relative_position_index(window_size: int) -> torch.Tensor:
    """Index `(N, N)` into the `(2ws-1)^2` bias table for every pair of tokens in a window."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij")
    ).flatten(1)  # (2, N)
    relative = coords[:, :, None] - coords[:, None, :] + (window_size - 1)  # (2, N, N)
    return relative[0] * (2 * window_size - 1) + relative[1]


class WindowAttention(nn.Module):
    """Multi-head self-attention inside (shifted) windows with a relative-position bias."""

    def __init__(
        self,
        dim: int,
        window_size: int,
        num_heads: int,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5  # `or`, as the official code
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads)
        )
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        # Persistent: the official checkpoints carry it.
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_position_bias(self) -> torch.Tensor:
        """The additive bias `(1, heads, N, N)` shared by all windows."""
        tokens = self.window_size**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return bias.view(tokens, tokens, self.num_heads).permute(2, 0, 1).unsqueeze(0)

    def forward(self, tokens: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        """Attend within windows: normalised tokens `(B, HW, C)` to `(B, HW, C)`."""
        batch, _, channels = tokens.shape
        if layout.padded:
            tokens = torch.cat([tokens, tokens.new_zeros(batch, 1, channels)], dim=1)
        qkv = self.qkv(tokens).index_select(1, layout.gather_index)
        window_tokens = self.window_size**2
        query, key, value = qkv.view(
            batch * layout.num_windows, window_tokens, 3, self.num_heads, -1
        ).permute(2, 0, 3, 1, 4).unbind(0)  # each (B*nW, heads, N, head_dim)

        bias = self.relative_position_bias().to(query.dtype)
        dropout = self.attn_drop if self.training else 0.0
        if layout.shift_mask is None:
            attended = self._attend(query, key, value, bias.expand(len(query), -1, -1, -1), dropout)
        elif batch == 1:
            attended = self._attend(query, key, value, bias + layout.shift_mask.to(query.dtype), dropout)
        else:
            # The shift mask differs per window and the bias per head: attending one image at
            # a time keeps their sum at (nW, heads, N, N) instead of expanding it to the batch.
            mask = bias + layout.shift_mask.to(query.dtype)
            chunks = zip(*(part.split(layout.num_windows) for part in (query, key, value)))
            attended = torch.cat([self._attend(q, k, v, mask, dropout) for q, k, v in chunks])
        attended = attended.transpose(1, 2).reshape(batch, -1, channels)
        attended = attended.index_select(1, layout.scatter_index)
        return self.proj_drop(self.proj(attended))

    def _attend(self, query, key, value, mask, dropout: float) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, scale=self.scale
        )


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


class SwinBlock(nn.Module):
    """Pre-norm window attention and MLP, each with a residual connection."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int,
        shift_size: int,
        mlp_ratio: float,
        qkv_bias: bool,
        qk_scale: float | None,
        drop: float,
        attn_drop: float,
        drop_path_rate: float,
    ) -> None:
        super().__init__()
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

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
        # (B, H/2, dy, W/2, dx, C) -> (B, H/2, W/2, dx, dy, C): the official order x00, x10, x01, x11.
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
        mlp_ratio: float,
        qkv_bias: bool,
        qk_scale: float | None,
        drop: float,
        attn_drop: float,
        drop_path_rates: Sequence[float],
        downsample: bool,
        text_dim: int,
        use_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = window_size // 2
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                num_heads,
                window_size,
                0 if index % 2 == 0 else self.shift_size,
                mlp_ratio,
                qkv_bias,
                qk_scale,
                drop,
                attn_drop,
                drop_path_rates[index],
            )
            for index in range(depth)
        )
        self.fusion = PWAM(dim, text_dim, num_heads=1, dropout=0.0)
        if downsample:
            self.downsample = PatchMerging(dim)
            self.res_gate = nn.Sequential(
                nn.Linear(dim, dim, bias=False), nn.ReLU(), nn.Linear(dim, dim, bias=False), nn.Tanh()
            )
            nn.init.zeros_(self.res_gate[0].weight)  # the gate starts closed, as in the official
            nn.init.zeros_(self.res_gate[2].weight)
        else:
            self.downsample = None
            self.res_gate = None

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
                tokens = torch.utils.checkpoint.checkpoint(block, tokens, layout, use_reentrant=False)
            else:
                tokens = block(tokens, layout)
        fused = self.fusion(tokens, words, word_mask)
        if self.downsample is None:
            return fused, None
        tokens = tokens + self.res_gate(fused) * fused
        return fused, self.downsample(tokens, height, width)


class PatchEmbed(nn.Module):
    """Zero-pad the image to a multiple of the patch size and embed patches with a strided conv."""

    def __init__(self, patch_size: int, in_channels: int, embed_dim: int, patch_norm: bool) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images `(B, 3, H, W)` to patch features `(B, C, H', W')`."""
        height, width = images.shape[-2:]
        pad_bottom, pad_right = -height % self.patch_size, -width % self.patch_size
        if pad_bottom or pad_right:
            images = F.pad(images, (0, pad_right, 0, pad_bottom))
        features = self.proj(images)
        if self.norm is not None:
            features = self.norm(features.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return features


class SwinBackbone(nn.Module):
    """The multimodal Swin Transformer: `forward(images, lang_feat, lang_mask)` to res2..res5.

    `lang_feat` is `(B, text_dim, L)` (the official channels-first layout), `lang_mask` is
    `(B, L, 1)` or `(B, L)` with 1 for real words. Outputs are contiguous NCHW features at
    strides 4, 8, 16, 32 with `embed_dim * 2**i` channels, restricted to `out_features`.
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
    ) -> None:
        super().__init__()
        num_stages = len(depths)
        self.out_features = tuple(out_features)
        self.num_features = [embed_dim * 2**index for index in range(num_stages)]
        self.patch_embed = PatchEmbed(patch_size, in_channels, embed_dim, patch_norm)
        if ape:
            patches = pretrain_img_size // patch_size
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, embed_dim, patches, patches))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        else:
            self.absolute_pos_embed = None
        self.pos_drop = nn.Dropout(drop_rate)

        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()  # stochastic depth decay
        self.layers = nn.ModuleList()
        for index in range(num_stages):
            first = sum(depths[:index])
            self.layers.append(
                SwinStage(
                    dim=self.num_features[index],
                    depth=depths[index],
                    num_heads=num_heads[index],
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path_rates=rates[first : first + depths[index]],
                    downsample=index < num_stages - 1,
                    text_dim=text_dim,
                    use_checkpoint=use_checkpoint,
                )
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
                outputs[name] = normed.view(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()
            height, width = (height + 1) // 2, (width + 1) // 2
        return outputs
