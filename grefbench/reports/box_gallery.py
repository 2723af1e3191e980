"""Gallery thumbnails for GREC: the image with the ground-truth boxes and the predicted boxes drawn on it.

Kept boxes (score >= the threshold) are drawn solid with their score; boxes under the threshold
thin and grey. Boxes are in the original image's pixels and scaled with the thumbnail.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from grefbench.metrics.grec import GREC_OUTCOME_NAMES
from grefbench.reports.gallery import GROUND_TRUTH_COLOUR, PANEL_SIZE, PREDICTION_COLOURS, _background, _caption, _display_size

_DROPPED_COLOUR = (150, 150, 150)


def _draw_boxes(tile: Image.Image, boxes: np.ndarray, scale: float, colour: tuple[int, int, int], width: int,
                labels: Sequence[str] = ()) -> None:
    draw = ImageDraw.Draw(tile)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4).tolist()):
        corners = (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
        draw.rectangle(corners, outline=colour, width=width)
        if i < len(labels) and labels[i]:
            draw.text((corners[0] + 2, corners[1] + 1), labels[i], fill=colour)


def render_box_panels(image_path, height: int, width: int, truth: np.ndarray,
                      predictions: Sequence[tuple[np.ndarray, np.ndarray, str]], score_threshold: float, *,
                      limit: int = PANEL_SIZE, quality: int = 82) -> str:
    """A JPEG data URI: the ground truth panel, then one panel per (boxes, scores, caption) prediction."""
    size = _display_size(height, width, limit)
    scale = size[1] / width
    background, found = _background(image_path, size)
    tiles = []
    gt_tile = background.copy()
    _draw_boxes(gt_tile, truth, scale, GROUND_TRUTH_COLOUR, 2)
    _caption(gt_tile, ("ground truth" if len(truth) else "ground truth: no target") + ("" if found else " (image not found)"))
    tiles.append(gt_tile)
    for index, (boxes, scores, caption) in enumerate(predictions):
        tile = background.copy()
        kept = scores >= score_threshold
        _draw_boxes(tile, boxes[~kept], scale, _DROPPED_COLOUR, 1)
        _draw_boxes(tile, truth, scale, GROUND_TRUTH_COLOUR, 1)
        _draw_boxes(tile, boxes[kept], scale, PREDICTION_COLOURS[index % 2], 2, [f"{s:.2f}" for s in scores[kept]])
        _caption(tile, f"{caption}: {int(kept.sum())} kept" + ("" if found else " (image not found)"))
        tiles.append(tile)
    gap = 4
    sheet = Image.new("RGB", (len(tiles) * size[1] + gap * (len(tiles) - 1), size[0]), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * (size[1] + gap), 0))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def worst_box_rows(frame, per_class: int) -> dict[str, list[int]]:
    """Row positions of the worst sentences (lowest F1, most kept boxes) of each failure class but "correct"."""
    chosen: dict[str, list[int]] = {}
    positions = np.arange(len(frame))
    for name in GREC_OUTCOME_NAMES[1:]:
        selected = (frame["failure_class"] == name).to_numpy()
        if selected.any():
            rows = frame.loc[selected].assign(_position=positions[selected])
            rows = rows.sort_values(["F1", "kept_boxes", "sent_id"], ascending=[True, False, True])
            chosen[name] = rows["_position"].head(per_class).tolist()
    return chosen


def box_gallery_item(analysis, row: int, others: Sequence[tuple[Any, str]] = ()) -> dict[str, Any]:
    """A gallery entry for split position `row`: thumbnail plus the facts shown under it."""
    record = analysis.split.records[row]
    frame = analysis.frame
    threshold = analysis.result.provenance["grec_options"]["score_threshold"]
    label = "A" if others else "prediction"
    predictions = [(*analysis.pred_boxes(row), label)]
    predictions += [(*other.pred_boxes(row), name) for other, name in others]
    return {
        "sent_id": int(record.sent_id),
        "image_id": int(record.image_id),
        "sentence": record.sentence,
        "f1": float(frame["F1"].iat[row]),
        "counts": f"TP {int(frame['TP'].iat[row])}, FP {int(frame['FP'].iat[row])}, FN {int(frame['FN'].iat[row])}",
        "failure_class": str(frame["failure_class"].iat[row]),
        "n_targets": int(record.n_targets),
        "image": render_box_panels(analysis.split.image_path(record), record.height, record.width,
                                   analysis.truth.of(row), predictions, threshold),
    }


def box_class_gallery(analysis, per_class: int = 4) -> dict[str, list[dict[str, Any]]]:
    """The worst `per_class` sentences of each failure class, rendered."""
    return {name: [box_gallery_item(analysis, row) for row in rows]
            for name, rows in worst_box_rows(analysis.frame, per_class).items()}
