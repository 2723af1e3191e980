"""Per-instance coverage of a predicted mask: which target instances it covers, which others it takes in.

Works on RLE with the one codec (grefbench.io.rle); each instance is rasterised once per image
with `instance_rle` at the protocol's mask size. For a non-target instance, the part outside the
target is what counts: |pred ∩ (inst \\ gt)| = |pred ∩ (inst ∪ gt)| - |pred ∩ gt|.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from grefbench.data.groundtruth import instance_rle
from grefbench.data.protocols import Protocol
from grefbench.data.split import ReferSplit, SentenceRecord
from grefbench.io import rle
from grefbench.reports.failure_classes import COVERED_FRACTION


@dataclass(frozen=True)
class Instance:
    ann_id: int
    mask: dict
    area: int


@dataclass
class InstanceCoverage:
    """Per sentence: scored target instances, how many are covered, how many non-target ones are covered."""

    target_instances: np.ndarray
    covered_targets: np.ndarray
    extra_instances: np.ndarray


def _rasterise(annotations: list[dict], record: SentenceRecord, protocol: Protocol) -> list[Instance]:
    masks = [(a["id"], instance_rle(a, record.height, record.width, protocol)) for a in annotations]
    masks = [(ann_id, mask) for ann_id, mask in masks if mask is not None]
    if not masks:
        return []
    areas = rle.area([m for _, m in masks]).tolist()
    return [Instance(ann_id, mask, area) for (ann_id, mask), area in zip(masks, areas) if area > 0]


def instance_coverage(
    split: ReferSplit,
    protocol: Protocol,
    rows: Sequence[int],
    pred_masks: Sequence[dict | None],
    gt_masks: Sequence[dict],
    gt_areas: Sequence[int],
    intersections: Sequence[int],
    progress: Callable[[int], None] | None = None,
) -> InstanceCoverage:
    """Coverage for the split records at positions `rows` (other sentences get zeros).

    `pred_masks[i]`, `gt_masks[i]`, `gt_areas[i]` and `intersections[i]` (|pred ∩ gt|) belong to
    `split.records[rows[i]]`.
    """
    n = len(split.records)
    target_instances = np.zeros(n, dtype=np.int64)
    covered_targets = np.zeros(n, dtype=np.int64)
    extra_instances = np.zeros(n, dtype=np.int64)
    records = [split.records[r] for r in rows]
    index = split.image_annotations({record.image_id for record in records})
    instances: dict[int, list[Instance]] = {}
    # (ref_id, ann_id) -> (inst ∪ gt, |inst \ gt|) for non-target instances
    outside_target: dict[tuple[int, int], tuple[dict, int]] = {}

    first, second, owners, kinds, denominators = [], [], [], [], []
    for i, (row, record) in enumerate(zip(rows, records)):
        pred = pred_masks[i]
        if pred is None:
            continue
        if record.image_id not in instances:
            instances[record.image_id] = _rasterise(index[record.image_id], record, protocol)
        targets = set(record.ann_ids)
        for instance in instances[record.image_id]:
            if instance.ann_id in targets:
                target_instances[row] += 1
                first.append(pred)
                second.append(instance.mask)
                kinds.append(0)
                denominators.append((instance.area, 0))
            else:
                key = (record.ref_id, instance.ann_id)
                if key not in outside_target:
                    merged = rle.union([instance.mask, gt_masks[i]])
                    outside_target[key] = (merged, int(rle.area([merged])[0]) - int(gt_areas[i]))
                merged, outside = outside_target[key]
                if outside <= 0:
                    continue
                first.append(pred)
                second.append(merged)
                kinds.append(1)
                denominators.append((outside, int(intersections[i])))
            owners.append(row)
        if progress is not None:
            progress(1)
    if first:
        overlap = rle.intersection_areas(first, second)
        owners_array = np.asarray(owners, dtype=np.int64)
        kinds_array = np.asarray(kinds, dtype=np.int8)
        area, subtract = (np.asarray(column, dtype=np.int64) for column in zip(*denominators))
        covered = (overlap - subtract) >= COVERED_FRACTION * area
        np.add.at(covered_targets, owners_array[covered & (kinds_array == 0)], 1)
        np.add.at(extra_instances, owners_array[covered & (kinds_array == 1)], 1)
    return InstanceCoverage(target_instances, covered_targets, extra_instances)
