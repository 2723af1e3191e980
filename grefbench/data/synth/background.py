"""Backgrounds: muted, textured fields (gradients, clouds, stripes, checks, grain) under the shapes.

Background colours are kept unsaturated so that the six object colours stay the most vivid
things in the picture; the texture gives a model something to ignore.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image

STYLES = ("gradient", "clouds", "stripes", "checks", "grain")


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    hue = float(rng.uniform(0.0, 1.0))
    saturation = float(rng.uniform(0.0, 0.22))
    value = float(rng.uniform(0.3, 0.9))
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value)) * 255.0


def _second_colour(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A colour near `base` in hue, lighter or darker, for the second tone of a texture."""
    shift = float(rng.uniform(25.0, 55.0)) * (1 if base.mean() < 140 else -1)
    return np.clip(base + shift + rng.normal(0.0, 8.0, size=3), 0.0, 255.0)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    image = Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A float RGB image (size, size, 3) with values in [0, 255]."""
    style = STYLES[int(rng.integers(len(STYLES)))]
    base = _muted_colour(rng)
    other = _second_colour(rng, base)
    coordinates = np.arange(size, dtype=np.float32) + 0.5
    x, y = coordinates[None, :], coordinates[:, None]
    angle = float(rng.uniform(0.0, math.pi))
    along = (x * math.cos(angle) + y * math.sin(angle)) / size
    if style == "gradient":
        weight = np.clip(along - along.min(), 0.0, None) / max(float(np.ptp(along)), 1e-9)
    elif style == "clouds":
        weight = 0.65 * _smooth_noise(rng, size, 4) + 0.35 * _smooth_noise(rng, size, 9)
    elif style == "stripes":
        period = float(rng.uniform(10.0, 36.0)) / size
        weight = 0.5 + 0.5 * np.sin(2 * math.pi * along / period + float(rng.uniform(0, 2 * math.pi)))
    elif style == "checks":
        cell = float(rng.uniform(12.0, 40.0))
        weight = ((np.floor(x / cell) + np.floor(y / cell)) % 2) * np.float32(0.8) + np.float32(0.1)
    else:
        weight = _smooth_noise(rng, size, max(4, size // 3))
    strength = np.float32(rng.uniform(0.45, 0.9))
    weight = (weight * strength)[:, :, None]
    return base.astype(np.float32) * (1.0 - weight) + other.astype(np.float32) * weight
