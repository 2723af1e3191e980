"""Image preprocessing of the official ReLA mapper at inference: read as RGB, resize to S x S with PIL bilinear.

This is what the official `RefCOCOMapper` does with detectron2's `read_image(format="RGB")` and
`Resize((S, S))`: EXIF orientation applied, converted to RGB, resized with PIL's bilinear filter
without keeping the aspect ratio, as uint8. Normalisation and padding happen in the model.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

# EXIF orientation tag and the transpose that undoes each orientation (detectron2's table).
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_rgb_image(path: str | os.PathLike) -> Image.Image:
    """Open an image, apply its EXIF orientation and convert it to RGB (detectron2 `read_image`)."""
    with Image.open(path) as image:
        image.load()
        try:
            orientation = image.getexif().get(_EXIF_ORIENTATION)
        except Exception:  # broken EXIF blocks are ignored, as detectron2 does
            orientation = None
        if orientation in _ORIENTATION_TRANSPOSE:
            image = image.transpose(_ORIENTATION_TRANSPOSE[orientation])
        return image.convert("RGB")


def resize_image(image: Image.Image, size: int) -> torch.Tensor:
    """An RGB PIL image resized to `size` x `size` (PIL bilinear) as a uint8 [3, size, size] tensor."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    # detectron2 resizes a PIL image made from the uint8 array, with Image.BILINEAR.
    resized = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(resized, dtype=np.uint8)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def load_image(path: str | os.PathLike, size: int = 480) -> torch.Tensor:
    """Read and resize an image file as the official mapper does: uint8 RGB [3, size, size]."""
    return resize_image(read_rgb_image(path), size)
