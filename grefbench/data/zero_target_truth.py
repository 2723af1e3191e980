"""Ground truth of Ref-ZOM and R-RefCOCO at 480x480, built exactly as their official loaders do.

Both rasterise at the image size with pycocotools (REFER.getMask), keep a 0/1 mask, and resize it
to 480x480 with PIL's NEAREST (torchvision F.resize on a PIL image): PIL samples source pixel
int((i + 0.5) * in / out), accumulated incrementally, which is neither torch's nor OpenCV's nearest.
- Ref-ZOM (RIS-DMMI refer/refer.py getMask): the union of all polygons of all the ref's
  annotations; a zero-target ref is all background whatever its `ann_id`.
- R-RefCOCO (robust-ref-seg dataset/refer.py getMask + ReferDataset): the polygons of the one
  annotation are summed and a pixel is foreground only where the sum is exactly 1, so where two
  polygons of one annotation overlap there is a hole.
A referred RLE (crowd) annotation, on which both official loaders crash (`segmentation[0]` of a
dict), is taken as its decoded mask.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from grefbench.data.groundtruth import GroundTruth, _load, _save, cache_path
from grefbench.data.protocols import BENCHMARK_PROTOCOLS, get_protocol
from grefbench.data.zero_target import ZeroTargetRecord, ZeroTargetSplit
from grefbench.errors import DatasetError
from grefbench.io import rle

SIZE = 480


def polygon_sum(annotation: dict, height: int, width: int) -> np.ndarray:
    """Per-pixel count of an annotation's polygons at the image size, as uint8 (REFER.getMask)."""
    segmentation = annotation.get("segmentation")
    try:
        if isinstance(segmentation, list) and segmentation and isinstance(segmentation[0], list):
            decoded = coco_mask.decode(coco_mask.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation, dict):
            if isinstance(segmentation.get("counts"), list):
                segmentation = coco_mask.frPyObjects(segmentation, height, width)
            elif isinstance(segmentation.get("counts"), str):
                segmentation = {**segmentation, "counts": segmentation["counts"].encode("ascii")}
            decoded = coco_mask.decode(segmentation)
        else:
            raise ValueError("expected a list of polygons or an RLE object")
    except Exception as error:  # noqa: BLE001 - pycocotools raises bare Exceptions on bad input
        raise DatasetError(f"annotation {annotation.get('id')}: malformed segmentation ({error})") from None
    if decoded.ndim == 2:
        decoded = decoded[:, :, None]
    if decoded.shape[:2] != (height, width):
        raise DatasetError(f"annotation {annotation.get('id')}: segmentation size {list(decoded.shape[:2])} "
                           f"differs from its image's {[height, width]}")
    # np.sum of uint8 widens; the official code then casts back to uint8 (it wraps at 256 overlaps).
    return decoded.sum(axis=2).astype(np.uint8)


def refzom_mask(split: ZeroTargetSplit, record: ZeroTargetRecord) -> np.ndarray:
    """The 0/1 target of a Ref-ZOM ref at its image size."""
    mask = np.zeros((record.height, record.width), dtype=np.uint8)
    if record.group == "zero":
        return mask
    for ann_id in record.ann_ids:
        mask |= polygon_sum(split.annotations[ann_id], record.height, record.width) != 0
    return mask


def rrefcoco_mask(split: ZeroTargetSplit, record: ZeroTargetRecord) -> np.ndarray:
    """The 0/1 target of an R-RefCOCO ref at its image size: polygon sum exactly 1."""
    counts = polygon_sum(split.annotations[record.ann_ids[0]], record.height, record.width)
    return (counts == 1).astype(np.uint8)


def resize_nearest(mask: np.ndarray, size: int = SIZE) -> np.ndarray:
    """PIL NEAREST resize of a 0/1 uint8 mask to size x size, aspect not kept (the official resize)."""
    return np.asarray(Image.fromarray(mask).resize((size, size), Image.NEAREST))


def nearest_source_indices(in_size: int, out_size: int) -> np.ndarray:
    """The source pixels PIL's NEAREST samples along one axis: int((i + 0.5) * in / out), accumulated.

    Pillow's affine nearest (Geometry.c) starts at 0.5 * scale and adds scale per output pixel in
    double precision; `resize_nearest` calls PIL itself, this restates it for tests and docs.
    """
    scale = in_size / out_size
    position = 0.5 * scale
    indices = np.empty(out_size, dtype=np.int64)
    for i in range(out_size):
        indices[i] = int(position)
        position += scale
    return indices


def _target(split: ZeroTargetSplit) -> Callable[[ZeroTargetSplit, ZeroTargetRecord], np.ndarray]:
    return refzom_mask if split.spec.family == "refzom" else rrefcoco_mask


def build_truth(split: ZeroTargetSplit, only: set[int] | None = None,
                progress: Callable[[int], None] | None = None) -> GroundTruth:
    """Rasterise the 480x480 target of every ref (or of the refs in `only`) as RLE."""
    target = _target(split)
    rles: dict[int, dict] = {}
    for ref_id, record in split.ref_records().items():
        if only is not None and ref_id not in only:
            continue
        rles[ref_id] = rle.as_bytes(rle.encode(resize_nearest(target(split, record))))
        if progress is not None:
            progress(1)
    areas = dict(zip(rles, rle.area(list(rles.values())).tolist())) if rles else {}
    return GroundTruth(BENCHMARK_PROTOCOLS[split.spec.family], rles, areas)


def load_truth(split: ZeroTargetSplit, *, use_cache: bool = True) -> GroundTruth:
    """The 480x480 ground truth of the split, from grefbench's ground-truth cache when it is fresh."""
    protocol = get_protocol(BENCHMARK_PROTOCOLS[split.spec.family])
    if not use_cache:
        return build_truth(split)
    path = cache_path(split, protocol)
    cached = (_load(path, protocol.name) if path.is_file() else None) or GroundTruth(protocol.name, {}, {})
    expected = set(split.ref_records())
    missing = expected - cached.rles.keys()
    if missing:
        built = build_truth(split, only=missing)
        cached.rles.update(built.rles)
        cached.areas.update(built.areas)
        try:
            _save(path, cached)
        except OSError:
            pass  # a read-only cache only costs time
    return GroundTruth(protocol.name, {r: cached.rles[r] for r in expected}, {r: cached.areas[r] for r in expected})
