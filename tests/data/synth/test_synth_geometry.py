"""Polygon differences and merging: areas add up, rasterizations agree, holes never reach COCO."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from grefbench.data.synth import geometry, shapes
from grefbench.data.synth.attributes import SHAPES
from grefbench.data.synth.render import polygon_mask

SIZE = 96
FINE = 4  # sub-samples per pixel side for the exact comparison


def _sample(polygons: list[np.ndarray]) -> np.ndarray:
    """Exact point sampling (even-odd at sub-pixel centres) of a union of polygons."""
    union = np.zeros((SIZE * FINE, SIZE * FINE), dtype=bool)
    for polygon in polygons:
        row, col, inside = polygon_mask(polygon, SIZE, FINE)
        union[row:row + inside.shape[0], col:col + inside.shape[1]] |= inside
    return union


def _rasterize(polygons: list[np.ndarray]) -> np.ndarray:
    rles = mask_utils.frPyObjects([polygon.reshape(-1).tolist() for polygon in polygons], SIZE, SIZE)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


shape_kind = st.sampled_from(SHAPES)
placement = st.tuples(st.floats(25, 71), st.floats(25, 71), st.floats(6, 16), st.floats(-0.5, 0.5))


@settings(max_examples=60, deadline=None)
@given(shape_kind, placement, st.lists(st.tuples(shape_kind, placement), min_size=1, max_size=4))
def test_visible_region_is_exact_and_hole_free(kind, where, occluders):
    polygon = shapes.outline(kind, where[:2], where[2], where[3])
    occluder_outlines = [(other, shapes.outline(other, (x, y), r, a)) for other, (x, y, r, a) in occluders]
    pieces = geometry.subtract_all(shapes.convex_parts(kind, polygon),
                                   [part for other, outline in occluder_outlines for part in shapes.convex_parts(other, outline)])
    merged = geometry.merge_pieces(pieces)
    # Area is conserved, every polygon has >= 3 points and positive orientation (a hole would be
    # a negative loop), and sampled point by point the polygons cover exactly the visible region.
    assert math.isclose(sum(geometry.signed_area(p) for p in merged), geometry.total_area(pieces), abs_tol=1e-2)
    assert all(len(p) >= 3 and geometry.signed_area(p) > 0 for p in merged)
    visible = _sample([polygon]) & ~_sample([outline for _, outline in occluder_outlines])
    assert (_sample(merged) != visible).sum() <= 2
def test_difference_plus_intersection_is_the_whole():
    square = shapes.outline("square", (40, 40), 15, 0.2)
    hexagon = shapes.outline("hexagon", (52, 45), 12, 0.1)
    difference = geometry.subtract_convex(square, hexagon)
    intersection = square
    for index in range(len(hexagon)):  # clip to the inner side of every hexagon edge
        intersection, _ = geometry.split_by_line(intersection, hexagon[index], hexagon[(index + 1) % 6] - hexagon[index])
    assert len(difference) > 1 and intersection is not None
    total = geometry.total_area(difference) + geometry.signed_area(intersection)
    assert math.isclose(total, geometry.signed_area(square), rel_tol=1e-9)


def test_occluder_inside_leaves_no_hole():
    circle = shapes.outline("circle", (48, 48), 30, 0.0)
    small = shapes.outline("square", (48, 48), 6, 0.3)
    merged = geometry.merge_pieces(geometry.subtract_all([circle], [small]))
    assert len(merged) >= 2  # one polygon would need a hole
    assert all(geometry.signed_area(p) > 0 for p in merged)
    expected = geometry.signed_area(circle) - geometry.signed_area(small)
    assert math.isclose(sum(geometry.signed_area(p) for p in merged), expected, rel_tol=1e-9)
    reference = _rasterize([circle]) & ~_rasterize([small])
    assert (_rasterize(merged) != reference).sum() <= 2


def test_star_parts_merge_back_to_its_outline():
    star = shapes.outline("star", (48, 48), 20, 0.1)
    parts = shapes.convex_parts("star", star)
    assert len(parts) == 6
    merged = geometry.merge_pieces(parts)
    assert len(merged) == 1 and len(merged[0]) == 10
    assert math.isclose(geometry.signed_area(merged[0]), geometry.signed_area(star), rel_tol=1e-9)


def test_every_kind_has_the_area_of_its_nominal_circle():
    for kind in SHAPES:
        polygon = shapes.outline(kind, (50, 50), 10, 0.3)
        assert math.isclose(geometry.signed_area(polygon), math.pi * 100, rel_tol=1e-9)
        assert np.max(np.hypot(*(polygon - 50).T)) <= shapes.extent(kind, 10) + 1e-9
