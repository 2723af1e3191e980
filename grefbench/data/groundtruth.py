"""Ground-truth target masks as RLE, per ref, under a protocol; built once and cached on disk.

A target mask is the union of the ref's non-crowd annotations (the official loader drops crowd
annotations and polygons with fewer than 3 points). Under `rela480` polygons are scaled exactly as
detectron2's ResizeTransform.apply_coords does (x * (480 * 1.0 / w)), including its quirk that a
polygon of integers stays an integer array, so scaled coordinates are truncated.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from pycocotools import mask as coco_mask

from grefbench import parallel
from grefbench.cache import cache_root
from grefbench.data.protocols import Protocol, get_protocol
from grefbench.data.split import ReferSplit
from grefbench.errors import DatasetError, GrefbenchError, shown
from grefbench.io import limits, rle
from grefbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

# Bump when the rasterisation changes, so old caches are rebuilt.
GROUND_TRUTH_VERSION = 1


def _valid_polygons(segmentation: list) -> list[list]:
    return [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]


def _scale_polygon(polygon: list, x_ratio: float, y_ratio: float) -> np.ndarray:
    coords = np.asarray(polygon).reshape(-1, 2)
    coords[:, 0] = coords[:, 0] * x_ratio
    coords[:, 1] = coords[:, 1] * y_ratio
    return coords.reshape(-1).astype(np.float64)


def instance_rle(annotation: dict, height: int, width: int, protocol: Protocol) -> dict | None:
    """RLE (bytes counts) of one annotation at the protocol's mask size; None without a valid polygon.

    Untrusted numbers are checked before pycocotools sees them (io/limits.py): a coordinate far
    outside the image would make its rasteriser walk (and allocate for) every pixel of the edge.
    """
    out_height, out_width = protocol.mask_size(height, width)
    segmentation = annotation.get("segmentation")
    where = f"annotation {shown(annotation.get('id'))} (image {shown(annotation.get('image_id'))})"
    if not isinstance(segmentation, (list, dict)):
        found = "no 'segmentation'" if segmentation is None else f"the segmentation {shown(segmentation)}"
        raise DatasetError(f"{where} has {found}; expected polygons or an RLE")
    try:
        if isinstance(segmentation, dict):
            return _rle_segmentation(segmentation, height, width, out_height, out_width)
        polygons = _valid_polygons(segmentation)
        for polygon in polygons:
            limits.polygon(polygon, height, width)
        if not polygons:
            return None
        if (out_height, out_width) != (height, width):
            x_ratio = out_width * 1.0 / width
            y_ratio = out_height * 1.0 / height
            polygons = [_scale_polygon(p, x_ratio, y_ratio) for p in polygons]
        parts = coco_mask.frPyObjects(polygons, out_height, out_width)
    except limits.Refused as error:
        raise DatasetError(f"{where}: {error}") from None
    except (ValueError, TypeError, KeyError) as error:
        raise DatasetError(f"{where}: malformed segmentation ({error})") from None
    merged = coco_mask.merge(parts) if len(parts) > 1 else parts[0]
    return {"size": [out_height, out_width], "counts": merged["counts"]}


def _rle_segmentation(segmentation: dict, height: int, width: int, out_height: int, out_width: int) -> dict:
    if segmentation.get("size") != [height, width]:
        raise ValueError(f"RLE size {shown(segmentation.get('size'))} differs from the image size {[height, width]}")
    if isinstance(segmentation.get("counts"), list):
        limits.run_lengths(segmentation["counts"], height * width)
        segmentation = coco_mask.frPyObjects(segmentation, height, width)
    else:
        counts = segmentation.get("counts")
        if not isinstance(counts, str) or not counts.isascii():
            raise ValueError("RLE 'counts' must be a list of runs or a COCO compressed string")
        counts = counts.encode("ascii")
        problem = rle.check_counts([counts], [height * width])
        if problem is not None:
            raise ValueError(problem.reason)
        segmentation = {"size": [height, width], "counts": counts}
    if (out_height, out_width) == (height, width):
        return rle.as_bytes(rle.encode(coco_mask.decode(segmentation)))
    from PIL import Image

    # detectron2 resizes mask annotations with PIL nearest-neighbour (apply_segmentation).
    dense = Image.fromarray(coco_mask.decode(segmentation)).resize((out_width, out_height), Image.NEAREST)
    return rle.as_bytes(rle.encode(np.asarray(dense)))


def target_rle(split: ReferSplit, ann_ids: Iterable[int], height: int, width: int, protocol: Protocol) -> dict:
    """Union of the non-crowd target annotations at the protocol's size (empty when there are none)."""
    parts = []
    for ann_id in ann_ids:
        annotation = split.annotations[ann_id]
        if annotation.get("iscrowd", 0):
            continue
        part = instance_rle(annotation, height, width, protocol)
        if part is not None:
            parts.append(part)
    if not parts:
        return rle.empty(*protocol.mask_size(height, width))
    return rle.union(parts)


@dataclass
class GroundTruth:
    """Target RLE (bytes counts) per ref of one split under one protocol."""

    protocol: str
    rles: dict[int, dict]
    areas: dict[int, int]


