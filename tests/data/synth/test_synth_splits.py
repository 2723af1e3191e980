"""Splits: testB's held-out pairs never reach train/val/testA; images are deterministic and independent."""

from __future__ import annotations

import json

import numpy as np

from grefbench.data.synth import NOVEL_PAIRS, build_image, generate, logic
from grefbench.data.synth.attributes import COLOURS, SHAPES


def test_novel_pairs_hold_out_each_colour_and_shape_once():
    assert sorted(colour for colour, _ in NOVEL_PAIRS) == sorted(COLOURS)
    assert sorted(shape for _, shape in NOVEL_PAIRS) == sorted(SHAPES)


def test_held_out_pairs_appear_only_in_testb():
    for split in ("train", "val", "testA"):
        for index in range(10):
            sample = build_image(split, index, seed=1, image_size=96)
            assert not any((obj.colour, obj.shape) in NOVEL_PAIRS for obj in sample.scene.objects)
            for expression in sample.expressions:
                assert not logic.mentioned_pairs(expression.form) & NOVEL_PAIRS, expression.form


def test_every_testb_reference_involves_a_held_out_pair():
    for index in range(10):
        sample = build_image("testB", index, seed=1, image_size=96)
        novel = {position for position, obj in enumerate(sample.scene.objects) if (obj.colour, obj.shape) in NOVEL_PAIRS}
        assert novel
        assert sample.expressions
        for expression in sample.expressions:
            assert expression.targets & novel or logic.mentioned_pairs(expression.form) & NOVEL_PAIRS, expression.form


def test_images_are_deterministic_and_seeded():
    first = build_image("val", 7, seed=5, image_size=96)
    again = build_image("val", 7, seed=5, image_size=96)
    other = build_image("val", 7, seed=6, image_size=96)
    assert np.array_equal(first.pixels, again.pixels)
    assert json.dumps([first.annotations, first.refs, first.scene_record]) == json.dumps([again.annotations, again.refs, again.scene_record])
    assert not np.array_equal(first.pixels, other.pixels)


def test_ids_are_unique_and_follow_the_scheme():
    samples = [build_image(split, index, seed=0, image_size=96) for split in ("train", "testB") for index in (0, 1, 999)]
    image_ids = [sample.image["id"] for sample in samples]
    assert image_ids == [1_000_000, 1_000_001, 1_000_999, 4_000_000, 4_000_001, 4_000_999]
    ref_ids = [ref["ref_id"] for sample in samples for ref in sample.refs]
    sent_ids = [sid for sample in samples for ref in sample.refs for sid in ref["sent_ids"]]
    ann_ids = [annotation["id"] for sample in samples for annotation in sample.annotations]
    for ids in (ref_ids, sent_ids, ann_ids):
        assert len(ids) == len(set(ids)) and max(ids) < 2**31


def _read_split(root, split):
    refs = [ref for ref in json.loads((root / "grefcoco" / "grefs(unc).json").read_text()) if ref["split"] == split]
    image_ids = {ref["image_id"] for ref in refs}
    instances = json.loads((root / "grefcoco" / "instances.json").read_text())
    images = [image for image in instances["images"] if image["id"] in image_ids]
    annotations = [annotation for annotation in instances["annotations"] if annotation["image_id"] in image_ids]
    pictures = {image["file_name"]: (root / "images" / "train2014" / image["file_name"]).read_bytes() for image in images}
    return refs, images, annotations, pictures


def test_eval_splits_do_not_depend_on_the_train_size(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    generate(small, train_images=1, eval_images=2, splits=("train", "val"), image_size=96)
    generate(large, train_images=4, eval_images=2, splits=("train", "val"), image_size=96)
    assert _read_split(small, "val") == _read_split(large, "val")
    assert len(_read_split(large, "train")[1]) == 4
