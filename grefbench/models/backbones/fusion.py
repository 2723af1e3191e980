"""PWAM: the pixel-word attention module that fuses language into every Swin stage (from LAVT).

The official module works on channels-first `(B, C, H*W)` tensors with `Conv1d(kernel_size=1)`
layers. Here every tensor stays channels-last `(B, H*W, C)`, which is how the Swin stages hold
their tokens, so the pointwise convolutions become matrix products without transposes. The
parameters keep the official names and the `Conv1d` weight shape `(out, in, 1)`, so official
checkpoints load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INSTANCE_NORM_EPS = 1e-5  # torch.nn.InstanceNorm1d's default, as in the official module


class PointwiseConv(nn.Module):
    """A `Conv1d(in_channels, out_channels, kernel_size=1)` applied to channels-last tokens.

    Holds `weight` `(out, in, 1)` and `bias` `(out,)` like `nn.Conv1d`; `forward` maps
    `(..., in)` to `(..., out)`.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # Same initialisation as nn.Conv1d (kaiming-uniform weight, fan-in-uniform bias).
        reference = nn.Conv1d(in_channels, out_channels, kernel_size=1)
        self.weight = nn.Parameter(reference.weight.detach().clone())
        self.bias = nn.Parameter(reference.bias.detach().clone())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.linear(tokens, self.weight.squeeze(-1), self.bias)

    def extra_repr(self) -> str:
        out_channels, in_channels, _ = self.weight.shape
        return f"{in_channels}, {out_channels}"


class TokenInstanceNorm(nn.Module):
    """`nn.InstanceNorm1d(channels)` (no affine, no running statistics) on `(B, N, C)` tokens.

    Each channel of each sample is normalised over the N tokens with the biased variance.
    """

    def __init__(self, eps: float = INSTANCE_NORM_EPS) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        variance, mean = torch.var_mean(tokens, dim=1, keepdim=True, correction=0)
        return (tokens - mean) * torch.rsqrt(variance + self.eps)


class ImageLanguageAttention(nn.Module):
    """Every pixel attends to the words of its sentence; padding words get no weight.

    Queries are the pixels (pointwise conv + instance norm over pixels), keys and values the
    words. Masked words have their keys and values zeroed and their logits lowered by 1e4,
    exactly like the official `SpatialImageLanguageAttention`, so changing the features of a
    padding word changes nothing.
    """

    def __init__(
        self,
        visual_channels: int,
        text_channels: int,
        key_channels: int,
        value_channels: int,
        out_channels: int | None = None,
        num_heads: int = 1,
    ) -> None:
        super().__init__()
        out_channels = value_channels if out_channels is None else out_channels
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(
                f"key_channels {key_channels} and value_channels {value_channels} must be "
                f"divisible by num_heads {num_heads}"
            )
        self.key_channels = key_channels
        self.value_channels = value_channels
        self.num_heads = num_heads
        # Attribute names and indices are the official state-dict keys (f_key.0.weight, ...).
        self.f_key = nn.Sequential(PointwiseConv(text_channels, key_channels))
        self.f_query = nn.Sequential(
            PointwiseConv(visual_channels, key_channels), TokenInstanceNorm()
        )
        self.f_value = nn.Sequential(PointwiseConv(text_channels, value_channels))
        self.W = nn.Sequential(PointwiseConv(value_channels, out_channels), TokenInstanceNorm())

    def forward(
        self, pixels: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor
    ) -> torch.Tensor:
        """Map pixels `(B, HW, Cv)`, words `(B, L, Ct)` and mask `(B, L, 1)` to `(B, HW, out)`."""
        batch, num_pixels, _ = pixels.shape
        num_words = words.shape[1]
        heads = self.num_heads
        word_mask = word_mask.to(pixels.dtype)

        query = self.f_query(pixels)  # (B, HW, K)
        key = self.f_key(words) * word_mask  # (B, L, K)
        value = self.f_value(words) * word_mask  # (B, L, V)

        query = query.view(batch, num_pixels, heads, -1).transpose(1, 2)  # (B, h, HW, K/h)
        key = key.view(batch, num_words, heads, -1).transpose(1, 2)  # (B, h, L, K/h)
        value = value.view(batch, num_words, heads, -1).transpose(1, 2)  # (B, h, L, V/h)

        # The official scale uses all key channels, not the per-head width.
        logits = torch.matmul(query, key.transpose(-1, -2)) * self.key_channels**-0.5
        padding_penalty = (1e4 * word_mask - 1e4).view(batch, 1, 1, num_words)
        weights = torch.softmax(logits + padding_penalty, dim=-1)  # (B, h, HW, L)
        attended = torch.matmul(weights, value)  # (B, h, HW, V/h)
        attended = attended.transpose(1, 2).reshape(batch, num_pixels, self.value_channels)
        return self.W(attended)


class PWAM(nn.Module):
    """Pixel-word attention: `gelu(conv(gelu(conv(x)) * attend(x, words)))` on `(B, HW, C)`.

    `text_channels` is the width of the text encoder (768 for BERT-base, hard-coded in the
    official code). The output replaces nothing by itself: the Swin stage normalises it as
    its feature and, on stages that downsample, adds it to the visual stream through a gate.
    """

    def __init__(
        self, channels: int, text_channels: int = 768, num_heads: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.vis_project = nn.Sequential(
            PointwiseConv(channels, channels), nn.GELU(), nn.Dropout(dropout)
        )
        self.image_lang_att = ImageLanguageAttention(
            channels, text_channels, channels, channels, out_channels=channels, num_heads=num_heads
        )
        self.project_mm = nn.Sequential(
            PointwiseConv(channels, channels), nn.GELU(), nn.Dropout(dropout)
        )

    def forward(
        self, pixels: torch.Tensor, words: torch.Tensor, word_mask: torch.Tensor
    ) -> torch.Tensor:
        """Fuse words `(B, L, Ct)` (mask `(B, L, 1)`) into pixels `(B, HW, C)`."""
        visual = self.vis_project(pixels)
        language = self.image_lang_att(pixels, words, word_mask)
        return self.project_mm(visual * language)
