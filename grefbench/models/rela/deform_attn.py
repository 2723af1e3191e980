"""Multi-scale deformable attention module (Deformable DETR), the pixel decoder's self-attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.ops import ms_deform_attn


class MultiScaleDeformableAttention(nn.Module):
    """Each query attends to `points` learned sampling points around its reference point per level and head.

    Parameter names (`sampling_offsets`, `attention_weights`, `value_proj`, `output_proj`) are
    those of the official `MSDeformAttn`, so official state dicts load unchanged. The sampling
    itself is `grefbench.ops.ms_deform_attn` (`backend` picks the implementation).
    """

    def __init__(self, dim: int = 256, levels: int = 4, heads: int = 8, points: int = 4, *, backend: str = "auto"):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.dim = dim
        self.levels = levels
        self.heads = heads
        self.points = points
        self.backend = backend
        self.sampling_offsets = nn.Linear(dim, heads * levels * points * 2)
        self.attention_weights = nn.Linear(dim, heads * levels * points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Deformable DETR's initialisation: offsets start on a ring of directions, one per head."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.heads, dtype=torch.float32) * (2.0 * math.pi / self.heads)
        directions = torch.stack([angles.cos(), angles.sin()], -1)
        directions = directions / directions.abs().max(-1, keepdim=True)[0]
        grid = directions.view(self.heads, 1, 1, 2).repeat(1, self.levels, self.points, 1)
        grid = grid * torch.arange(1, self.points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        reference_points: torch.Tensor,
        value_input: torch.Tensor,
        spatial_shapes: torch.Tensor,
        level_start_index: torch.Tensor,
        offset_normalizer: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from `query` [B, Q, dim] to `value_input` [B, S, dim] (levels flattened and concatenated).

        `reference_points` is [B or 1, Q, levels, 2] or [B or 1, Q, 1, 2] (one point shared by all
        levels) as (x, y) in [0, 1]; `spatial_shapes` [levels, 2] holds (H, W) per level.
        `offset_normalizer` [levels, 2] = (W, H) as float may be passed to avoid recomputing it.
        """
        batch, queries, _ = query.shape
        value = self.value_proj(value_input).view(batch, value_input.shape[1], self.heads, self.dim // self.heads)
        offsets = self.sampling_offsets(query).view(batch, queries, self.heads, self.levels, self.points, 2)
        weights = self.attention_weights(query).view(batch, queries, self.heads, self.levels * self.points)
        weights = F.softmax(weights, -1).view(batch, queries, self.heads, self.levels, self.points)
        if offset_normalizer is None:
            offset_normalizer = spatial_shapes.flip(-1).to(offsets.dtype)
        # Offsets are in pixels of each level; dividing by (W, H) makes them relative like the reference.
        locations = reference_points[:, :, None, :, None, :] + offsets / offset_normalizer[None, None, None, :, None, :]
        output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend=self.backend)
        return self.output_proj(output)
