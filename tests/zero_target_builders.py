"""Tiny Ref-ZOM and R-RefCOCO datasets in their real file layouts, and prediction documents for them."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from tests.builders import image, polygon_annotation


def write_benchmark(root: Path, folder: str, refs_stem: str, *, images: list[dict], annotations: list[dict],
                    refs: list[dict]) -> Path:
    """Write ROOT/<folder>/<refs_stem>.p (pickle, as the official loaders read it) and instances.json."""
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    instances = {"images": images, "annotations": annotations,
                 "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]}
    (base / "instances.json").write_text(json.dumps(instances))
    (base / f"{refs_stem}.p").write_bytes(pickle.dumps(refs, protocol=2))
    return root


def sentences(ids: list[int], exist: dict[int, object] | None = None) -> list[dict]:
    """Sentence entries; `exist` maps a sent_id to its `exist` value (absent: no key)."""
    out = []
    for s in ids:
        entry = {"sent_id": s, "raw": f"sentence {s}", "sent": f"sentence {s}", "tokens": ["sentence", str(s)]}
        if exist and s in exist:
            entry["exist"] = exist[s]
        out.append(entry)
    return out


def zom_ref(ref_id: int, image_id: int, ann_id, source: str, sent_ids: list[int], split: str = "test") -> dict:
    return {"ref_id": ref_id, "image_id": image_id, "ann_id": ann_id, "category_id": 1, "split": split,
            "source": source, "sentences": sentences(sent_ids), "sent_ids": sent_ids}


def rref(ref_id: int, image_id: int, ann_id: int, sent_ids: list[int], negatives: list[int] = (),
         split: str = "val", positives_flagged: bool = False) -> dict:
    """An R-RefCOCO ref: `negatives` get exist false; positives have no key (or exist true if flagged)."""
    exist = {s: False for s in negatives}
    if positives_flagged:
        exist.update({s: True for s in sent_ids if s not in negatives})
    return {"ref_id": ref_id, "image_id": image_id, "ann_id": ann_id, "category_id": 1, "split": split,
            "sentences": sentences(sent_ids, exist), "sent_ids": sent_ids}


def tiny_refzom(root: Path) -> Path:
    """Ref-ZOM: zero, one (int ann_id) and many (list) refs on awkward image sizes; a train ref; a testB ref."""
    images = [image(1, 37, 53), image(2, 101, 77), image(3, 480, 640)]
    annotations = [
        polygon_annotation(11, 1, [[2, 2, 40, 3, 30, 30]]),
        polygon_annotation(12, 1, [[10, 10, 50, 10, 50, 35, 10, 35], [20, 15, 45, 15, 45, 30]]),  # overlapping
        polygon_annotation(21, 2, [[5, 5, 70, 5, 70, 90, 5, 90]]),
        polygon_annotation(31, 3, [[100, 100, 400, 120, 300, 400]]),
        polygon_annotation(32, 3, [[350, 50, 600, 60, 500, 300]]),
    ]
    refs = [
        zom_ref(1, 1, 11, "one", [101, 102]),
        zom_ref(2, 1, [11, 12], "many", [103]),
        zom_ref(3, 2, 21, "zero", [104, 105]),
        zom_ref(4, 3, [31, 32], "many", [106]),
        zom_ref(5, 3, 31, "one", [107], split="train"),
        zom_ref(6, 2, 21, "one", [108], split="testB"),
        zom_ref(7, 3, 32, "zero", [109]),
    ]
    return write_benchmark(root, "ref-zom", "refs(final)", images=images, annotations=annotations, refs=refs)


def tiny_rrefcoco(root: Path, dataset: str = "rrefcoco", refs_stem: str = "refs(unc)") -> Path:
    """R-RefCOCO: an annotation whose two polygons overlap (a hole), refs with and without negatives."""
    images = [image(1, 37, 53), image(2, 101, 77), image(3, 480, 640)]
    annotations = [
        polygon_annotation(11, 1, [[10, 10, 50, 10, 50, 35, 10, 35], [20, 15, 45, 15, 45, 30, 20, 30]]),
        polygon_annotation(21, 2, [[5, 5, 70, 5, 70, 90, 5, 90]]),
        polygon_annotation(31, 3, [[100, 100, 400, 120, 300, 400]]),
    ]
    refs = [
        rref(1, 1, 11, [201, 202, 203], negatives=[203]),
        rref(2, 2, 21, [204, 205], positives_flagged=True),  # no negative sentence
        rref(3, 3, 31, [206, 207, 208], negatives=[207, 208]),
        rref(4, 3, 31, [209], negatives=[209]),  # no positive sentence
        rref(5, 1, 11, [210], split="train"),
    ]
    return write_benchmark(root, dataset, refs_stem, images=images, annotations=annotations, refs=refs)


def encode(mask: np.ndarray) -> dict:
    """A mask as a prediction-file RLE (str counts)."""
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(mask.shape), "counts": encoded["counts"].decode("ascii")}


def document(dataset: str, split: str, protocol: str, masks: dict[int, np.ndarray]) -> dict:
    """A grefbench-predictions/1 document; an empty mask is written as no_target without a mask."""
    entries = [{"sent_id": s, "no_target": True} if not m.any() else
               {"sent_id": s, "no_target": False, "mask": encode(m)} for s, m in masks.items()]
    return {"format": "grefbench-predictions/1", "dataset": dataset, "split": split, "protocol": protocol,
            "model": {"name": "test"}, "predictions": entries}
