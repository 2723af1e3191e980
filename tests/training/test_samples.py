"""Training samples: target masks and the category maps of the auxiliary category head."""

from __future__ import annotations

import numpy as np
import torch
from pycocotools import mask as coco_mask

from grefbench.data.catalog import embedded_root
from grefbench.data.split import load_split
from grefbench.models.text.bert import ReferringTokenizer
from grefbench.training.samples import TrainingSamples, category_map, square_protocol
from grefbench.models.transforms import SquareResize


def test_category_map_paints_each_object_with_its_category_later_ids_on_top():
    # Two overlapping rectangles in a 20x10 image (float polygons: no integer truncation), taken to 8x8.
    first = {"id": 5, "category_id": 2, "segmentation": [[0.0, 0.0, 12.5, 0.0, 12.5, 6.5, 0.0, 6.5]]}
    second = {"id": 9, "category_id": 4, "segmentation": [[8.5, 2.5, 20.0, 2.5, 20.0, 8.5, 8.5, 8.5]]}
    protocol = square_protocol(8)
    painted = category_map([second, first], 10, 20, protocol)
    assert painted.shape == (8, 8) and painted.dtype == np.int64
    # Independent reference: pycocotools on the polygons scaled by (8/20, 8/10), painted in id order.
    expected = np.zeros((8, 8), dtype=np.int64)
    for annotation in (first, second):
        polygon = np.asarray(annotation["segmentation"][0], dtype=float).reshape(-1, 2) * [8 / 20, 8 / 10]
        rles = coco_mask.frPyObjects([polygon.ravel().tolist()], 8, 8)
        expected[coco_mask.decode(coco_mask.merge(rles)).astype(bool)] = annotation["category_id"]
    np.testing.assert_array_equal(painted, expected)
    assert set(np.unique(painted)) == {0, 2, 4}


def test_samples_carry_category_maps_that_cover_every_target_pixel():
    split = load_split(embedded_root(), "grefshapes", "testA")
    samples = TrainingSamples(split, SquareResize(64), ReferringTokenizer(), categories=True)
    batch = samples.__getitems__(list(range(12)))
    categories, targets = batch["gt_categories"], batch["gt_masks"].bool()
    assert categories.shape == targets.shape == (12, 64, 64)
    assert categories.dtype == torch.int64
    assert int(categories.max()) <= max(split.categories)
    assert not (targets & (categories == 0)).any()  # a referred object is always some category
    assert "gt_categories" not in TrainingSamples(split, SquareResize(64), ReferringTokenizer()).__getitems__([0])