# Each process rasterises at least this many refs: fewer cost more to fork than they save.
_REFS_PER_PROCESS = 1000


def build_ground_truth(split: ReferSplit, protocol: Protocol, progress: Callable[[int], None] | None = None,
                       only: set[int] | None = None, jobs: int = 1) -> GroundTruth:
    """Rasterise every ref's target mask, or only those of the refs in `only` (no cache).

    With `jobs` > 1 the refs are cut into that many parts and all but the first are rasterised in
    forked children (see grefbench.parallel); the result is the same.
    """
    records = [(ref_id, record) for ref_id, record in split.ref_records().items() if only is None or ref_id in only]
    jobs = max(1, min(jobs, len(records) // _REFS_PER_PROCESS))
    if jobs > 1:
        split.annotations  # parse instances.json once, before the children inherit it
    bounds = [len(records) * part // jobs for part in range(jobs + 1)]
    children = [parallel.start(_rasterise, split, records[bounds[part]:bounds[part + 1]], protocol, None)
                for part in range(1, jobs)]
    try:
        rles = _rasterise(split, records[:bounds[1]], protocol, progress)
        for part, child in zip(range(1, jobs), children):
            rles.update(child.result())
            if progress is not None:
                progress(bounds[part + 1] - bounds[part])
    finally:
        for child in children:
            child.cancel()
    areas = dict(zip(rles, rle.area(list(rles.values())).tolist()))
    return GroundTruth(protocol.name, rles, areas)


def _rasterise(split: ReferSplit, records: list, protocol: Protocol,
               progress: Callable[[int], None] | None) -> dict[int, dict]:
    rles: dict[int, dict] = {}
    for ref_id, record in records:
        rles[ref_id] = target_rle(split, record.ann_ids, record.height, record.width, protocol)
        if progress is not None:
            progress(1)
    return rles


def cache_path(split: ReferSplit, protocol: Protocol, directory: Path | None = None) -> Path:
    """The cache file of (dataset, split, protocol), keyed by the annotation files' content."""
    key = hashlib.sha256(
        "|".join([*(f.sha256 for f in split.files), split.dataset, split.split, protocol.name,
                  str(GROUND_TRUTH_VERSION)]).encode()
    ).hexdigest()[:20]
    base = directory if directory is not None else cache_root() / "groundtruth"
    # The split's name comes from the refs file: it must not lead out of the cache folder.
    return base / f"{limits.file_name_part(split.dataset)}-{limits.file_name_part(split.split)}-{protocol.name}-{key}.npz"


def _save(path: Path, truth: GroundTruth) -> None:
    ref_ids = np.fromiter(truth.rles, dtype=np.int64)
    sizes, offsets, joined = rle.pack([truth.rles[r] for r in ref_ids.tolist()])
    areas = np.array([truth.areas[r] for r in ref_ids.tolist()], dtype=np.int64)
    with atomic_path(path, cache=True) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, version=np.array([GROUND_TRUTH_VERSION]), ref_ids=ref_ids, sizes=sizes,
                     offsets=offsets, counts=np.frombuffer(joined, dtype=np.uint8), areas=areas)


def _load(path: Path, protocol: str) -> GroundTruth | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"][0]) != GROUND_TRUTH_VERSION:
                return None
            ref_ids = data["ref_ids"].tolist()
            sizes = data["sizes"]
            offsets = data["offsets"]
            counts = data["counts"].tobytes()
            areas = data["areas"].tolist()
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if len(sizes) != len(ref_ids) or len(offsets) != len(ref_ids) + 1 or int(offsets[-1]) != len(counts):
        return None
    rles = dict(zip(ref_ids, rle.unpack(sizes, offsets, counts)))
    return GroundTruth(protocol, rles, dict(zip(ref_ids, areas)))


def load_ground_truth(
    split: ReferSplit,
    protocol: str | Protocol,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> GroundTruth:
    """Ground truth of `split` under `protocol`, from the on-disk cache when it is fresh.

    A stale cache has another name (the key hashes the annotation files); a corrupt one is
    rebuilt. Refs missing from the cache (it may have been made for part of the split) are
    rasterised and added (over `jobs` processes); the file is replaced atomically.
    """
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if not use_cache:
        return build_ground_truth(split, protocol, progress, jobs=jobs)
    path = cache_path(split, protocol, cache_dir)
    expected = {record.ref_id for record in split.records}
    cached = _load(path, protocol.name) if path.is_file() else None
    if path.is_file() and cached is None:
        logger.warning("ground-truth cache %s is corrupt; rebuilding it", path)
    cached = cached or GroundTruth(protocol.name, {}, {})
    missing = expected - cached.rles.keys()
    if missing:
        built = build_ground_truth(split, protocol, progress, only=missing, jobs=jobs)
        cached.rles.update(built.rles)
        cached.areas.update(built.areas)
        try:
            _save(path, cached)
        except (OSError, GrefbenchError) as error:  # a cache that cannot be written only warns
            logger.warning("could not write the ground-truth cache %s: %s", path, error)
    if len(cached.rles) == len(expected):
        return cached
    return GroundTruth(protocol.name, {r: cached.rles[r] for r in expected}, {r: cached.areas[r] for r in expected})
