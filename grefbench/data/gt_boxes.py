"""GREC ground truth: the target boxes of every sentence of a split, as the official conversion makes them.

`grefexp_coco_format.py` gives a sentence one box per id in its ref's `ann_id`: that annotation's
`bbox` from instances.json (COCO xywh), crowd annotations included, unlike the segmentation ground
truth; a no-target ref (`ann_id` [-1]) gets none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grefbench.data.split import ReferSplit
from grefbench.errors import DatasetError


@dataclass
class GroundTruthBoxes:
    """Target boxes per sentence, in split record order: `counts[i]` rows of `boxes` for record i."""

    boxes: np.ndarray  # float64 [G, 4], COCO xywh
    counts: np.ndarray  # int64 [N]
    no_target: np.ndarray  # bool [N]
    offsets: np.ndarray  # int64 [N + 1], where each record's boxes start

    def of(self, index: int) -> np.ndarray:
        """The xywh boxes of record `index`."""
        return self.boxes[self.offsets[index]:self.offsets[index + 1]]


def _annotation_box(annotation: dict, where: str) -> list[float]:
    box = annotation.get("bbox")
    if (not isinstance(box, list) or len(box) != 4
            or not all(type(v) in (int, float) and math.isfinite(v) for v in box) or box[2] < 0 or box[3] < 0):
        raise DatasetError(f"{where}: annotation {annotation.get('id')} has no valid 'bbox' [x, y, w, h] "
                           f"(found {box!r}); GREC needs one for every target")
    return box


def ground_truth_boxes(split: ReferSplit) -> GroundTruthBoxes:
    """The GREC target boxes of `split` (reads instances.json when the split came from the index cache)."""
    annotations = split.annotations
    where = str(split.files[1].path) if split.files else split.dataset
    box_of: dict[int, list[float]] = {}
    counts = np.empty(len(split.records), dtype=np.int64)
    no_target = np.empty(len(split.records), dtype=bool)
    rows: list[list[float]] = []
    for i, record in enumerate(split.records):
        counts[i] = len(record.ann_ids)
        no_target[i] = record.no_target
        for ann_id in record.ann_ids:
            box = box_of.get(ann_id)
            if box is None:
                box = box_of[ann_id] = _annotation_box(annotations[ann_id], where)
            rows.append(box)
    boxes = np.array(rows, dtype=np.float64).reshape(-1, 4)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return GroundTruthBoxes(boxes, counts, no_target, offsets)
