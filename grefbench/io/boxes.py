"""Box prediction files, format `grefbench-boxes/1` (GREC): strict reading, checking against a split, writing.

{"format": "grefbench-boxes/1", "dataset": "grefcoco", "split": "val", "model": {"name": ...},
 "predictions": [{"sent_id": int, "boxes": [[x, y, w, h], ...], "scores": [float, ...]}]}

Boxes are COCO xywh in the original image's pixels; `scores` may be omitted (every box then
scores 1.0). Every problem raises a SubmissionError naming the file and the sent_id or field.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import stat
import zlib
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from grefbench.errors import SubmissionError, shown
from grefbench.io import limits
from grefbench.io.atomic import atomic_open
from grefbench.io.documents import read_document

if TYPE_CHECKING:
    from grefbench.data.split import ReferSplit

FORMAT = "grefbench-boxes/1"
DERIVED_FROM_MASKS = "derived from masks"
_TOP_KEYS = {"format", "dataset", "split", "model", "predictions", "provenance"}
_REQUIRED_TOP_KEYS = ("format", "dataset", "split", "model", "predictions")
_ENTRY_KEYS = {"sent_id", "boxes", "scores"}
_FORMAT_FIELD = re.compile(rb'"format"\s*:\s*"([^"\\]*)"')
_NUMBER = (int, float)


@dataclass
class BoxFile:
    """A parsed box file; `counts[i]` rows of `boxes` and `scores` belong to `sent_ids[i]`, in file order."""

    path: Path
    dataset: str
    split: str
    model: dict[str, Any]
    sent_ids: np.ndarray  # int64 [N]
    counts: np.ndarray  # int64 [N]
    boxes: np.ndarray  # float64 [P, 4], COCO xywh
    scores: np.ndarray  # float64 [P]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.sent_ids.size)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    @property
    def derived_from_masks(self) -> bool:
        return self.model.get("boxes") == DERIVED_FROM_MASKS


def _fail(path: Path, message: str) -> SubmissionError:
    return SubmissionError(f"{path}: {message}")


def sniff_format(path: str | Path) -> str | None:
    """The 'format' field of a prediction file, from its first 64 KiB (the whole file only when the
    field is not there); None when the file has none or cannot be read (its reader then says why)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block; the reader refuses it
            return None
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
            whole = len(head) < 1 << 16 and not handle.read(1)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1 << 16)
        except zlib.error:
            return None
        whole = False
    found = _FORMAT_FIELD.search(head)
    if found:
        return found.group(1).decode("utf-8", "replace")
    if whole:
        return None
    try:  # a writer that puts 'format' after the predictions
        _, document = read_document(path)
    except SubmissionError:
        return None
    value = document.get("format") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _box_problem(box: Any) -> str | None:
    """Why `box` is not a valid [x, y, w, h], or None."""
    if not isinstance(box, list) or len(box) != 4 or not all(type(v) in _NUMBER for v in box):
        return f"must be [x, y, w, h] with 4 numbers, found {shown(box)}"
    for name, value in zip(("x", "y", "width", "height"), box):
        if not math.isfinite(value):
            return f"has a non-finite {name} ({value})"
        if value < 0:
            return f"has a negative {name} ({value})"
    return None


