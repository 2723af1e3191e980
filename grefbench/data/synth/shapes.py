"""Shape outlines: each kind as one polygon in pixel coordinates, and its convex parts.

A "circle" is a regular 32-gon: it is drawn as that polygon, so its annotation is exact (at the
largest size it departs from a true circle by under 0.2 pixel). Every kind is scaled so that its
area equals that of the circle of the object's nominal radius, so "large" means the same amount
of paint for every shape.
"""

from __future__ import annotations

import math

import numpy as np

from grefbench.data.synth.attributes import SHAPES
from grefbench.data.synth.geometry import oriented, signed_area

CIRCLE_VERTICES = 32
STAR_INNER_RATIO = 0.46


def _regular(count: int, start_angle: float) -> np.ndarray:
    angles = start_angle + 2 * math.pi * np.arange(count) / count
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _unit_outline(shape: str) -> np.ndarray:
    """The outline around the origin, before scaling; image y grows downwards, so -pi/2 points up."""
    up = -math.pi / 2
    if shape == "circle":
        return _regular(CIRCLE_VERTICES, up)
    if shape == "square":
        return _regular(4, math.pi / 4)
    if shape == "triangle":
        return _regular(3, up)
    if shape == "hexagon":
        return _regular(6, up)
    if shape == "diamond":
        return np.array([[0.0, -1.0], [0.62, 0.0], [0.0, 1.0], [-0.62, 0.0]])
    if shape == "star":
        outer = _regular(5, up)
        inner = STAR_INNER_RATIO * _regular(5, up + math.pi / 5)
        return np.stack([outer, inner], axis=1).reshape(10, 2)
    raise ValueError(f"unknown shape kind {shape!r}")


_UNIT_AREA = {shape: abs(signed_area(_unit_outline(shape))) for shape in SHAPES}


def outline(shape: str, center: tuple[float, float], radius: float, angle: float) -> np.ndarray:
    """The polygon of a shape with the area of a circle of `radius`, rotated by `angle` radians."""
    unit = _unit_outline(shape)
    scale = radius * math.sqrt(math.pi / _UNIT_AREA[shape])
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = np.array([[cos, sin], [-sin, cos]])
    return oriented(unit @ rotation * scale + np.asarray(center, dtype=float))


def convex_parts(shape: str, polygon: np.ndarray) -> list[np.ndarray]:
    """Disjoint convex polygons whose union is the outline (only the star needs more than one)."""
    if shape != "star":
        return [polygon]
    # The outline alternates tip and notch vertices; the five notches form a convex pentagon and
    # each tip with its two neighbouring notches a triangle.
    count = len(polygon)
    notch_positions = [index for index in range(count) if _is_notch(polygon, index)]
    parts = [oriented(polygon[notch_positions])]
    for index in range(count):
        if index not in notch_positions:
            parts.append(oriented(polygon[[(index - 1) % count, index, (index + 1) % count]]))
    return parts


def _is_notch(polygon: np.ndarray, index: int) -> bool:
    """A reflex vertex: the boundary turns clockwise there (the polygon is positively oriented)."""
    previous, point, following = polygon[index - 1], polygon[index], polygon[(index + 1) % len(polygon)]
    first, second = point - previous, following - point
    return first[0] * second[1] - first[1] * second[0] < 0


def extent(shape: str, radius: float) -> float:
    """The distance from the centre to the farthest vertex (every unit outline reaches radius 1)."""
    return radius * math.sqrt(math.pi / _UNIT_AREA[shape])
