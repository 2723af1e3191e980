"""Prediction files with known kinds of mistakes, built from the ground truth (test fixtures only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grefbench.data.groundtruth import instance_rle
from grefbench.data.protocols import get_protocol
from grefbench.io import rle
from grefbench.io.predictions import write_predictions


def perturbed_entries(split, protocol: str, seed: int = 0, quality: float = 0.5) -> list[dict]:
    """Entries for every sentence: the true mask, or one of a handful of typical mistakes.

    `quality` is the share of target sentences answered exactly; the rest is split among a wrong
    object, a dropped instance, an extra instance, a shifted mask and a no-target call.
    """
    resolved = get_protocol(protocol)
    rng = np.random.default_rng(seed)
    by_image: dict[int, list[dict]] = {}
    for annotation in split.annotations.values():
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    entries = []
    for record in split.records:
        size = resolved.mask_size(record.height, record.width)
        instances = {a["id"]: instance_rle(a, record.height, record.width, resolved)
                     for a in by_image.get(record.image_id, []) if not a.get("iscrowd", 0)}
        instances = {k: v for k, v in instances.items() if v is not None}
        targets = [instances[a] for a in record.ann_ids if a in instances]
        others = [v for k, v in instances.items() if k not in record.ann_ids]
        u = rng.random()
        if record.no_target:
            if u < 0.7 or not others:
                entries.append({"sent_id": record.sent_id, "no_target": True})
            else:
                entries.append({"sent_id": record.sent_id, "no_target": False, "mask": others[rng.integers(len(others))]})
            continue
        mistake = (u - quality) / max(1 - quality, 1e-9)
        if u < quality:
            mask = rle.union(targets)
        elif mistake < 0.15:
            entries.append({"sent_id": record.sent_id, "no_target": True})
            continue
        elif mistake < 0.35 and others:
            mask = others[rng.integers(len(others))]
        elif mistake < 0.55 and len(targets) >= 2:
            mask = rle.union(targets[1:])
        elif mistake < 0.75 and others:
            mask = rle.union([*targets, others[rng.integers(len(others))]])
        else:
            dense = rle.decode(rle.union(targets))
            shift = max(1, int(0.02 * size[1]) + int(rng.integers(0, 3)))
            mask = rle.encode(np.roll(dense, shift, axis=1))
        entries.append({"sent_id": record.sent_id, "no_target": False, "mask": mask})
    return entries


def write_perturbed(path: Path, split, protocol: str = "rela480", seed: int = 0, quality: float = 0.5,
                    name: str = "perturbed ground truth") -> Path:
    return write_predictions(path, dataset=split.dataset, split=split.split, protocol=protocol,
                             model={"name": name}, entries=perturbed_entries(split, protocol, seed, quality))
