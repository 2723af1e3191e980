"""Image preprocessing shared by families, and its inverse: score maps back to an image's own size.

A transform turns an image file into the uint8 RGB tensor a model takes, and maps the model's
score maps (at the input's resolution) to the mask size a protocol compares at. The runner and
the trainer use it without knowing the family.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from grefbench.data.protocols import Protocol


@dataclass(frozen=True)
class SquareResize:
    """Resize to `size` x `size` without keeping the aspect ratio (PIL bilinear), as ReLA and LAVT do.

    `exif_transpose`: apply the EXIF orientation first (detectron2's `read_image`, ReLA); LAVT's
    loader opens the file with PIL and converts to RGB without it.
    """

    size: int
    exif_transpose: bool = True

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.size, self.size)

    def describe(self) -> dict[str, Any]:
        """The transform as plain data (recorded in eval settings and provenance)."""
        return {"kind": "square_resize", "size": self.size, "exif_transpose": self.exif_transpose}

    def load(self, path: str | os.PathLike) -> torch.Tensor:
        """Read and resize one image file: uint8 RGB [3, size, size]."""
        from grefbench.models.rela.preprocess import read_rgb_image, resize_image

        if self.exif_transpose:
            return resize_image(read_rgb_image(path), self.size)
        with Image.open(path) as image:
            return resize_image(image.convert("RGB"), self.size)

    def maps_for(self, maps: torch.Tensor, sizes: Sequence[tuple[int, int]], protocol: Protocol) -> list[torch.Tensor]:
        """Score maps [B, C, S, S] to each image's mask size under `protocol` (bilinear, as the official
        evaluators resize probabilities, not masks): a list of [C, h, w]."""
        if protocol.fixed_size is not None:
            return list(_resize(maps, protocol.fixed_size))
        return [_resize(maps[i:i + 1], protocol.mask_size(*size))[0] for i, size in enumerate(sizes)]

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """The training target's size for an image of this size: the input's."""
        return self.input_size


def _resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(maps.shape[-2:]) != tuple(size):
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return maps


def binarize(maps: torch.Tensor, threshold: float | None) -> np.ndarray:
    """Foreground masks uint8 [..., h, w] from score maps [..., C, h, w] (see `Decoded`)."""
    if threshold is None:
        # argmax over two channels, a tie picking background; several times faster than torch's
        # argmax along a non-innermost dimension.
        foreground = maps[..., 1, :, :] > maps[..., 0, :, :]
    else:
        foreground = maps[..., 0, :, :] > threshold
    return foreground.to(torch.uint8).cpu().numpy()
