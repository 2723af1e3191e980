"""Rendering: an exact point-sampling rasterizer, the instance map, and the antialiased RGB image.

A pixel (or sub-pixel) belongs to a polygon when its centre does (even–odd rule, half-open
edges), the convention pycocotools follows when it rasterizes polygons. The instance map samples
each object's full outline at pixel centres, bottom to top, with no antialiasing: it is the
ground truth the annotation polygons are checked against. The RGB image samples the same
outlines at 3x3 sub-pixels and averages them, so its edges are antialiased around exactly the
annotated boundary.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from grefbench.data.synth.background import background
from grefbench.data.synth.scene import Scene

SUPERSAMPLE = 3
BORDER_DARKEN = 0.55


def polygon_mask(polygon: np.ndarray, size: int, scale: int = 1) -> tuple[int, int, np.ndarray]:
    """Sample a polygon on the (size*scale)^2 grid of sub-pixel centres: (row0, col0, mask of its box)."""
    points = polygon * scale
    grid = size * scale
    low, high = points.min(axis=0), points.max(axis=0)
    row0, row1 = max(0, math.floor(low[1] - 0.5)), min(grid, math.ceil(high[1] + 0.5))
    col0, col1 = max(0, math.floor(low[0] - 0.5)), min(grid, math.ceil(high[0] + 0.5))
    rows, cols = max(0, row1 - row0), max(0, col1 - col0)
    if rows == 0 or cols == 0:
        return row0, col0, np.zeros((rows, cols), dtype=bool)
    centres = np.arange(row0, row1, dtype=np.float64) + 0.5
    start, end = points, np.roll(points, -1, axis=0)
    above_start = start[None, :, 1] > centres[:, None]
    above_end = end[None, :, 1] > centres[:, None]
    crossing = above_start != above_end
    rise = np.where(end[:, 1] == start[:, 1], 1.0, end[:, 1] - start[:, 1])
    x_cross = start[None, :, 0] + (centres[:, None] - start[None, :, 1]) * ((end[:, 0] - start[:, 0]) / rise)[None, :]
    # The first sample column whose centre lies right of the crossing; the parity of crossings
    # left of a sample decides whether it is inside.
    first_column = np.clip(np.floor(x_cross - 0.5).astype(np.int64) + 1 - col0, 0, cols)
    row_index = np.broadcast_to(np.arange(rows)[:, None], crossing.shape)
    flat = row_index[crossing] * (cols + 1) + first_column[crossing]
    toggles = np.bincount(flat, minlength=rows * (cols + 1)).reshape(rows, cols + 1)
    inside = (np.cumsum(toggles[:, :cols], axis=1) % 2).astype(bool)
    return row0, col0, inside


def label_map(scene: Scene, scale: int = 1) -> np.ndarray:
    """Sub-pixel labels: 0 for background, k+1 where object k is the topmost one."""
    grid = scene.image_size * scale
    labels = np.zeros((grid, grid), dtype=np.uint8)
    for number, obj in enumerate(scene.objects, start=1):
        row0, col0, inside = polygon_mask(obj.polygon, scene.image_size, scale)
        window = labels[row0:row0 + inside.shape[0], col0:col0 + inside.shape[1]]
        window[inside] = number
    return labels


def instance_map(scene: Scene) -> np.ndarray:
    """Per pixel, the index of the visible object (-1 for background), without antialiasing."""
    return label_map(scene).astype(np.int64) - 1


def _seams(labels: np.ndarray) -> np.ndarray:
    """Sub-pixels of an object within one sub-pixel of a change of label (its dark outline)."""
    change = np.zeros(labels.shape, dtype=bool)
    horizontal = labels[:, 1:] != labels[:, :-1]
    vertical = labels[1:, :] != labels[:-1, :]
    change[:, 1:] |= horizontal
    change[:, :-1] |= horizontal
    change[1:, :] |= vertical
    change[:-1, :] |= vertical
    grown = change.copy()
    grown[:, 1:] |= change[:, :-1]
    grown[:, :-1] |= change[:, 1:]
    spread = grown.copy()
    spread[1:, :] |= grown[:-1, :]
    spread[:-1, :] |= grown[1:, :]
    return spread & (labels > 0)


def render(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """The scene as a uint8 RGB image (size, size, 3)."""
    size, scale = scene.image_size, SUPERSAMPLE
    field = background(rng, size)
    labels = label_map(scene, scale)
    border = _seams(labels)
    light = float(rng.uniform(0.0, 2 * math.pi))
    light_x, light_y = math.cos(light), math.sin(light)
    strength = float(rng.uniform(0.06, 0.16))

    count = len(scene.objects)
    fills = np.zeros((count + 1, 3), dtype=np.float32)
    centre_x = np.zeros(count + 1, dtype=np.float32)
    centre_y = np.zeros(count + 1, dtype=np.float32)
    extent = np.ones(count + 1, dtype=np.float32)
    for number, obj in enumerate(scene.objects, start=1):
        fills[number] = obj.fill
        centre_x[number], centre_y[number], extent[number] = obj.x, obj.y, obj.radius

    rows, cols = np.nonzero(labels)
    owner = labels[rows, cols]
    sample_x = (cols.astype(np.float32) + 0.5) / scale
    sample_y = (rows.astype(np.float32) + 0.5) / scale
    towards_light = ((sample_x - centre_x[owner]) * light_x + (sample_y - centre_y[owner]) * light_y) / extent[owner]
    shade = 1.0 + strength * np.clip(towards_light, -1.5, 1.5)
    shade = np.where(border[rows, cols], BORDER_DARKEN, shade)
    colour = np.zeros((size * scale, size * scale, 3), dtype=np.uint8)
    colour[rows, cols] = np.clip(np.rint(fills[owner] * shade[:, None]), 0, 255).astype(np.uint8)
    coverage = np.where(labels > 0, np.uint8(255), np.uint8(0))
    # Box-averaging the sub-pixels gives colour premultiplied by coverage.
    premultiplied = np.asarray(Image.fromarray(colour).reduce(scale), dtype=np.float32)
    alpha = np.asarray(Image.fromarray(coverage).reduce(scale), dtype=np.float32)[:, :, None] / 255.0
    image = premultiplied + (1.0 - alpha) * field
    # Grey sensor-like grain: one value per pixel, shared by the three channels.
    image += float(rng.uniform(1.0, 3.0)) * rng.standard_normal((size, size, 1), dtype=np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an RGB image; fixed encoder settings, so the same pixels give the same bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality, subsampling=2, optimize=True)
    return buffer.getvalue()
