"""Scenes: 3–8 shapes placed with overlaps, each keeping a fixed share of itself visible.

Objects are listed bottom to top; a later object occludes the earlier ones. Attribute sampling
copies a shape or a colour from an object already placed half of the time, so scenes hold
repeated kinds and colours and expressions need size, position, counting or exclusion to single
out their targets. train, val and testA scenes never hold a held-out colour–shape pair; every
testB scene holds at least one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grefbench.data.synth import geometry, shapes
from grefbench.data.synth.attributes import (
    COLOURS,
    NOVEL_PAIRS,
    SHAPES,
    SIZE_RADIUS,
    SIZE_WEIGHTS,
    SIZES,
    is_novel,
)

MIN_OBJECTS, MAX_OBJECTS = 3, 8
MIN_VISIBLE_SHARE = 0.6  # every object keeps at least this share of its area visible
PLACEMENT_TRIES = 40
SCENE_TRIES = 1000
ROTATION_RANGE = 0.26  # radians either way: shapes stay recognisable (a square never turns into a diamond)
NOVEL_BOOST = 0.25  # in testB, extra chance that an object takes a held-out pair


@dataclass(frozen=True, eq=False)
class SceneObject:
    """One shape: its attributes, where it is, its fill colour and its outline."""

    shape: str
    colour: str
    size: str
    x: float
    y: float
    radius: float
    angle: float
    fill: tuple[int, int, int]
    polygon: np.ndarray
    parts: tuple[np.ndarray, ...]

    @property
    def novel(self) -> bool:
        return is_novel(self.colour, self.shape)


@dataclass(frozen=True, eq=False)
class Scene:
    """Objects bottom to top, and for each the hole-free polygons of its visible region."""

    image_size: int
    objects: tuple[SceneObject, ...]
    visible: tuple[tuple[np.ndarray, ...], ...]


def sample_scene(rng: np.random.Generator, image_size: int, split: str) -> Scene:
    """Draw a scene for `split`; the same generator state always gives the same scene."""
    for _ in range(SCENE_TRIES):
        count = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
        novel_slot = int(rng.integers(count)) if split == "testB" else -1
        objects: list[SceneObject] = []
        pieces: list[list[np.ndarray]] = []
        for slot in range(count):
            placed = _place(rng, image_size, split, objects, pieces, force_novel=slot == novel_slot)
            if placed is None:
                if slot == novel_slot:
                    break
                continue
            obj, updated = placed
            for index, remaining in updated.items():
                pieces[index] = remaining
            objects.append(obj)
            pieces.append(list(obj.parts))
        has_novel = any(obj.novel for obj in objects)
        if len(objects) >= MIN_OBJECTS and (split != "testB" or has_novel):
            visible = tuple(tuple(geometry.merge_pieces(object_pieces)) for object_pieces in pieces)
            return Scene(image_size, tuple(objects), visible)
    raise AssertionError(f"no {split} scene fitted in {SCENE_TRIES} tries")  # sizes scale with the image: unreachable


def _place(
    rng: np.random.Generator,
    image_size: int,
    split: str,
    objects: list[SceneObject],
    pieces: list[list[np.ndarray]],
    *,
    force_novel: bool,
) -> tuple[SceneObject, dict[int, list[np.ndarray]]] | None:
    """A new object on top that leaves every object enough visible area, and the updated pieces."""
    for _ in range(PLACEMENT_TRIES):
        candidate = _sample_object(rng, image_size, split, objects, force_novel=force_novel)
        # Nearly concentric objects read as one blob: keep centres apart.
        if any(math.hypot(candidate.x - obj.x, candidate.y - obj.y) < 0.45 * (candidate.radius + obj.radius)
               for obj in objects):
            continue
        box = geometry.bounds(candidate.polygon)
        updated: dict[int, list[np.ndarray]] = {}
        for index, obj in enumerate(objects):
            if not geometry.boxes_overlap(box, geometry.bounds(obj.polygon)):
                continue
            remaining = geometry.subtract_all(pieces[index], list(candidate.parts))
            if geometry.total_area(remaining) < MIN_VISIBLE_SHARE * geometry.signed_area(obj.polygon):
                break
            updated[index] = remaining
        else:
            return candidate, updated
    return None


def _sample_object(
    rng: np.random.Generator, image_size: int, split: str, objects: list[SceneObject], *, force_novel: bool
) -> SceneObject:
    shape, colour = _sample_pair(rng, split, objects, force_novel=force_novel)
    size = SIZES[int(rng.choice(len(SIZES), p=[SIZE_WEIGHTS[name] for name in SIZES]))]
    radius = SIZE_RADIUS[size] * image_size * float(rng.uniform(0.93, 1.07))
    margin = shapes.extent(shape, radius) + 1.0
    x = float(rng.uniform(margin, image_size - margin))
    y = float(rng.uniform(margin, image_size - margin))
    angle = 0.0 if shape == "circle" else float(rng.uniform(-ROTATION_RANGE, ROTATION_RANGE))
    polygon = shapes.outline(shape, (x, y), radius, angle)
    anchor = np.array(COLOURS[colour], dtype=float)
    fill = np.clip(anchor * rng.uniform(0.9, 1.08) + rng.normal(0.0, 7.0, size=3), 0, 255)
    return SceneObject(
        shape=shape, colour=colour, size=size, x=x, y=y, radius=radius, angle=angle,
        fill=(int(fill[0]), int(fill[1]), int(fill[2])), polygon=polygon,
        parts=tuple(shapes.convex_parts(shape, polygon)),
    )


def _sample_pair(
    rng: np.random.Generator, split: str, objects: list[SceneObject], *, force_novel: bool
) -> tuple[str, str]:
    """A (shape, colour) allowed in `split`, often sharing the shape or colour of a placed object."""
    novel_pairs = sorted(NOVEL_PAIRS)
    if force_novel or (split == "testB" and rng.random() < NOVEL_BOOST):
        colour, shape = novel_pairs[int(rng.integers(len(novel_pairs)))]
        return shape, colour
    colours = sorted(COLOURS)
    while True:
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        colour = colours[int(rng.integers(len(colours)))]
        if objects and rng.random() < 0.5:
            model = objects[int(rng.integers(len(objects)))]
            mode = rng.random()
            if mode < 0.45:
                shape = model.shape
            elif mode < 0.9:
                colour = model.colour
            else:
                shape, colour = model.shape, model.colour
        if split == "testB" or not is_novel(colour, shape):
            return shape, colour
