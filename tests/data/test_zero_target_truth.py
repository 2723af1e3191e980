"""The Ref-ZOM / R-RefCOCO ground truth: PIL NEAREST to 480, the polygon-sum hole, the union."""

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as coco_mask

from grefbench.data.refzom import load_refzom
from grefbench.data.rrefcoco import load_rrefcoco
from grefbench.data.zero_target_truth import (
    build_truth,
    load_truth,
    nearest_source_indices,
    polygon_sum,
    refzom_mask,
    resize_nearest,
    rrefcoco_mask,
)
from grefbench.errors import DatasetError
from grefbench.io import rle
from tests.builders import image, polygon_annotation
from tests.zero_target_builders import rref, tiny_refzom, tiny_rrefcoco, write_benchmark, zom_ref


def _pil_indices(in_size):
    row = np.arange(in_size, dtype=np.int32)[None]
    return np.asarray(Image.fromarray(row).resize((480, 1), Image.NEAREST))[0]


@pytest.mark.parametrize("in_size", [1, 17, 37, 53, 64, 77, 101, 320, 427, 479, 480, 481, 500, 612, 640, 832, 1000])
def test_nearest_formula_is_pil(in_size):
    assert (nearest_source_indices(in_size, 480) == _pil_indices(in_size)).all()


def test_nearest_is_accumulated_not_direct_nor_torch():
    # 640 -> 480 (the usual COCO width): output pixel 4 samples source 5; int(4.5 * 640 / 480) would be 6.
    assert nearest_source_indices(640, 480)[4] == 5
    assert int((4 + 0.5) * 640 / 480) == 6
    exact = torch.nn.functional.interpolate(torch.arange(640.0)[None, None, None], size=(1, 480), mode="nearest-exact")
    assert int(exact[0, 0, 0, 4]) == 6
    legacy = torch.nn.functional.interpolate(torch.arange(37.0)[None, None, None], size=(1, 480), mode="nearest")
    assert (legacy[0, 0, 0].long().numpy() != _pil_indices(37)).any()


def test_resize_nearest_keeps_no_aspect():
    mask = np.zeros((37, 53), dtype=np.uint8)
    mask[:, 52] = 1  # last column
    resized = resize_nearest(mask)
    assert resized.shape == (480, 480)
    columns = np.flatnonzero(resized[0])
    assert columns.tolist() == [i for i in range(480) if nearest_source_indices(53, 480)[i] == 52]


def _two_squares(tmp_path, folder, stem, refs):
    images = [image(1, 480, 480)]
    annotations = [polygon_annotation(11, 1, [[10, 10, 50, 10, 50, 50, 10, 50], [30, 30, 70, 30, 70, 70, 30, 70]])]
    return write_benchmark(tmp_path, folder, stem, images=images, annotations=annotations, refs=refs)


def _square(x0, x1):
    encoded = coco_mask.frPyObjects([[x0, x0, x1, x0, x1, x1, x0, x1]], 480, 480)
    return coco_mask.decode(encoded)[:, :, 0]


def test_rrefcoco_polygon_sum_hole(tmp_path):
    root = _two_squares(tmp_path, "rrefcoco", "refs(unc)", [rref(1, 1, 11, [1, 2], negatives=[2])])
    split = load_rrefcoco(root)
    mask = rrefcoco_mask(split, split.records[0])
    first, second = _square(10, 50), _square(30, 70)
    assert (mask == (first ^ second)).all()
    assert mask[40, 40] == 0 and mask[20, 20] == 1 and mask[60, 60] == 1
    assert polygon_sum(split.annotations[11], 480, 480)[40, 40] == 2


def test_refzom_union_has_no_hole_and_zero_is_empty(tmp_path):
    root = _two_squares(tmp_path, "ref-zom", "refs(final)", [zom_ref(1, 1, 11, "one", [1]), zom_ref(2, 1, 11, "zero", [2])])
    split = load_refzom(root)
    one, zero = split.records
    assert (refzom_mask(split, one) == (_square(10, 50) | _square(30, 70))).all()
    assert not refzom_mask(split, zero).any()


def test_truth_cached_equals_built(tmp_path):
    for split in (load_refzom(tiny_refzom(tmp_path / "a")), load_rrefcoco(tiny_rrefcoco(tmp_path / "b"))):
        built = build_truth(split)
        assert load_truth(split).areas == built.areas
        again = load_truth(split)  # from the cache file
        assert all(rle.as_bytes(again.rles[r])["counts"] == built.rles[r]["counts"] for r in built.rles)


def test_crowd_rle_is_its_mask_and_malformed_is_refused(tmp_path):
    dense = np.zeros((37, 53), dtype=np.uint8)
    dense[5:9, 7:20] = 1
    encoded = coco_mask.encode(np.asfortranarray(dense))
    crowd = {"id": 5, "image_id": 1, "iscrowd": 1, "segmentation": {"size": [37, 53], "counts": encoded["counts"].decode()}}
    assert (polygon_sum(crowd, 37, 53) == dense).all()
    with pytest.raises(DatasetError, match="annotation 6: malformed segmentation"):
        polygon_sum({"id": 6, "segmentation": "nonsense"}, 37, 53)
