"""Trivial GRES predictors, the floor a model must clear, as prediction files scored by grefbench.

- all-objects: every object of the image (the union of all its non-crowd annotations), never
  no-target. It knows where the objects are (from the annotations), not which one is meant.
- always-no-target: every sentence called no-target, empty masks.
- all-object-boxes (GREC): every object's box of the image (every annotation's `bbox`, crowd
  included as in the GREC ground truth), score 1.0, never no-target.

usage: python -m grefbench.baselines.trivial --out DIR [--data-root ROOT --dataset D] [--split val] [--protocol rela480]
(default data: the shipped gRefShapes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grefbench.data.catalog import resolve_root
from grefbench.data.groundtruth import target_rle
from grefbench.data.protocols import get_protocol
from grefbench.data.split import ReferSplit, load_split
from grefbench.io.predictions import write_predictions

PREDICTORS = ("all-objects", "always-no-target")


def all_objects_entries(split: ReferSplit, protocol: str) -> list[dict]:
    """Prediction entries: the union of all objects of each sentence's image; never no-target."""
    resolved = get_protocol(protocol)
    objects_of_image: dict[int, list[int]] = {}
    for annotation in split.annotations.values():
        objects_of_image.setdefault(annotation["image_id"], []).append(annotation["id"])
    masks: dict[int, dict] = {}
    entries = []
    for record in split.records:
        if record.image_id not in masks:
            masks[record.image_id] = target_rle(split, objects_of_image.get(record.image_id, []),
                                                record.height, record.width, resolved)
        entries.append({"sent_id": record.sent_id, "no_target": False, "mask": masks[record.image_id]})
    return entries


def always_no_target_entries(split: ReferSplit) -> list[dict]:
    """Prediction entries: no-target for every sentence (no masks)."""
    return [{"sent_id": record.sent_id, "no_target": True} for record in split.records]


def all_object_boxes_entries(split: ReferSplit) -> list[dict]:
    """Box-file entries (GREC): every annotation's box of each sentence's image, score 1.0."""
    boxes_of_image: dict[int, list[list[float]]] = {}
    for annotation in split.annotations.values():
        boxes_of_image.setdefault(annotation["image_id"], []).append([float(v) for v in annotation["bbox"]])
    entries = []
    for record in split.records:
        boxes = boxes_of_image.get(record.image_id, [])
        entries.append({"sent_id": record.sent_id, "boxes": boxes, "scores": [1.0] * len(boxes)})
    return entries


def write_trivial_boxes(split: ReferSplit, out: Path) -> Path:
    """Write the all-object-boxes box file (grefbench-boxes/1) for `split`."""
    from grefbench.io.boxes import write_boxes

    return write_boxes(out, dataset=split.dataset, split=split.split, model={"name": "trivial: all-object-boxes"},
                       entries=all_object_boxes_entries(split))


def write_trivial_predictions(split: ReferSplit, protocol: str, out_dir: Path) -> dict[str, Path]:
    """Write one prediction file per trivial predictor; returns their paths."""
    entries = {"all-objects": all_objects_entries(split, protocol), "always-no-target": always_no_target_entries(split)}
    paths = {}
    for name, values in entries.items():
        paths[name] = write_predictions(Path(out_dir) / f"{name}-{split.dataset}-{split.split}.json.gz",
                                        dataset=split.dataset, split=split.split, protocol=protocol,
                                        model={"name": f"trivial: {name}"}, entries=values)
    return paths


def main(argv: list[str] | None = None) -> None:
    from grefbench import console
    from grefbench.scoring import score_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--dataset", default="grefshapes")
    parser.add_argument("--split", default="val")
    parser.add_argument("--protocol", default="rela480")
    args = parser.parse_args(argv)
    root = resolve_root(args.dataset, args.data_root)
    split = load_split(root, args.dataset, args.split)
    for name, path in write_trivial_predictions(split, args.protocol, args.out).items():
        result = score_file(path, root, args.dataset, args.split)
        console.stdout.print(console.metrics_table(f"{name} · {args.dataset} {args.split} · {args.protocol}",
                                                   result.metrics, result.breakdown))
    from grefbench.grec_scoring import score_box_file
    from grefbench.metrics.grec import GREC_METRIC_NAMES

    boxes = write_trivial_boxes(split, Path(args.out) / f"all-object-boxes-{args.dataset}-{args.split}.json.gz")
    result = score_box_file(boxes, root, args.dataset, args.split)
    console.stdout.print(console.metrics_table(f"all-object-boxes (GREC) · {args.dataset} {args.split}",
                                               result.metrics, result.breakdown, GREC_METRIC_NAMES))


if __name__ == "__main__":
    main()
