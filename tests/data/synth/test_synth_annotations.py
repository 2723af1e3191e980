"""Annotations against an independent rendering: the polygons are what is visible, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from grefbench.data.synth import build_image
from grefbench.data.synth.attributes import CATEGORY_IDS
from grefbench.data.synth.geometry import signed_area
from grefbench.data.synth.render import instance_map

CASES = [("train", index) for index in range(4)] + [("testB", 0), ("val", 1), ("testA", 2)]


@pytest.fixture(scope="module")
def samples():
    return [build_image(split, index, seed=0, image_size=256) for split, index in CASES]


def test_polygons_rasterize_to_the_visible_region(samples):
    occluded = 0
    for sample in samples:
        labels = instance_map(sample.scene)  # every full outline drawn bottom to top, no antialiasing
        size = sample.image["height"]
        for position, (annotation, obj) in enumerate(zip(sample.annotations, sample.scene.objects)):
            polygons = annotation["segmentation"]
            assert polygons and all(len(polygon) >= 6 and len(polygon) % 2 == 0 for polygon in polygons)
            decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, size, size))).astype(bool)
            visible = labels == position
            iou = (decoded & visible).sum() / (decoded | visible).sum()
            assert iou >= 0.97, (sample.image["id"], annotation["id"], iou)
            assert abs(annotation["area"] - visible.sum()) <= 0.03 * visible.sum()
            assert annotation["category_id"] == CATEGORY_IDS[obj.shape]
            assert annotation["iscrowd"] == 0 and annotation["image_id"] == sample.image["id"]
            rows, cols = np.nonzero(visible)
            x, y, width, height = annotation["bbox"]
            assert x - 1 <= cols.min() and cols.max() <= x + width + 1
            assert y - 1 <= rows.min() and rows.max() <= y + height + 1
            if visible.sum() < 0.97 * signed_area(obj.polygon):
                occluded += 1
    assert occluded >= 3  # the check above covered real occlusions, not only free-standing shapes


def test_rendered_pixels_show_the_objects(samples):
    # The object's fill colour dominates its visible interior in the RGB image.
    for sample in samples[:3]:
        labels = instance_map(sample.scene)
        for position, obj in enumerate(sample.scene.objects):
            inside = labels == position
            mean = sample.pixels[inside].mean(axis=0)
            assert np.abs(mean - np.array(obj.fill)).max() < 40, (obj.colour, obj.fill, mean)
