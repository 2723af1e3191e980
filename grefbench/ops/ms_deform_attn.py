"""Multi-scale deformable attention (Deformable-DETR semantics) and its backend dispatch.

Shapes: value [B, S, heads, C]; spatial_shapes [L, 2] (H, W) int64; level_start_index [L];
sampling_locations [B, Q, heads, L, P, 2] as (x, y) in [0, 1]; attention_weights
[B, Q, heads, L, P]. Output [B, Q, heads * C]. Samples outside a map read zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ms_deform_attn_reference(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Pure PyTorch formulation with `grid_sample` (the official code's fallback path)."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [int(h) * int(w) for h, w in spatial_shapes.tolist()]
    value_levels = value.split(sizes, dim=1)
    grids = 2 * sampling_locations - 1
    sampled = []
    for level, (height, width) in enumerate(spatial_shapes.tolist()):
        # [B, H*W, heads, C] -> [B*heads, C, H, W]
        value_map = value_levels[level].flatten(2).transpose(1, 2).reshape(batch * heads, channels, height, width)
        # [B, Q, heads, P, 2] -> [B*heads, Q, P, 2]
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(value_map, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    output = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)
    return output.view(batch, heads * channels, queries).transpose(1, 2).contiguous()


def ms_deform_attn(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """Multi-scale deformable attention; `backend` is "auto", "cpp", "cuda" or "torch"."""
    if backend not in ("auto", "torch"):
        raise NotImplementedError(f"backend {backend!r} is not built yet")
    return ms_deform_attn_reference(value, spatial_shapes, sampling_locations, attention_weights)
