"""GREC ground truth: the target boxes of every sentence of a split, as the official conversion makes them.

`grefexp_coco_format.py` gives a sentence one box per id in its ref's `ann_id`: that annotation's
`bbox` from instances.json (COCO xywh), crowd annotations included, unlike the segmentation ground
truth; a no-target ref (`ann_id` [-1]) gets none. The boxes of a split are kept in the cache, keyed by
the annotation files' SHA-256 with the split's sent_ids, so a repeated score needs neither
instances.json nor the split's index (`cached_ground_truth_boxes`).
"""

from __future__ import annotations

import hashlib
import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grefbench.cache import cache_root
from grefbench.data.files import AnnotationFile, read_bytes
from grefbench.data.split import ReferSplit
from grefbench.errors import DatasetError
from grefbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

# Bump when the boxes change meaning, so old caches are rebuilt.
GT_BOXES_VERSION = 2


@dataclass
class GroundTruthBoxes:
    """Target boxes per sentence, in split record order: `counts[i]` rows of `boxes` for record i."""

    boxes: np.ndarray  # float64 [G, 4], COCO xywh
    counts: np.ndarray  # int64 [N]
    no_target: np.ndarray  # bool [N]
    offsets: np.ndarray  # int64 [N + 1], where each record's boxes start
    sent_ids: np.ndarray  # int64 [N], the records' sent_ids

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


def _cache_path(files: tuple[AnnotationFile, ...], dataset: str, split: str) -> Path:
    key = "|".join([*(f.sha256 for f in files), dataset, split, str(GT_BOXES_VERSION)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_root() / "gt_boxes" / f"{dataset.replace('+', 'plus')}-{split}-{digest}.npz"


def _from_cache(path: Path) -> GroundTruthBoxes | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            boxes, counts, no_target, sent_ids = (stored[k] for k in ("boxes", "counts", "no_target", "sent_ids"))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    # The key holds both files' SHA-256 and the split, so only a damaged file can disagree.
    if (counts.ndim != 1 or no_target.shape != counts.shape or sent_ids.shape != counts.shape
            or boxes.shape != (int(counts.sum()), 4)):
        return None
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return GroundTruthBoxes(boxes, counts, no_target, offsets, sent_ids)


def _save(path: Path, truth: GroundTruthBoxes) -> None:
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, boxes=truth.boxes, counts=truth.counts, no_target=truth.no_target,
                         sent_ids=truth.sent_ids)
    except OSError as error:
        logger.warning("could not cache the ground-truth boxes in %s (%s)", path, error)


def cached_ground_truth_boxes(root: Path, dataset: str, split: str) -> tuple[GroundTruthBoxes, tuple] | None:
    """The cached target boxes of `split` and its annotation files (read and hashed now), or None when
    they are not cached yet or anything is amiss (then `load_split` + `ground_truth_boxes` say why)."""
    from grefbench.data.catalog import get_dataset
    from grefbench.errors import GrefbenchError

    try:
        spec = get_dataset(dataset)
        refs_path = next((p for p in spec.refs_candidates(Path(root)) if p.is_file()), None)
        if refs_path is None:
            return None
        files = (read_bytes(refs_path, "refs file", spec.layout())[1],
                 read_bytes(spec.instances_path(Path(root)), "instances file", spec.layout())[1])
    except (GrefbenchError, OSError):
        return None
    truth = _from_cache(_cache_path(files, spec.name, split))
    return None if truth is None else (truth, files)


def ground_truth_boxes(split: ReferSplit, *, use_cache: bool = True) -> GroundTruthBoxes:
    """The GREC target boxes of `split`, from the cache or from instances.json."""
    path = _cache_path(split.files, split.dataset, split.split) if use_cache and split.files else None
    if path is not None:
        cached = _from_cache(path)
        if cached is not None and cached.counts.size == len(split.records):
            return cached
    truth = _build(split)
    if path is not None:
        _save(path, truth)
    return truth


def _build(split: ReferSplit) -> GroundTruthBoxes:
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
    sent_ids = np.fromiter((r.sent_id for r in split.records), dtype=np.int64, count=len(split.records))
    return GroundTruthBoxes(boxes, counts, no_target, offsets, sent_ids)
