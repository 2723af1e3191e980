"""generate(): the gRefCOCO files it writes, what loaders see in them, and the arguments it refuses."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from grefbench.data import load_split
from grefbench.data.synth import check_referents, generate
from grefbench.errors import UsageError

REF_KEYS = {"ref_id", "image_id", "split", "ann_id", "category_id", "sentences", "sent_ids", "file_name", "no_target"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("grefshapes")
    progress = []
    summary = generate(root, train_images=3, eval_images=2, image_size=128,
                       progress=lambda split, done, total: progress.append((split, done, total)))
    return root, summary, progress


def test_files_follow_the_grefcoco_layout(written):
    root, summary, progress = written
    refs = json.loads((root / "grefcoco" / "grefs(unc).json").read_text())
    instances = json.loads((root / "grefcoco" / "instances.json").read_text())
    assert set(instances) == {"info", "licenses", "images", "annotations", "categories"}
    assert [category["name"] for category in instances["categories"]] == ["circle", "square", "triangle", "star", "hexagon", "diamond"]
    for image in instances["images"]:
        assert set(image) == {"id", "file_name", "height", "width"}
        assert image["file_name"] == "COCO_train2014_%012d.jpg" % image["id"]
        with Image.open(root / "images" / "train2014" / image["file_name"]) as picture:
            assert picture.format == "JPEG" and picture.mode == "RGB" and picture.size == (128, 128)
    annotation_ids = {annotation["id"]: annotation for annotation in instances["annotations"]}
    for ref in refs:
        assert set(ref) == REF_KEYS
        assert ref["file_name"] == "COCO_train2014_%012d_%d.jpg" % (ref["image_id"], ref["ref_id"])
        assert ref["sent_ids"] == [sentence["sent_id"] for sentence in ref["sentences"]]
        for sentence in ref["sentences"]:
            assert sentence["sent"] == sentence["sent"].lower() and sentence["tokens"] == sentence["sent"].split()
        if ref["no_target"]:
            assert ref["ann_id"] == [-1] and ref["category_id"] == [-1]
        else:
            assert all(annotation_ids[ann_id]["image_id"] == ref["image_id"] for ann_id in ref["ann_id"])
            assert ref["category_id"] == [annotation_ids[ann_id]["category_id"] for ann_id in ref["ann_id"]]
    assert check_referents(root) == []
    assert {split: entry["images"] for split, entry in summary["splits"].items()} == {"train": 3, "val": 2, "testA": 2, "testB": 2}
    assert summary["splits"]["val"]["sentences"] == sum(len(ref["sentences"]) for ref in refs if ref["split"] == "val")
    assert progress[-1] == ("testB", 2, 2) and len(progress) == 9


def test_grefbench_loader_reads_every_split(written):
    root, summary, _ = written
    for split, entry in summary["splits"].items():
        records = load_split(root, "grefcoco", split).records
        assert len(records) == entry["sentences"]
        assert all(record.height == 128 and record.file_name.endswith(".jpg") for record in records)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"train_images": -1}, "train_images"),
        ({"train_images": 1, "eval_images": 2.5}, "eval_images"),
        ({"train_images": 1, "splits": ("train", "dev")}, "unknown split 'dev'"),
        ({"train_images": 1, "splits": ()}, "not empty"),
        ({"train_images": 1, "seed": -3}, "seed"),
        ({"train_images": 1, "image_size": 32}, "image_size"),
        ({"train_images": 1, "jpeg_quality": 100}, "jpeg_quality"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, arguments, message):
    with pytest.raises(UsageError, match=message):
        generate(tmp_path, **arguments)
    assert not any(tmp_path.iterdir())


def test_command_line(tmp_path, capsys):
    from grefbench.cli import main as cli

    cli(["data", "synth", "--out", str(tmp_path), "--images", "1", "--eval-images", "0", "--splits", "train",
         "--image-size", "96"])
    assert json.loads(capsys.readouterr().out)["splits"]["train"]["images"] == 1
    with pytest.raises(SystemExit) as exit:
        cli(["data", "synth", "--out", str(tmp_path), "--splits", "train,nope"])
    assert exit.value.code == 2
    assert "unknown split 'nope'" in capsys.readouterr().err
