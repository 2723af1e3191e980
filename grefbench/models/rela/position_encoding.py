"""Sine position encoding of a feature map (DETR style, normalised to [0, 2*pi])."""

from __future__ import annotations

import math

import torch


def sine_position_encoding(
    height: int,
    width: int,
    channels: int,
    *,
    device: torch.device | str | None = None,
    temperature: float = 10000.0,
) -> torch.Tensor:
    """Position encoding of an unpadded `height` x `width` map as a `[1, channels, height, width]` tensor.

    The first half of the channels encodes the row, the second half the column; within each half
    the channels alternate sin/cos at geometrically spaced frequencies. Rows and columns count
    from 1 and are divided by (size + 1e-6) before scaling by 2*pi, the same float32 operations as
    the official `PositionEmbeddingSine(normalize=True)`, so values match bit for bit. The result
    does not depend on the batch: callers broadcast it.
    """
    assert channels % 2 == 0, "sine position encoding needs an even number of channels"
    half = channels // 2
    eps = 1e-6
    scale = 2 * math.pi
    rows = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    cols = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    rows = rows / (rows[-1:] + eps) * scale
    cols = cols / (cols[-1:] + eps) * scale
    frequencies = torch.arange(half, dtype=torch.float32, device=device)
    frequencies = temperature ** (2 * (frequencies // 2) / half)
    row_angles = rows[:, None] / frequencies  # [H, half]
    col_angles = cols[:, None] / frequencies  # [W, half]
    row_code = torch.stack((row_angles[:, 0::2].sin(), row_angles[:, 1::2].cos()), dim=2).flatten(1)
    col_code = torch.stack((col_angles[:, 0::2].sin(), col_angles[:, 1::2].cos()), dim=2).flatten(1)
    encoding = torch.cat(
        (row_code[:, None, :].expand(height, width, half), col_code[None, :, :].expand(height, width, half)),
        dim=2,
    )
    return encoding.permute(2, 0, 1).unsqueeze(0)
