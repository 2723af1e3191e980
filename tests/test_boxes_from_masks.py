"""Boxes derived from masks: the connected-component rule, scaling to image pixels, scores, the `boxes` command."""

import gzip
import json

import numpy as np
import pytest

from grefbench.boxes_from_masks import component_boxes, derived_entries
from grefbench.cli import main
from grefbench.data import load_split
from grefbench.errors import UsageError
from grefbench.io import rle
from grefbench.io.predictions import PredictionFile
from tests.builders import tiny_grefcoco


def test_components_are_eight_connected_and_small_ones_dropped():
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:6, 3:8] = 1  # 20 pixels, rows 2-5, columns 3-7
    mask[6, 8] = 1  # touches the first blob diagonally: same component (21 pixels)
    mask[10:15, 20:30] = 1  # 50 pixels
    mask[18, 0] = 1  # 1 pixel: dropped
    boxes = component_boxes(mask, min_area=16)
    assert boxes.tolist() == [[20, 10, 10, 5], [3, 2, 6, 5]]  # largest first; w = last - first + 1
    assert len(component_boxes(mask, min_area=1)) == 3
    assert component_boxes(np.zeros((4, 4)), 1).shape == (0, 4)


def _file(split, protocol, masks, no_target):
    ids = np.array([r.sent_id for r in split.records], dtype=np.int64)
    return PredictionFile(path=None, dataset="grefcoco", split="val", protocol=protocol, model={"name": "m"},
                          sent_ids=ids, no_target=np.array(no_target), masks=masks)


def test_boxes_are_scaled_to_image_pixels_and_scored(tmp_path):
    split = load_split(tiny_grefcoco(tmp_path / "data"), "grefcoco", "val")
    masks, flags = [], []
    for record in split.records:
        mask = np.zeros((480, 480), dtype=np.uint8)
        mask[48:96, 240:480] = 1  # rows 48-95, columns 240-479
        masks.append(rle.as_bytes(rle.encode(mask)))
        flags.append(record.no_target)
    scores = [0.2] * (len(masks) - 1) + [None]
    entries = derived_entries(_file(split, "rela480", masks, flags), split, no_target_score=scores)
    first = split.records[0]  # image 1 is 41 x 61 (height x width)
    assert entries[0]["sent_id"] == first.sent_id
    assert entries[0]["boxes"] == [[round(240 * 61 / 480, 4), round(48 * 41 / 480, 4), round(240 * 61 / 480, 4),
                                    round(48 * 41 / 480, 4)]]
    assert entries[0]["scores"] == [0.8] and entries[-1]["scores"] == [1.0]
    no_target = [e for e, r in zip(entries, split.records) if r.no_target]
    assert no_target and all(e["boxes"] == [] and e["scores"] == [] for e in no_target)
    with pytest.raises(UsageError, match="give --data-root"):
        derived_entries(_file(split, "rela480", masks, flags), None)


def test_boxes_command_writes_a_labelled_box_file_that_scores(tmp_path, capsys):
    root = tiny_grefcoco(tmp_path / "data")
    split = load_split(root, "grefcoco", "val")
    predictions = []
    for record in split.records:
        mask = np.zeros((record.height, record.width), dtype=np.uint8)
        mask[5:25, 5:25] = 1
        predictions.append({"sent_id": record.sent_id, "no_target": record.no_target, "no_target_score": 0.1,
                            "mask": rle.encode(mask)})
    path = tmp_path / "pred.json"
    path.write_text(json.dumps({"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val",
                                "protocol": "native", "model": {"name": "square"}, "predictions": predictions}))
    out = tmp_path / "boxes.json.gz"
    main(["boxes", str(path), "--out", str(out), "-q"])
    document = json.loads(gzip.decompress(out.read_bytes()))
    assert document["format"] == "grefbench-boxes/1" and document["model"]["boxes"] == "derived from masks"
    assert document["provenance"]["derivation"]["connectivity"] == 8
    assert document["predictions"][0] == {"sent_id": 1000, "boxes": [[5.0, 5.0, 20.0, 20.0]], "scores": [0.9]}
    main(["score", str(out), "--data-root", str(root), "--json", str(tmp_path / "m.json")])
    assert "derived from masks" in " ".join(capsys.readouterr().out.split())
    assert json.loads((tmp_path / "m.json").read_text())["provenance"]["boxes"] == "derived from masks"
