"""Window self-attention of the Swin blocks, with padding, cyclic shift and partition as gathers.

The official block pads the normalised map with zeros to a multiple of the window size, rolls
it by `-shift` on both axes, cuts it into windows, attends with a relative-position bias (plus
-100 between tokens of different shift regions in shifted blocks) and undoes all of it. Here
the pad + roll + partition is one gather with a precomputed index, the way back one gather
too, and the attention is `scaled_dot_product_attention` with bias and shift mask as its
additive mask. A padded token is all zeros after `norm1`, so its key and value are the `qkv`
bias: `qkv` runs on the real tokens plus one zero row that every padded slot reads, and the
output projection only on real tokens.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

SHIFT_MASK_VALUE = -100.0  # the official value between tokens of different shift regions


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


@functools.lru_cache(maxsize=32)
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
        # Contiguous, else SDPA materialises the broadcast mask for every window.
        return bias.view(tokens, tokens, self.num_heads).permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, tokens: torch.Tensor, layout: WindowLayout) -> torch.Tensor:
        """Attend within windows: normalised tokens `(B, HW, C)` to `(B, HW, C)`."""
        batch, _, channels = tokens.shape
        if layout.padded:
            tokens = torch.cat([tokens, tokens.new_zeros(batch, 1, channels)], dim=1)
        qkv = self.qkv(tokens).index_select(1, layout.gather_index)
        window_tokens = self.window_size**2
        query, key, value = (
            qkv.view(batch * layout.num_windows, window_tokens, 3, self.num_heads, -1)
            .permute(2, 0, 3, 1, 4)
            .unbind(0)
        )  # each (B*nW, heads, N, head_dim)

        bias = self.relative_position_bias().to(query.dtype)
        dropout = self.attn_drop if self.training else 0.0
        if layout.shift_mask is None:
            attended = self._attend(query, key, value, bias.expand(len(query), -1, -1, -1), dropout)
        elif batch == 1:
            attended = self._attend(
                query, key, value, bias + layout.shift_mask.to(query.dtype), dropout
            )
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