def parse_boxes(path: Path, document: Any) -> BoxFile:
    """Check the structure, types and values of a parsed box document."""
    if not isinstance(document, dict):
        raise _fail(path, f"expected a JSON object at the top level, found {type(document).__name__}")
    for key in _REQUIRED_TOP_KEYS:
        if key not in document:
            raise _fail(path, f"missing the field {key!r}")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown field {shown(unknown[0])} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    if document["format"] != FORMAT:
        raise _fail(path, f"field 'format' is {shown(document['format'])}, expected {FORMAT!r}")
    for key in ("dataset", "split"):
        if not isinstance(document[key], str):
            raise _fail(path, f"field {key!r} must be a string")
    model = document["model"]
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not model["name"]:
        raise _fail(path, "field 'model' must be an object with a non-empty string 'name'")
    predictions = document["predictions"]
    if not isinstance(predictions, list):
        raise _fail(path, "field 'predictions' must be a list")
    provenance = document.get("provenance", {})
    if not isinstance(provenance, dict):
        raise _fail(path, "field 'provenance' must be an object")
    try:  # both are copied into every output
        limits.nesting(model, "field 'model'")
        limits.nesting(provenance, "field 'provenance'")
    except limits.Refused as error:
        raise _fail(path, str(error)) from None

    fast = _parse_entries_fast(predictions)
    if fast is None:  # something is wrong: find and name it
        fast = _parse_entries(path, predictions)
    sent_ids, counts, boxes, scores = fast
    if sent_ids.size:
        unique, repeats = np.unique(sent_ids, return_counts=True)
        if (repeats > 1).any():
            raise _fail(path, f"sent_id {int(unique[np.argmax(repeats > 1)])} appears more than once")
    return BoxFile(path, document["dataset"], document["split"], dict(model), sent_ids, counts, boxes, scores,
                   provenance)


_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _parse_entries_fast(predictions: list) -> _Columns | None:
    """The columns of well-formed entries, checked in bulk; None at the first doubt."""
    if not set(map(type, predictions)) <= {dict} or not set().union(*map(dict.keys, predictions)) <= _ENTRY_KEYS:
        return None
    try:
        sent_ids = list(map(itemgetter("sent_id"), predictions))
        box_lists = list(map(itemgetter("boxes"), predictions))
    except KeyError:
        return None
    if not set(map(type, sent_ids)) <= {int} or not set(map(type, box_lists)) <= {list}:
        return None
    counts = np.fromiter(map(len, box_lists), dtype=np.int64, count=len(box_lists))
    flat_boxes = list(chain.from_iterable(box_lists))
    if not set(map(type, flat_boxes)) <= {list} or not set(map(len, flat_boxes)) <= {4}:
        return None
    if not set(map(type, chain.from_iterable(flat_boxes))) <= {int, float}:
        return None
    score_lists = [e["scores"] if "scores" in e else [1.0] * n for e, n in zip(predictions, counts.tolist())]
    if not set(map(type, score_lists)) <= {list} or list(map(len, score_lists)) != counts.tolist():
        return None
    flat_scores = list(chain.from_iterable(score_lists))
    if not set(map(type, flat_scores)) <= {int, float}:
        return None
    try:
        ids = np.array(sent_ids, dtype=np.int64)
    except OverflowError:
        return None
    boxes = np.fromiter(chain.from_iterable(flat_boxes), dtype=np.float64, count=4 * len(flat_boxes)).reshape(-1, 4)
    scores = np.fromiter(flat_scores, dtype=np.float64, count=len(flat_scores))
    if not (np.isfinite(boxes).all() and (boxes >= 0).all() and np.isfinite(scores).all()
            and ((scores >= 0) & (scores <= 1)).all()):
        return None
    return ids, counts, boxes, scores


