"""Pixel decoder: a deformable-attention encoder over res3-res5, then an FPN down to stride 4.

Module and parameter names follow the official `MSDeformAttnPixelDecoder` so that official state
dicts load unchanged (`input_proj.{i}`, `transformer.level_embed`,
`transformer.encoder.layers.{i}`, `adapter_1`, `layer_1`, `mask_features`).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.models.rela.deform_attn import MultiScaleDeformableAttention
from grefbench.models.rela.position_encoding import sine_position_encoding

# The decoder after the pixel decoder always reads three scales (the official value is fixed).
NUM_DECODER_SCALES = 3


class ConvNorm(nn.Conv2d):
    """A convolution followed by an optional normalisation (child `norm`) and ReLU, like detectron2's `Conv2d`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, norm: str, relu: bool = False):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=norm == "")
        self.norm = make_norm(norm, out_channels)
        self.relu = relu
        # detectron2's c2_xavier_fill: Kaiming-uniform with a=1, zero bias.
        nn.init.kaiming_uniform_(self.weight, a=1)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x, inplace=True) if self.relu else x


def make_norm(norm: str, channels: int) -> nn.Module | None:
    """The normalisation layer named by SEM_SEG_HEAD.NORM ("" for none, "GN" for GroupNorm with 32 groups)."""
    if norm == "":
        return None
    if norm == "GN":
        return nn.GroupNorm(32, channels)
    raise ValueError(f"unsupported norm {norm!r}")  # the config loader rejects it first


class DeformableEncoderLayer(nn.Module):
    """Post-norm encoder layer: deformable self-attention, then a ReLU feed-forward network."""

    def __init__(self, dim: int, feedforward: int, dropout: float, levels: int, heads: int, points: int):
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention(dim, levels, heads, points)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, feedforward)
        self.dropout2 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(feedforward, dim)
        self.dropout3 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, src, pos, reference_points, spatial_shapes, level_start_index, offset_normalizer):
        attended = self.self_attn(src + pos, reference_points, src, spatial_shapes, level_start_index, offset_normalizer)
        src = self.norm1(src + self.dropout1(attended))
        hidden = self.linear2(self.dropout2(F.relu(self.linear1(src), inplace=True)))
        return self.norm2(src + self.dropout3(hidden))


