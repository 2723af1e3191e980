"""The scenes file beside the official ones: object attributes and logical forms, and checking them.

ROOT/grefcoco/grefshapes_scenes.json holds, per image, each object's shape, colour, size and
centre (keyed by ann_id, listed bottom to top), and per reference its kind and logical form
(keyed by ref_id).
`check_referents` recomputes every reference's targets from its logical form and compares them
with the ann_id lists of grefs(unc).json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grefbench.data.synth import logic
from grefbench.data.synth.expressions import kind_of
from grefbench.errors import DatasetError

FORMAT = "grefshapes-scenes/1"
SCENES_FILE = "grefshapes_scenes.json"


@dataclass(frozen=True)
class RecordedObject:
    """An object as the scenes file records it (what the evaluator needs)."""

    ann_id: int
    shape: str
    colour: str
    size: str
    x: float
    y: float


def scenes_document(config: dict[str, Any], scenes: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "config": config, **extra, "images": scenes}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise DatasetError(f"{path} not found: expected a gRefShapes data root (grefcoco/{SCENES_FILE})") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None


def read_scenes(root: str | Path) -> dict[str, Any]:
    """The scenes file of a gRefShapes root."""
    path = Path(root) / "grefcoco" / SCENES_FILE
    document = _read_json(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a {FORMAT} file")
    return document


def check_referents(root: str | Path) -> list[str]:
    """Problems found when recomputing every reference's targets from its logical form (empty if none)."""
    root = Path(root)
    scenes = read_scenes(root)
    refs = _read_json(root / "grefcoco" / "grefs(unc).json")
    instances = _read_json(root / "grefcoco" / "instances.json")
    sizes = {image["id"]: image["width"] for image in instances["images"]}
    refs_by_id = {ref["ref_id"]: ref for ref in refs}
    problems = []
    checked = set()
    for scene in scenes["images"]:
        objects = [RecordedObject(item["ann_id"], item["shape"], item["colour"], item["size"], *item["center"])
                   for item in scene["objects"]]
        for entry in scene["refs"]:
            ref = refs_by_id.get(entry["ref_id"])
            if ref is None:
                problems.append(f"ref {entry['ref_id']}: in the scenes file but not in grefs(unc).json")
                continue
            checked.add(entry["ref_id"])
            try:
                targets = logic.evaluate(entry["logical_form"], objects, sizes[scene["image_id"]])
            except DatasetError as error:
                problems.append(f"ref {entry['ref_id']}: {error}")
                continue
            expected = sorted(objects[index].ann_id for index in targets) or [-1]
            if sorted(ref["ann_id"]) != expected:
                problems.append(f"ref {entry['ref_id']}: logical form gives {expected}, "
                                f"grefs(unc).json says {ref['ann_id']}")
            if kind_of(targets) != entry["kind"] or ref["no_target"] != (not targets):
                problems.append(f"ref {entry['ref_id']}: kind {entry['kind']!r} and no_target {ref['no_target']} "
                                f"do not fit {len(targets)} targets")
    for ref_id in sorted(set(refs_by_id) - checked):
        problems.append(f"ref {ref_id}: in grefs(unc).json but has no logical form in the scenes file")
    return problems
