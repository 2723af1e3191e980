"""The gRefShapes splits shipped in the package: complete, consistent, and what the code generates."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from grefbench.data.synth import (
    NOVEL_PAIRS, SHIPPED_SPLITS, build_image, check_referents, logic, read_scenes, resources_root,
)
from grefbench.data.synth.render import encode_jpeg

REGENERATED = [("val", 0), ("val", 137), ("testA", 5), ("testB", 0), ("testB", 199)]


@pytest.fixture(scope="module")
def shipped():
    root = resources_root()
    grefcoco = root / "grefcoco"
    instances = json.loads((grefcoco / "instances.json").read_text())
    refs = json.loads((grefcoco / "grefs(unc).json").read_text())
    scenes = read_scenes(root)
    return root, instances, refs, scenes


def _json(value):
    return json.loads(json.dumps(value))


def test_layout_and_recorded_config(shipped):
    root, instances, refs, scenes = shipped
    config = instances["info"]
    assert {key: config[key] for key in ("generator", "seed", "image_size")} == {
        "generator": "grefbench.data.synth", "seed": 0, "image_size": 256}
    assert scenes["config"] == {key: config[key] for key in ("generator", "seed", "image_size", "jpeg_quality")}
    images_per_split = Counter(scene["split"] for scene in scenes["images"])
    assert images_per_split == {split: 200 for split in SHIPPED_SPLITS}
    files = {path.name for path in (root / "images" / "train2014").iterdir()}
    assert files == {image["file_name"] for image in instances["images"]}  # every image, and no stale ones
    assert len({ref["ref_id"] for ref in refs}) == len(refs)
    sent_ids = [sentence["sent_id"] for ref in refs for sentence in ref["sentences"]]
    assert len(set(sent_ids)) == len(sent_ids)


def test_every_reference_matches_its_logical_form():
    assert check_referents(resources_root()) == []


def test_mix_of_each_split_is_near_grefcocos(shipped):
    _, _, refs, _ = shipped
    kinds = defaultdict(Counter)
    for ref in refs:
        kind = "no_target" if ref["no_target"] else "multi" if len(ref["ann_id"]) > 1 else "single"
        kinds[ref["split"]][kind] += len(ref["sentences"])
    for split in SHIPPED_SPLITS:
        total = sum(kinds[split].values())
        assert 800 <= total <= 1100, (split, total)  # the demo model evaluates a split in well under a minute
        assert 0.28 <= kinds[split]["multi"] / total <= 0.40, (split, kinds[split])
        assert 0.10 <= kinds[split]["no_target"] / total <= 0.15, (split, kinds[split])


def test_only_testb_holds_the_held_out_pairs(shipped):
    _, _, _, scenes = shipped
    for scene in scenes["images"]:
        novel = {item["ann_id"] for item in scene["objects"] if (item["colour"], item["shape"]) in NOVEL_PAIRS}
        mentioned = [logic.mentioned_pairs(entry["logical_form"]) & NOVEL_PAIRS for entry in scene["refs"]]
        if scene["split"] == "testB":
            assert novel
        else:
            assert not novel and not any(mentioned)


def test_shipped_files_are_what_the_code_generates(shipped):
    root, instances, refs, scenes = shipped
    config = instances["info"]
    images = {image["id"]: image for image in instances["images"]}
    annotations = defaultdict(list)
    for annotation in instances["annotations"]:
        annotations[annotation["image_id"]].append(annotation)
    refs_by_image = defaultdict(list)
    for ref in refs:
        refs_by_image[ref["image_id"]].append(ref)
    scene_by_image = {scene["image_id"]: scene for scene in scenes["images"]}
    for split, index in REGENERATED:
        sample = build_image(split, index, seed=config["seed"], image_size=config["image_size"])
        image_id = sample.image["id"]
        assert _json(sample.image) == images[image_id]
        assert _json(sample.annotations) == annotations[image_id]
        assert _json(sample.refs) == refs_by_image[image_id]
        assert _json(sample.scene_record) == scene_by_image[image_id]
        stored = (root / "images" / "train2014" / sample.image["file_name"]).read_bytes()
        encoded = encode_jpeg(sample.pixels, config["jpeg_quality"])
        if encoded != stored:
            # Same pixels through another libjpeg build may give other bytes; drift gives other pixels.
            difference = np.abs(np.asarray(Image.open(io.BytesIO(encoded)), dtype=int)
                                - np.asarray(Image.open(io.BytesIO(stored)), dtype=int))
            name = sample.image["file_name"]
            assert difference.max() <= 2, f"{name} differs from the code's output by up to {difference.max()}"


def test_size_stays_a_few_megabytes():
    total = sum(path.stat().st_size for path in resources_root().rglob("*") if path.is_file())
    assert total <= 7_000_000, total
