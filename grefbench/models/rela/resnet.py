"""detectron2-style ResNet (ReLA's R-50 backbone) with frozen batch norm; it ignores language.

Module and buffer names follow detectron2's `ResNet` as built by ReLA's
`build_d2_resnet_backbone` (`stem.conv1`, `res2.0.conv1` ... `res5.2.conv3`, `shortcut`, each
conv with its `norm`), so official checkpoints load as they are. As in detectron2, the stride of
a downsampling bottleneck sits in the 1x1 conv when `stride_in_1x1` (the detectron2 default,
MSRA weights) and in the 3x3 conv otherwise (ReLA's R-50 config, torchvision weights).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

FROZEN_BN_EPS = 1e-5  # detectron2's FrozenBatchNorm2d default
BLOCKS_PER_STAGE = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
STAGE_NAMES = ("res2", "res3", "res4", "res5")


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine transform, all four stored as buffers.

    Computes `(x - running_mean) / sqrt(running_var + eps) * weight + bias`. Initialised to the
    identity (`running_var = 1 - eps`), like detectron2's. `num_batches_tracked` is a buffer
    set to None (so absent from the state dict) unless converted from a `BatchNorm2d`.
    """

    def __init__(self, num_features: int, eps: float = FROZEN_BN_EPS) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)
        self.register_buffer("num_batches_tracked", None)

    @classmethod
    def from_batch_norm(cls, norm: nn.modules.batchnorm._BatchNorm) -> FrozenBatchNorm2d:
        """Freeze a (Sync)BatchNorm with its current statistics, as detectron2's freeze does."""
        frozen = cls(norm.num_features, norm.eps)
        if norm.affine:
            frozen.weight.copy_(norm.weight.detach())
            frozen.bias.copy_(norm.bias.detach())
        frozen.running_mean.copy_(norm.running_mean)
        frozen.running_var.copy_(norm.running_var)
        frozen.num_batches_tracked = norm.num_batches_tracked
        return frozen

    def scale_and_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel `(scale, shift)` with `norm(x) = x * scale + shift`."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        return scale, self.bias - self.running_mean * scale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale_and_shift()
        dtype = features.dtype
        return features * scale.view(1, -1, 1, 1).to(dtype) + shift.view(1, -1, 1, 1).to(dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def make_norm(norm: str, channels: int) -> nn.Module | None:
    """detectron2's `get_norm` for the names a ResNet config may use."""
    if norm == "FrozenBN":
        return FrozenBatchNorm2d(channels)
    if norm in ("BN", "SyncBN"):  # SyncBN keeps BN's state dict; synchronisation is not needed here
        return nn.BatchNorm2d(channels)
    if norm == "GN":
        return nn.GroupNorm(32, channels)
    if norm == "":
        return None
    raise ValueError(f"unsupported norm {norm!r}: expected FrozenBN, BN, SyncBN, GN or ''")


class ConvNorm(nn.Conv2d):
    """A bias-free conv followed by its `norm` (detectron2's `Conv2d(..., norm=...)`).

    A frozen batch norm is folded into the conv weights on the fly: one conv instead of a conv
    and a pass over its output, with the same result up to float rounding.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str, **conv_options) -> None:
        super().__init__(in_channels, out_channels, bias=False, **conv_options)
        self.norm = make_norm(norm, out_channels)
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")  # c2_msra_fill

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, FrozenBatchNorm2d):
            scale, shift = self.norm.scale_and_shift()
            weight = self.weight * scale.view(-1, 1, 1, 1).to(self.weight.dtype)
            return self._conv_forward(features, weight, shift.to(self.weight.dtype))
        features = super().forward(features)
        return features if self.norm is None else self.norm(features)


class BasicStem(nn.Module):
    """7x7/2 conv + norm + ReLU, then 3x3/2 max pooling: stride 4."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.conv1 = ConvNorm(in_channels, out_channels, norm, kernel_size=7, stride=2, padding=3)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu_(self.conv1(images)), kernel_size=3, stride=2, padding=1)


class BottleneckBlock(nn.Module):
    """1x1 reduce, 3x3 (grouped, dilated), 1x1 expand, plus a projected shortcut if needed."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        bottleneck_channels: int,
        stride: int,
        num_groups: int,
        norm: str,
        stride_in_1x1: bool,
        dilation: int,
    ) -> None:
        super().__init__()
        self.shortcut = (
            ConvNorm(in_channels, out_channels, norm, kernel_size=1, stride=stride)
            if in_channels != out_channels
            else None
        )
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = ConvNorm(
            in_channels, bottleneck_channels, norm, kernel_size=1, stride=stride_1x1
        )
        self.conv2 = ConvNorm(
            bottleneck_channels,
            bottleneck_channels,
            norm,
            kernel_size=3,
            stride=stride_3x3,
            padding=dilation,
            dilation=dilation,
            groups=num_groups,
        )
        self.conv3 = ConvNorm(bottleneck_channels, out_channels, norm, kernel_size=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = F.relu_(self.conv1(features))
        out = F.relu_(self.conv2(out))
        out = self.conv3(out)
        out += features if self.shortcut is None else self.shortcut(features)
        return F.relu_(out)


class BasicBlock(nn.Module):
    """Two 3x3 convs plus a projected shortcut if needed (ResNet-18/34)."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int, norm: str) -> None:
        super().__init__()
        self.shortcut = (
            ConvNorm(in_channels, out_channels, norm, kernel_size=1, stride=stride)
            if in_channels != out_channels
            else None
        )
        self.conv1 = ConvNorm(
            in_channels, out_channels, norm, kernel_size=3, stride=stride, padding=1
        )
        self.conv2 = ConvNorm(out_channels, out_channels, norm, kernel_size=3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu_(self.conv1(features)))
        out += features if self.shortcut is None else self.shortcut(features)
        return F.relu_(out)


def freeze_module(module: nn.Module) -> nn.Module:
    """No gradients for `module`'s parameters, and its batch norms frozen (detectron2's freeze)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.BatchNorm2d, nn.SyncBatchNorm)):
            setattr(module, name, FrozenBatchNorm2d.from_batch_norm(child))
        else:
            freeze_module(child)
    return module


class ResNetBackbone(nn.Module):
    """ResNet returning `res2`..`res5` (strides 4..32); the language arguments are ignored.

    Stages after the last requested feature are not built, as in detectron2. `freeze_at`
    freezes the stem (1) and the first `freeze_at - 1` stages.
    """

    size_divisibility = 0  # detectron2's Backbone default; ReLA pads to 32 by its own setting

    def __init__(
        self,
        *,
        depth: int = 50,
        in_channels: int = 3,
        num_groups: int = 1,
        width_per_group: int = 64,
        stem_out_channels: int = 64,
        res2_out_channels: int = 256,
        stride_in_1x1: bool = True,
        res5_dilation: int = 1,
        norm: str = "FrozenBN",
        out_features: Sequence[str] = ("res4",),
        freeze_at: int = 2,
    ) -> None:
        super().__init__()
        self.out_features = tuple(out_features)
        self.stem = BasicStem(in_channels, stem_out_channels, norm)
        num_stages = max(STAGE_NAMES.index(name) + 1 for name in self.out_features)
        self._shapes: dict[str, tuple[int, int]] = {}
        channels, out_channels = stem_out_channels, res2_out_channels
        bottleneck_channels, stride = num_groups * width_per_group, 4
        for index in range(num_stages):
            dilation = res5_dilation if index == 3 else 1
            first_stride = 1 if index == 0 or dilation == 2 else 2
            blocks = []
            for block_index in range(BLOCKS_PER_STAGE[depth][index]):
                block_stride = first_stride if block_index == 0 else 1
                if depth >= 50:
                    block = BottleneckBlock(
                        channels,
                        out_channels,
                        bottleneck_channels=bottleneck_channels,
                        stride=block_stride,
                        num_groups=num_groups,
                        norm=norm,
                        stride_in_1x1=stride_in_1x1,
                        dilation=dilation,
                    )
                else:
                    block = BasicBlock(channels, out_channels, stride=block_stride, norm=norm)
                blocks.append(block)
                channels = out_channels
            self.add_module(STAGE_NAMES[index], nn.Sequential(*blocks))
            stride *= first_stride
            self._shapes[STAGE_NAMES[index]] = (out_channels, stride)
            out_channels, bottleneck_channels = out_channels * 2, bottleneck_channels * 2
        self.stage_names = STAGE_NAMES[:num_stages]

        if freeze_at >= 1:
            freeze_module(self.stem)
        for index, name in enumerate(self.stage_names, start=2):
            if freeze_at >= index:
                freeze_module(getattr(self, name))

    def output_shape(self) -> dict[str, tuple[int, int]]:
        """`{name: (channels, stride)}` of each returned feature."""
        return {name: self._shapes[name] for name in self.out_features}

    def forward(
        self,
        images: torch.Tensor,
        lang_feat: torch.Tensor | None = None,
        lang_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        if images.dim() != 4:
            raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
        features = self.stem(images)
        outputs = {}
        for name in self.stage_names:
            features = getattr(self, name)(features)
            if name in self.out_features:
                outputs[name] = features
        return outputs
