"""GREC boxes derived from a mask prediction file: one box per connected component of each mask.

The rule (docs/grec.md): components are 8-connected; a component of fewer than `min_area` mask
pixels (default 16) is dropped; a box is the component's pixel extent [x, y, w, h] (w = last
column - first column + 1), scaled from the mask's size to the original image's pixels (a 480x480
`rela480` mask: x * width / 480, y * height / 480). A sentence predicted as no-target gets no box.
Each box scores 1 - `no_target_score` (the model's probability that there is a target) when the
file has that score, else 1.0. The box file's model carries `"boxes": "derived from masks"`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from grefbench.data.split import ReferSplit
from grefbench.errors import UsageError
from grefbench.io import rle
from grefbench.io.boxes import DERIVED_FROM_MASKS, write_boxes
from grefbench.io.documents import read_document
from grefbench.io.predictions import PredictionFile, check_against_split, parse_predictions
from grefbench.provenance import provenance

MIN_AREA = 16
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def component_boxes(mask: np.ndarray, min_area: int = MIN_AREA) -> np.ndarray:
    """[K, 4] float64 xywh boxes (mask pixels) of the 8-connected components of a binary mask, largest first."""
    from scipy import ndimage

    labels, count = ndimage.label(np.asarray(mask, dtype=bool), structure=_EIGHT_CONNECTED)
    if count == 0:
        return np.zeros((0, 4))
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    boxes = []
    for index, extent in enumerate(ndimage.find_objects(labels)):
        if extent is None or areas[index] < min_area:
            continue
        rows, columns = extent
        boxes.append((areas[index], columns.start, rows.start, columns.stop - columns.start, rows.stop - rows.start))
    boxes.sort(key=lambda b: (-b[0], b[1], b[2]))
    return np.array([b[1:] for b in boxes], dtype=np.float64).reshape(-1, 4)


def no_target_scores(entries: list) -> list[float | None]:
    """The `no_target_score` of each entry of a mask prediction document (None where absent)."""
    return [entry.get("no_target_score") if isinstance(entry, dict) else None for entry in entries]


def derived_entries(predictions: PredictionFile, split: ReferSplit | None, *, min_area: int = MIN_AREA,
                    no_target_score: list[float | None] | None = None,
                    progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Box-file entries for every prediction of a mask file (image sizes from `split` unless `native`).

    `no_target_score[i]` belongs to entry i of the file (see `no_target_scores`).
    """
    if min_area < 1:
        raise UsageError(f"--min-area must be at least 1 pixel, not {min_area}")
    sizes: dict[int, tuple[int, int]] = {}
    if split is not None:
        check_against_split(predictions, split)
        sizes = {r.sent_id: (r.height, r.width) for r in split.records}
    elif predictions.protocol != "native":
        raise UsageError(f"{predictions.path}: masks of protocol {predictions.protocol!r} are not at the image's size; "
                         "give --data-root so that boxes can be scaled to the original image's pixels")
    entries = []
    for i, sent_id in enumerate(predictions.sent_ids.tolist()):
        mask = predictions.masks[i]
        boxes = np.zeros((0, 4))
        if not predictions.no_target[i] and mask is not None:
            boxes = component_boxes(rle.decode(mask), min_area)
            height, width = sizes.get(sent_id, tuple(mask["size"]))
            scale = np.array([width / mask["size"][1], height / mask["size"][0]] * 2)
            boxes = boxes * scale
        score = 1.0
        if no_target_score is not None and no_target_score[i] is not None:
            score = round(1.0 - float(no_target_score[i]), 6)
        entries.append({"sent_id": sent_id, "boxes": [[round(v, 4) for v in box] for box in boxes.tolist()],
                        "scores": [score] * len(boxes)})
        if progress is not None:
            progress(1)
    return entries


def write_derived_boxes(predictions: PredictionFile, out: str | Path, split: ReferSplit | None, *,
                        min_area: int = MIN_AREA, no_target_score: list[float | None] | None = None,
                        progress: Callable[[int], None] | None = None) -> Path:
    """Write the box file derived from `predictions` (atomically; gzipped when `out` ends in .gz)."""
    entries = derived_entries(predictions, split, min_area=min_area, no_target_score=no_target_score,
                              progress=progress)
    model = {**predictions.model, "boxes": DERIVED_FROM_MASKS}
    record = provenance(dataset=predictions.dataset, split=predictions.split, protocol=predictions.protocol,
                        files=split.files if split is not None else (), command="grefbench boxes",
                        boxes=DERIVED_FROM_MASKS, derived_from=str(predictions.path),
                        derivation={"connectivity": 8, "min_area_mask_pixels": min_area,
                                    "score": "1 - no_target_score (1.0 without it)"})
    return write_boxes(out, dataset=predictions.dataset, split=predictions.split, model=model, entries=entries,
                       provenance=record)


def derive_box_file(predictions_path: str | Path, out: str | Path, data_root: str | Path | None = None, *,
                    min_area: int = MIN_AREA, progress: Callable[[int], None] | None = None) -> Path:
    """Read a mask prediction file and write its derived box file: the library function behind `grefbench boxes`."""
    from grefbench.data.catalog import default_root
    from grefbench.data.split import load_split

    path, document = read_document(predictions_path)
    predictions = parse_predictions(path, document)
    root = data_root or default_root(predictions.dataset)
    split = load_split(root, predictions.dataset, predictions.split) if root is not None else None
    return write_derived_boxes(predictions, out, split, min_area=min_area,
                               no_target_score=no_target_scores(document["predictions"]), progress=progress)


def write_grec_outputs(predictions: PredictionFile, entries: list, split: ReferSplit, out: str | Path) -> Path:
    """For `grefbench eval`: OUT/boxes.json.gz derived from the masks just written, and its GREC OUT/grec_metrics.json."""
    from grefbench.grec_scoring import score_box_file
    from grefbench.io.tables import write_json

    boxes_path = write_derived_boxes(predictions, Path(out) / "boxes.json.gz", split,
                                     no_target_score=no_target_scores(entries))
    result = score_box_file(boxes_path, split.root, split.dataset, split.split)
    write_json(Path(out) / "grec_metrics.json", result.to_json())
    return boxes_path
