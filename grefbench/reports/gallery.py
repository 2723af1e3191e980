"""Gallery thumbnails: the image with the ground truth and each prediction overlaid, side by side.

Masks are at the protocol's size (480x480 under rela480), so they are resized (nearest) to the
displayed image. A missing image file still gives a panel: the masks on grey, and a note.
Thumbnails are JPEG data URIs, so a page is one self-contained file that works from file://.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from grefbench.io import rle
from grefbench.reports.failure_classes import FAILURE_CLASSES

PANEL_SIZE = 224
GROUND_TRUTH_COLOUR = (0, 158, 115)  # bluish green
PREDICTION_COLOURS = ((213, 94, 0), (0, 114, 178))  # vermillion, blue: colour-blind safe pair
_ALPHA = 0.45

# "Worst" per class: lowest IoU, except where IoU is 0 by definition and size tells more.
_RANK_BY_PREDICTED_AREA = {"missed no-target"}
_RANK_BY_TARGET_AREA = {"false no-target"}


@dataclass(frozen=True)
class Panel:
    """One panel: a mask (None for none) and its caption drawn in the corner."""

    mask: dict | None
    colour: tuple[int, int, int]
    caption: str


def _display_size(height: int, width: int, limit: int) -> tuple[int, int]:
    scale = limit / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _background(path: Path, size: tuple[int, int]) -> tuple[Image.Image, bool]:
    try:
        if not path.is_file():  # a FIFO would block the build, a device would never end
            raise FileNotFoundError(path)
        with Image.open(path) as image:
            return image.convert("RGB").resize((size[1], size[0]), Image.BILINEAR), True
    except (OSError, ValueError, Image.DecompressionBombError):  # a damaged or hostile image: no background
        return Image.new("RGB", (size[1], size[0]), (128, 128, 128)), False


def _overlay(base: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    out = base.astype(np.float32)
    fill = mask.astype(bool)
    out[fill] = out[fill] * (1 - _ALPHA) + np.asarray(colour, dtype=np.float32) * _ALPHA
    inner = fill
    for _ in range(2):  # a 2-pixel outline stays visible on small thumbnails
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    out[fill & ~inner] = colour
    return out.astype(np.uint8)


def _caption(image: Image.Image, text: str) -> None:
    draw = ImageDraw.Draw(image)
    box = draw.textbbox((0, 0), text)
    draw.rectangle((0, 0, box[2] + 6, box[3] + 4), fill=(0, 0, 0))
    draw.text((3, 1), text, fill=(255, 255, 255))


def render_panels(image_path: Path, height: int, width: int, panels: Sequence[Panel], *, limit: int = PANEL_SIZE,
                  quality: int = 82) -> str:
    """A JPEG data URI: one panel per mask, each the image with that mask overlaid and captioned."""
    size = _display_size(height, width, limit)
    background, found = _background(image_path, size)
    base = np.asarray(background)
    tiles = []
    for panel in panels:
        pixels = base
        if panel.mask is not None:
            dense = Image.fromarray(rle.decode(panel.mask) * 255).resize((size[1], size[0]), Image.NEAREST)
            pixels = _overlay(base, np.asarray(dense) > 127, panel.colour)
        tile = Image.fromarray(pixels)
        _caption(tile, panel.caption if found else f"{panel.caption} (image not found)")
        tiles.append(tile)
    gap = 4
    sheet = Image.new("RGB", (len(tiles) * size[1] + gap * (len(tiles) - 1), size[0]), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * (size[1] + gap), 0))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def worst_rows(frame, per_class: int) -> dict[str, list[int]]:
    """Row positions of the worst sentences of each failure class other than "correct"."""
    chosen: dict[str, list[int]] = {}
    positions = np.arange(len(frame))
    for name in FAILURE_CLASSES[1:]:
        selected = (frame["failure_class"] == name).to_numpy()
        if not selected.any():
            continue
        rows = frame.loc[selected].assign(_position=positions[selected])
        if name in _RANK_BY_PREDICTED_AREA:
            rows = rows.sort_values(["pred_area", "sent_id"], ascending=[False, True])
        elif name in _RANK_BY_TARGET_AREA:
            rows = rows.sort_values(["gt_area", "sent_id"], ascending=[False, True])
        else:
            rows = rows.sort_values(["iou", "union", "sent_id"], ascending=[True, False, True])
        chosen[name] = rows["_position"].head(per_class).tolist()
    return chosen


def _prediction_panel(analysis, row: int, colour: tuple[int, int, int], label: str) -> Panel:
    flagged = bool(analysis.frame["pred_no_target"].iat[row])
    return Panel(None if flagged else analysis.pred_mask(row), colour,
                 f"{label}: no target" if flagged else label)


def _truth_panel(analysis, row: int) -> Panel:
    record = analysis.split.records[row]
    if record.no_target:
        return Panel(None, GROUND_TRUTH_COLOUR, "ground truth: no target")
    return Panel(analysis.gt_mask(row), GROUND_TRUTH_COLOUR, "ground truth")


def gallery_item(analysis, row: int, others: Sequence[tuple[Any, str]] = ()) -> dict[str, Any]:
    """A gallery entry for split position `row`: thumbnail plus the facts shown under it."""
    record = analysis.split.records[row]
    frame = analysis.frame
    panels = [_truth_panel(analysis, row), _prediction_panel(analysis, row, PREDICTION_COLOURS[0], "prediction")]
    for index, (other, label) in enumerate(others):
        panels[-1] = _prediction_panel(analysis, row, PREDICTION_COLOURS[0], "A")
        panels.append(_prediction_panel(other, row, PREDICTION_COLOURS[(index + 1) % 2], label))
    return {
        "sent_id": int(record.sent_id),
        "image_id": int(record.image_id),
        "sentence": record.sentence,
        "iou": float(frame["iou"].iat[row]),
        "failure_class": str(frame["failure_class"].iat[row]),
        "outcome": str(frame["outcome"].iat[row]),
        "n_targets": int(record.n_targets),
        "image": render_panels(analysis.split.image_path(record), record.height, record.width, panels),
    }


def class_gallery(analysis, per_class: int = 4) -> dict[str, list[dict[str, Any]]]:
    """The worst `per_class` sentences of each failure class, rendered."""
    return {name: [gallery_item(analysis, row) for row in rows]
            for name, rows in worst_rows(analysis.frame, per_class).items()}
