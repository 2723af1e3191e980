"""Synthetic gRefCOCO-format annotation files of any size, for benchmarks (no images needed).

Polygons are star-shaped blobs with 12-40 vertices (like COCO's), image sizes are 640x480-class,
refs mix single, multi and no-target like gRefCOCO, sentences are short phrases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_WORDS = "the man woman left right red blue car dog two all except person on near small large shirt".split()


def _polygon(rng: np.random.Generator, width: int, height: int) -> list[float]:
    cx, cy = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
    radius = rng.uniform(0.05, 0.25) * min(width, height)
    vertices = int(rng.integers(12, 41))
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radii = radius * rng.uniform(0.6, 1.0, vertices)
    xs = np.clip(cx + radii * np.cos(angles), 0, width - 1)
    ys = np.clip(cy + radii * np.sin(angles), 0, height - 1)
    return np.round(np.stack([xs, ys], 1).reshape(-1), 2).tolist()


def write_synthetic_grefcoco(root: Path, *, images: int, annotations_per_image: int, sentences: int,
                             split_shares: dict[str, float] | None = None, seed: int = 0) -> dict:
    """Write ROOT/grefcoco/{grefs(unc).json, instances.json}; returns counts."""
    rng = np.random.default_rng(seed)
    split_shares = split_shares or {"train": 0.75, "val": 0.1, "testA": 0.075, "testB": 0.075}
    image_list, annotation_list = [], []
    anns_of_image: list[list[int]] = []
    next_ann = 1
    for image_id in range(1, images + 1):
        width, height = (640, 480) if rng.random() < 0.6 else (int(rng.integers(480, 641)), int(rng.integers(360, 481)))
        image_list.append({"id": image_id, "file_name": f"COCO_train2014_{image_id:012d}.jpg", "height": height, "width": width})
        ids = []
        for _ in range(annotations_per_image):
            polygons = [_polygon(rng, width, height)]
            if rng.random() < 0.1:
                polygons.append(_polygon(rng, width, height))
            xs = [v for p in polygons for v in p[0::2]]
            ys = [v for p in polygons for v in p[1::2]]
            annotation_list.append({
                "id": next_ann, "image_id": image_id, "category_id": int(rng.integers(1, 81)),
                "segmentation": polygons, "area": 1000.0,
                "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                "iscrowd": 0,
            })
            ids.append(next_ann)
            next_ann += 1
        anns_of_image.append(ids)

    split_names = list(split_shares)
    split_probs = np.array(list(split_shares.values()))
    split_of_image = rng.choice(len(split_names), size=images, p=split_probs / split_probs.sum())
    refs, sent_id, ref_id = [], 1, 1
    while sent_id <= sentences:
        image_index = int(rng.integers(0, images))
        kind = rng.random()
        candidates = anns_of_image[image_index]
        if kind < 0.1:
            ann_ids, categories = [-1], [-1]
        elif kind < 0.4 and len(candidates) > 1:
            chosen = rng.choice(candidates, size=int(rng.integers(2, len(candidates) + 1)), replace=False)
            ann_ids = sorted(int(a) for a in chosen)
            categories = [annotation_list[a - 1]["category_id"] for a in ann_ids]
        else:
            ann_ids = [int(rng.choice(candidates))]
            categories = [annotation_list[ann_ids[0] - 1]["category_id"]]
        count = int(min(rng.integers(1, 4), sentences - sent_id + 1))
        sents = []
        for _ in range(count):
            words = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(2, 9)))]
            sents.append({"tokens": words, "raw": " ".join(words), "sent_id": sent_id, "sent": " ".join(words)})
            sent_id += 1
        image_id = image_index + 1
        refs.append({
            "sent_ids": [s["sent_id"] for s in sents], "file_name": f"COCO_train2014_{image_id:012d}_{ref_id}.jpg",
            "ann_id": ann_ids if len(ann_ids) > 1 or rng.random() < 0.5 else ann_ids[0], "ref_id": ref_id,
            "image_id": image_id, "split": split_names[split_of_image[image_index]], "sentences": sents,
            "category_id": categories, "no_target": ann_ids == [-1],
        })
        ref_id += 1
    folder = root / "grefcoco"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "instances.json").write_text(json.dumps({"info": {}, "licenses": [], "images": image_list,
                                                       "annotations": annotation_list,
                                                       "categories": [{"id": i, "name": f"c{i}"} for i in range(1, 81)]}))
    (folder / "grefs(unc).json").write_text(json.dumps(refs))
    return {"images": images, "annotations": len(annotation_list), "refs": len(refs), "sentences": sentences}