class DeformableEncoder(nn.Module):
    """A stack of deformable encoder layers over flattened multi-scale maps, with a learned embedding per level."""

    def __init__(self, dim: int, heads: int, layers: int, feedforward: int, dropout: float, levels: int, points: int):
        super().__init__()
        # `encoder.layers.{i}` is the official key layout.
        self.encoder = nn.ModuleDict(
            {
                "layers": nn.ModuleList(
                    DeformableEncoderLayer(dim, feedforward, dropout, levels, heads, points) for _ in range(layers)
                )
            }
        )
        self.level_embed = nn.Parameter(torch.empty(levels, dim))
        for parameter in self.parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
        for module in self.modules():
            if isinstance(module, MultiScaleDeformableAttention):
                module.reset_parameters()
        nn.init.normal_(self.level_embed)

    def forward(self, maps: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Encode maps [B, dim, H_l, W_l] (coarse to fine) and return them in the same shapes."""
        device = maps[0].device
        shapes = [tuple(m.shape[-2:]) for m in maps]
        flat = torch.cat([m.flatten(2).transpose(1, 2) for m in maps], 1)
        pos = torch.cat(
            [
                sine_position_encoding(h, w, m.shape[1], device=device).flatten(2).transpose(1, 2) + self.level_embed[i]
                for i, (m, (h, w)) in enumerate(zip(maps, shapes))
            ],
            1,
        )
        spatial_shapes = torch.as_tensor(shapes, dtype=torch.long, device=device)
        sizes = [h * w for h, w in shapes]
        level_start_index = torch.as_tensor([0] + sizes[:-1], device=device).cumsum(0)
        reference_points = reference_grid(shapes, device)
        offset_normalizer = spatial_shapes.flip(-1).to(flat.dtype)
        for layer in self.encoder["layers"]:
            flat = layer(flat, pos, reference_points, spatial_shapes, level_start_index, offset_normalizer)
        batch = flat.shape[0]
        return [
            chunk.transpose(1, 2).view(batch, -1, h, w) for chunk, (h, w) in zip(flat.split(sizes, dim=1), shapes)
        ]


def reference_grid(shapes: Sequence[tuple[int, int]], device: torch.device) -> torch.Tensor:
    """Pixel centres of every level as (x, y) in [0, 1], shape [1, sum(H*W), 1, 2] (shared by all levels).

    Without padding every valid ratio is 1, so the official per-level reference points are all
    the same point; one shared point gives identical sampling locations.
    """
    grids = []
    for height, width in shapes:
        ys = torch.linspace(0.5, height - 0.5, height, dtype=torch.float32, device=device) / height
        xs = torch.linspace(0.5, width - 0.5, width, dtype=torch.float32, device=device) / width
        grid = torch.stack((xs[None, :].expand(height, width), ys[:, None].expand(height, width)), -1)
        grids.append(grid.reshape(-1, 2))
    return torch.cat(grids, 0)[None, :, None, :]


class PixelDecoder(nn.Module):
    """Multi-scale features from backbone maps: returns (mask_features at the finest stride, three coarse-to-fine maps)."""

    def __init__(
        self,
        input_shape: Mapping[str, tuple[int, int]],
        *,
        in_features: Sequence[str],
        encoder_in_features: Sequence[str],
        conv_dim: int,
        mask_dim: int,
        norm: str,
        encoder_layers: int,
        encoder_heads: int,
        encoder_points: int,
        encoder_feedforward: int,
        dropout: float,
        common_stride: int,
    ):
        super().__init__()
        by_stride = sorted(in_features, key=lambda name: input_shape[name][1])
        self.in_features = by_stride
        encoder_features = sorted(encoder_in_features, key=lambda name: input_shape[name][1])
        self.encoder_in_features = encoder_features
        # Coarse to fine, like the official `input_proj` order (res5 first).
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(input_shape[name][0], conv_dim, kernel_size=1), nn.GroupNorm(32, conv_dim))
            for name in encoder_features[::-1]
        )
        for projection in self.input_proj:
            nn.init.xavier_uniform_(projection[0].weight, gain=1)
            nn.init.zeros_(projection[0].bias)
        self.transformer = DeformableEncoder(
            conv_dim, encoder_heads, encoder_layers, encoder_feedforward, dropout, len(encoder_features), encoder_points
        )
        self.mask_features = nn.Conv2d(conv_dim, mask_dim, kernel_size=1)
        nn.init.kaiming_uniform_(self.mask_features.weight, a=1)
        nn.init.zeros_(self.mask_features.bias)
        finest_encoder_stride = min(input_shape[name][1] for name in encoder_features)
        num_fpn_levels = int(math.log2(finest_encoder_stride) - math.log2(common_stride))
        self.fpn_features = by_stride[:num_fpn_levels][::-1]  # coarse to fine
        for index, name in enumerate(by_stride[:num_fpn_levels]):
            self.add_module(f"adapter_{index + 1}", ConvNorm(input_shape[name][0], conv_dim, 1, norm=norm))
            self.add_module(f"layer_{index + 1}", ConvNorm(conv_dim, conv_dim, 3, norm=norm, relu=True))
        self.num_fpn_levels = num_fpn_levels

    def forward(self, features: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return `mask_features` [B, mask_dim, H/stride, W/stride] and the decoder's three scales (coarse first)."""
        device_type = next(iter(features.values())).device.type
        # Deformable attention runs in float32 even under autocast (as the official decoder does).
        with torch.autocast(device_type=device_type, enabled=False):
            maps = [
                projection(features[name].float())
                for projection, name in zip(self.input_proj, self.encoder_in_features[::-1])
            ]
            outputs = self.transformer(maps)
            for offset, name in enumerate(self.fpn_features):
                index = self.num_fpn_levels - offset  # adapter_N is the coarsest extra level
                lateral = getattr(self, f"adapter_{index}")(features[name].float())
                merged = lateral + F.interpolate(
                    outputs[-1], size=lateral.shape[-2:], mode="bilinear", align_corners=False
                )
                outputs.append(getattr(self, f"layer_{index}")(merged))
            return self.mask_features(outputs[-1]), outputs[:NUM_DECODER_SCALES]
