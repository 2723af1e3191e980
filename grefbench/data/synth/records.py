"""One image of gRefShapes: its scene, pixels, and records in the gRefCOCO and COCO formats.

Everything about image `index` of `split` comes from random streams seeded by (seed, split code,
index) and nothing else, so an image and its ids do not depend on how many other images are made.
Ids are derived the same way (all below 2^31):
  image_id = split code * 1,000,000 + index
  ann_id   = image_id * 10 + position of the object, bottom to top
  ref_id   = image_id * 10 + position of the reference
  sent_id  = ref_id * 10 + position of the sentence
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from grefbench.data.synth import render
from grefbench.data.synth.attributes import CATEGORY_IDS, SPLIT_CODES
from grefbench.data.synth.expressions import Expression, generate_expressions
from grefbench.data.synth.language import normalise
from grefbench.data.synth.scene import Scene, sample_scene

MAX_IMAGES_PER_SPLIT = 1_000_000


@dataclass(frozen=True)
class ImageSample:
    """An image with its annotations (instances.json), refs (grefs(unc).json) and scene record."""

    split: str
    index: int
    scene: Scene
    pixels: np.ndarray
    expressions: tuple[Expression, ...]
    image: dict[str, Any]
    annotations: list[dict[str, Any]]
    refs: list[dict[str, Any]]
    scene_record: dict[str, Any]


def image_id_for(split: str, index: int) -> int:
    return SPLIT_CODES[split] * MAX_IMAGES_PER_SPLIT + index


def image_file_name(image_id: int) -> str:
    return "COCO_train2014_%012d.jpg" % image_id


def _streams(seed: int, split: str, index: int) -> list[np.random.Generator]:
    """Independent streams for layout, rendering and language: changing one stage keeps the others."""
    sequence = np.random.SeedSequence([seed, SPLIT_CODES[split], index])
    return [np.random.default_rng(child) for child in sequence.spawn(3)]


def _rounded(value: float) -> float:
    return round(float(value), 2)


def annotation_for(polygons: tuple[np.ndarray, ...], ann_id: int, image_id: int, shape: str, size: int) -> dict[str, Any]:
    """A COCO annotation: polygons of the visible region, its rasterized pixel area, its box."""
    segmentation = [[_rounded(value) for value in polygon.reshape(-1)] for polygon in polygons]
    rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, size, size))
    points = np.concatenate(polygons, axis=0)
    low, high = points.min(axis=0), points.max(axis=0)
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": CATEGORY_IDS[shape],
        "segmentation": segmentation,
        "area": float(mask_utils.area(rle)),
        "bbox": [_rounded(low[0]), _rounded(low[1]), _rounded(high[0] - low[0]), _rounded(high[1] - low[1])],
        "iscrowd": 0,
    }


def build_image(split: str, index: int, *, seed: int, image_size: int) -> ImageSample:
    """Generate image `index` of `split` and all its records."""
    layout_rng, render_rng, language_rng = _streams(seed, split, index)
    scene = sample_scene(layout_rng, image_size, split)
    pixels = render.render(scene, render_rng)
    expressions = tuple(generate_expressions(scene.objects, image_size, split, language_rng))

    image_id = image_id_for(split, index)
    ann_ids = [image_id * 10 + position for position in range(len(scene.objects))]
    annotations = [
        annotation_for(polygons, ann_id, image_id, obj.shape, image_size)
        for polygons, ann_id, obj in zip(scene.visible, ann_ids, scene.objects)
    ]
    refs, ref_forms = [], []
    for position, expression in enumerate(expressions):
        ref_id = image_id * 10 + position
        targets = sorted(expression.targets)
        sentences = []
        for number, raw in enumerate(expression.sentences):
            sent, tokens = normalise(raw)
            sentences.append({"tokens": tokens, "raw": raw, "sent_id": ref_id * 10 + number, "sent": sent})
        no_target = not targets
        refs.append({
            "image_id": image_id,
            "split": split,
            "sentences": sentences,
            "file_name": "COCO_train2014_%012d_%d.jpg" % (image_id, ref_id),
            "category_id": [-1] if no_target else [CATEGORY_IDS[scene.objects[target].shape] for target in targets],
            "ann_id": [-1] if no_target else [ann_ids[target] for target in targets],
            "sent_ids": [sentence["sent_id"] for sentence in sentences],
            "ref_id": ref_id,
            "no_target": no_target,
        })
        ref_forms.append({"ref_id": ref_id, "kind": expression.kind, "logical_form": expression.form})
    scene_record = {
        "image_id": image_id,
        "split": split,
        "objects": [
            {"ann_id": ann_id, "shape": obj.shape, "colour": obj.colour, "size": obj.size,
             "center": [_rounded(obj.x), _rounded(obj.y)]}
            for ann_id, obj in zip(ann_ids, scene.objects)
        ],
        "refs": ref_forms,
    }
    image = {"id": image_id, "file_name": image_file_name(image_id), "height": image_size, "width": image_size}
    return ImageSample(split, index, scene, pixels, expressions, image, annotations, refs, scene_record)