def _parse_entries(path: Path, predictions: list) -> _Columns:
    """The columns of the entries, checked one by one (raises naming the first problem)."""
    n = len(predictions)
    sent_ids = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    all_boxes: list[list] = []
    all_scores: list[float] = []
    for i, entry in enumerate(predictions):
        where = f"predictions[{i}]"
        if not isinstance(entry, dict):
            raise _fail(path, f"{where} must be an object")
        try:
            sent_id = limits.integer(entry.get("sent_id"), "'sent_id'")
        except limits.Refused as error:
            raise _fail(path, f"{where}: {error}") from None
        where = f"sent_id {sent_id}"
        extra = set(entry) - _ENTRY_KEYS
        if extra:
            raise _fail(path, f"{where}: unknown field {shown(sorted(extra)[0])} (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
        boxes = entry.get("boxes")
        if not isinstance(boxes, list):
            raise _fail(path, f"{where}: 'boxes' must be a list of [x, y, w, h] (an empty list for no target), "
                              f"found {shown(boxes)}")
        for j, box in enumerate(boxes):
            problem = _box_problem(box)
            if problem is not None:
                raise _fail(path, f"{where}: boxes[{j}] {problem}")
        scores = entry.get("scores")
        if scores is None:
            if "scores" in entry:
                raise _fail(path, f"{where}: 'scores' must be a list of numbers in [0, 1] (or left out), found null")
            scores = [1.0] * len(boxes)
        elif not isinstance(scores, list):
            raise _fail(path, f"{where}: 'scores' must be a list of numbers in [0, 1], found {shown(scores)}")
        elif len(scores) != len(boxes):
            raise _fail(path, f"{where}: 'scores' has {len(scores)} values for {len(boxes)} boxes")
        else:
            for j, score in enumerate(scores):
                if type(score) not in _NUMBER or not (math.isfinite(score) and 0 <= score <= 1):
                    raise _fail(path, f"{where}: scores[{j}] must be a finite number in [0, 1], found {shown(score)}")
        sent_ids[i] = sent_id
        counts[i] = len(boxes)
        all_boxes.extend(boxes)
        all_scores.extend(scores)
    return sent_ids, counts, np.array(all_boxes, dtype=np.float64).reshape(-1, 4), np.array(all_scores, dtype=np.float64)


def read_boxes(path: str | Path) -> BoxFile:
    """Read and validate a box file on its own (format, types, values)."""
    return parse_boxes(*read_document(path))


def check_boxes_against_split(boxes: BoxFile, split: ReferSplit) -> np.ndarray:
    """Check that the file covers exactly `split`; returns, per record of the split, its entry's index."""
    split_ids = np.fromiter((r.sent_id for r in split.records), dtype=np.int64, count=len(split.records))
    return check_boxes_against_ids(boxes, split_ids, split.dataset, split.split)


def check_boxes_against_ids(boxes: BoxFile, split_ids: np.ndarray, dataset: str, split_name: str) -> np.ndarray:
    """`check_boxes_against_split` given the split's sent_ids in record order."""
    path = boxes.path
    if boxes.dataset != dataset:
        raise _fail(path, f"field 'dataset' is {shown(boxes.dataset)} but {dataset!r} is being scored")
    if boxes.split != split_name:
        raise _fail(path, f"field 'split' is {shown(boxes.split)} but split {split_name!r} is being scored")
    ranked = np.argsort(split_ids, kind="stable")
    place = np.searchsorted(split_ids[ranked], boxes.sent_ids).clip(0, max(len(split_ids) - 1, 0))
    known = split_ids[ranked][place] == boxes.sent_ids if len(split_ids) else np.zeros(len(boxes), dtype=bool)
    if not known.all():
        sent_id = int(boxes.sent_ids[np.argmin(known)])
        raise _fail(path, f"sent_id {sent_id} is not a sentence of {dataset} {split_name}")
    order = np.full(len(split_ids), -1, dtype=np.int64)
    order[ranked[place]] = np.arange(len(boxes), dtype=np.int64)  # sent_ids are unique in the file
    missing = np.flatnonzero(order < 0)
    if missing.size:
        first = [str(v) for v in split_ids[missing[:5]].tolist()]
        more = f" and {missing.size - len(first)} more" if missing.size > len(first) else ""
        raise _fail(path, f"missing predictions for {missing.size} sentences of {split_name}: "
                          f"sent_id {', '.join(first)}{more}")
    return order


def in_split_order(boxes: BoxFile, order: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes, scores, counts) rearranged so that entry `order[i]` comes i-th."""
    offsets = boxes.offsets
    counts = boxes.counts[order]
    starts = offsets[order]
    rows = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    return boxes.boxes[rows], boxes.scores[rows], counts


def write_boxes(path: str | Path, *, dataset: str, split: str, model: dict[str, Any],
                entries: Iterable[dict[str, Any]], provenance: dict[str, Any] | None = None) -> Path:
    """Write a box file atomically (gzipped when the name ends in .gz)."""
    path = Path(path)
    document = {"format": FORMAT, "dataset": dataset, "split": split, "model": model,
                "provenance": provenance or {}, "predictions": list(entries)}
    payload = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    with atomic_open(path, "wb") as handle:
        handle.write(gzip.compress(payload, mtime=0) if path.name.endswith(".gz") else payload)
    return path
