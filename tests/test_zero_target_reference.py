"""Ref-ZOM and R-RefCOCO scores equal an independent re-statement of each official evaluation."""

import json

import numpy as np
import pytest

from grefbench.scoring import score_file
from tests.builders import image, polygon_annotation
from tests.zero_target_builders import document, rref, write_benchmark, zom_ref
from tests.zero_target_reference import _decode_sum, _to_target, refzom_official, rrefcoco_official


def _random_polygon(rng, height, width):
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    points = []
    for angle in np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 7))):
        radius = rng.uniform(3, max(height, width) / 2)
        points += [float(np.clip(cx + radius * np.cos(angle), 0, width)), float(np.clip(cy + radius * np.sin(angle), 0, height))]
    return points


def _dataset(rng, n_images=6, n_refs=14):
    sizes = [(int(rng.integers(17, 500)), int(rng.integers(17, 640))) for _ in range(n_images)]
    images = [image(i + 1, h, w) for i, (h, w) in enumerate(sizes)]
    annotations = []
    for i, (h, w) in enumerate(sizes):
        for k in range(3):
            polygons = [_random_polygon(rng, h, w) for _ in range(int(rng.integers(1, 4)))]
            annotations.append(polygon_annotation(100 * (i + 1) + k, i + 1, polygons))
    return images, annotations


def _prediction(rng, target):
    kind = rng.integers(0, 4)
    if kind == 0:
        return np.zeros((480, 480), dtype=np.uint8)
    if kind == 1:  # the target, shifted: IoUs spread over the thresholds
        return np.roll(target, (int(rng.integers(-40, 40)), int(rng.integers(-40, 40))), axis=(0, 1)).astype(np.uint8)
    mask = np.zeros((480, 480), dtype=np.uint8)
    y, x = rng.integers(0, 400, 2)
    mask[y:y + rng.integers(1, 200), x:x + rng.integers(1, 200)] = 1
    return mask if kind == 2 else (mask | target).astype(np.uint8)


def _target(ann_ids, anns, img):
    total = sum(_decode_sum(anns[a], img).astype(np.int64) != 0 for a in ann_ids)
    return _to_target((total != 0).astype(np.uint8))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_refzom_equals_official(tmp_path, seed):
    rng = np.random.default_rng(seed)
    images, annotations = _dataset(rng)
    anns = {a["id"]: a for a in annotations}
    refs, sent = [], 1000
    for r in range(14):
        image_id = int(rng.integers(1, len(images) + 1))
        source = ("zero", "one", "many")[r % 3]
        ann_ids = [100 * image_id + k for k in range(int(rng.integers(2, 4)))]
        ann_id = ann_ids if source == "many" else ann_ids[0]
        n = int(rng.integers(1, 4))
        refs.append(zom_ref(r + 1, image_id, ann_id, source, list(range(sent, sent + n)),
                            split=("test", "testA", "train")[(r // 2) % 3]))
        sent += n
    root = write_benchmark(tmp_path, "ref-zom", "refs(final)", images=images, annotations=annotations, refs=refs)
    instances = json.loads((root / "ref-zom" / "instances.json").read_text())
    masks = {}
    for ref in refs:
        img = next(i for i in images if i["id"] == ref["image_id"])
        ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
        target = _target(ids, anns, img) if ref["source"] != "zero" else np.zeros((480, 480), np.int64)
        for s in ref["sentences"]:
            masks[s["sent_id"]] = _prediction(rng, target.astype(np.uint8))
    expected = refzom_official(refs, instances, "test", masks)
    in_split = {s["sent_id"] for r in refs if "test" in r["split"] for s in r["sentences"]}
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(document("refzom", "test", "refzom480", {s: m for s, m in masks.items() if s in in_split})))
    result = score_file(path, root)
    assert result.metrics == expected


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_rrefcoco_equals_official(tmp_path, seed):
    rng = np.random.default_rng(seed)
    images, annotations = _dataset(rng)
    anns = {a["id"]: a for a in annotations}
    imgs = {i["id"]: i for i in images}
    refs, sent, masks = [], 1000, {}
    for r in range(14):
        image_id = int(rng.integers(1, len(images) + 1))
        ann_id = 100 * image_id + int(rng.integers(0, 3))
        positives = list(range(sent, sent + int(rng.integers(1, 5))))
        negatives = list(range(positives[-1] + 1, positives[-1] + 1 + int(rng.integers(1, 3))))
        ids = positives + negatives
        rng.shuffle(ids)
        ids = [int(i) for i in ids]
        refs.append(rref(r + 1, image_id, ann_id, ids, negatives=negatives, split="val" if r % 5 else "train",
                         positives_flagged=bool(r % 2)))
        sent = max(ids) + 1
        target = _to_target(_decode_sum(anns[ann_id], imgs[image_id])).astype(np.uint8)
        for s in ids:
            masks[s] = _prediction(rng, target) if s in positives else (
                np.zeros((480, 480), np.uint8) if rng.random() < 0.5 else _prediction(rng, target))
    root = write_benchmark(tmp_path, "rrefcoco+", "refs(unc)", images=images, annotations=annotations, refs=refs)
    instances = json.loads((root / "rrefcoco+" / "instances.json").read_text())
    expected = rrefcoco_official(refs, instances, "val", masks)
    assert all(np.isfinite(v) for v in expected.values())
    val = {s["sent_id"] for r in refs if r["split"] == "val" for s in r["sentences"]}
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(document("rrefcoco+", "val", "rrefcoco480", {s: m for s, m in masks.items() if s in val})))
    result = score_file(path, root)
    assert result.metrics == expected
