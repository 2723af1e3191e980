"""Prediction files, format `grefbench-predictions/1`: reading with strict validation, and writing.

{"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val",
 "protocol": "native" | "rela480", "model": {"name": ..., optional metadata},
 "predictions": [{"sent_id": int, "no_target": bool, "mask": {"size": [h, w], "counts": str}}]}

`mask` is COCO compressed RLE and may be omitted when `no_target` is true (it is then empty).
Every problem raises a SubmissionError naming the file and the sent_id or field.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from grefbench.data.protocols import PROTOCOLS, get_protocol
from grefbench.errors import SubmissionError, shown
from grefbench.io import limits, rle
from grefbench.io.atomic import atomic_open
from grefbench.io.documents import read_document  # noqa: F401 (imported from here by callers)

if TYPE_CHECKING:
    from grefbench.data.split import ReferSplit

FORMAT = "grefbench-predictions/1"
_TOP_KEYS = {"format", "dataset", "split", "protocol", "model", "predictions", "provenance"}
_REQUIRED_TOP_KEYS = ("format", "dataset", "split", "protocol", "model", "predictions")
_ENTRY_KEYS = {"sent_id", "no_target", "mask", "no_target_score"}


@dataclass
class PredictionFile:
    """A parsed prediction file; entries are columns in file order."""

    path: Path
    dataset: str
    split: str
    protocol: str
    model: dict[str, Any]
    sent_ids: np.ndarray  # int64
    no_target: np.ndarray  # bool
    masks: list[dict | None]  # RLE with bytes counts (pycocotools form), or None when omitted
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.sent_ids.size)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the masks as three flat buffers (a worker process sends a parsed file back fast)."""
        state = dict(self.__dict__)
        masks = state.pop("masks")
        present = np.fromiter((m is not None for m in masks), dtype=bool, count=len(masks))
        state["_packed"] = (present, *rle.pack([m for m in masks if m is not None]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        present, *packed = state.pop("_packed")
        kept = iter(rle.unpack(*packed))
        state["masks"] = [next(kept) if flag else None for flag in present.tolist()]
        self.__dict__.update(state)


def _fail(path: Path, message: str) -> SubmissionError:
    return SubmissionError(f"{path}: {message}")


def parse_predictions(path: Path, document: Any) -> PredictionFile:
    """Check the structure and types of a parsed prediction document and every RLE in it."""
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
    for key in ("dataset", "split", "protocol"):
        if not isinstance(document[key], str):
            raise _fail(path, f"field {key!r} must be a string")
    if document["protocol"] not in PROTOCOLS:
        raise _fail(path, f"field 'protocol' is {shown(document['protocol'])}; expected one of {', '.join(PROTOCOLS)}")
    model = document["model"]
    if not isinstance(model, dict) or not isinstance(model.get("name"), str) or not model["name"]:
        raise _fail(path, "field 'model' must be an object with a non-empty string 'name'")
    predictions = document["predictions"]
    if not isinstance(predictions, list):
        raise _fail(path, "field 'predictions' must be a list")
    provenance = document.get("provenance", {})
    if not isinstance(provenance, dict):
        raise _fail(path, "field 'provenance' must be an object")
    try:  # both are copied into every output and sent between processes
        limits.nesting(model, "field 'model'")
        limits.nesting(provenance, "field 'provenance'")
    except limits.Refused as error:
        raise _fail(path, str(error)) from None

    n = len(predictions)
    sent_ids = np.empty(n, dtype=np.int64)
    no_target = np.empty(n, dtype=bool)
    masks: list[dict | None] = [None] * n
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
        flag = entry.get("no_target")
        if type(flag) is not bool:
            raise _fail(path, f"{where}: 'no_target' must be true or false, found {shown(flag)}")
        score = entry.get("no_target_score")
        if score is not None and (type(score) not in (int, float) or not 0 <= score <= 1):
            raise _fail(path, f"{where}: 'no_target_score' must be a number in [0, 1]")
        mask = entry.get("mask")
        if mask is None:
            if not flag:
                raise _fail(path, f"{where}: 'mask' is required when 'no_target' is false")
        else:
            masks[i] = _check_mask_fields(path, where, mask)
        sent_ids[i] = sent_id
        no_target[i] = flag

    if n:
        unique, counts = np.unique(sent_ids, return_counts=True)
        if (counts > 1).any():
            raise _fail(path, f"sent_id {int(unique[np.argmax(counts > 1)])} appears more than once")
    present = [i for i, m in enumerate(masks) if m is not None]
    problem = rle.check_counts(
        [masks[i]["counts"] for i in present],
        [masks[i]["size"][0] * masks[i]["size"][1] for i in present],
    )
    if problem is not None:
        raise _fail(path, f"sent_id {int(sent_ids[present[problem.index]])}: mask {problem.reason}")
    return PredictionFile(path, document["dataset"], document["split"], document["protocol"], dict(model),
                          sent_ids, no_target, masks, provenance)


def _check_mask_fields(path: Path, where: str, mask: Any) -> dict:
    if not isinstance(mask, dict):
        raise _fail(path, f"{where}: 'mask' must be an RLE object {{'size': [h, w], 'counts': str}}")
    size = mask.get("size")
    counts = mask.get("counts")
    try:
        limits.mask_size(size)
    except limits.Refused as error:
        raise _fail(path, f"{where}: {error}") from None
    if not isinstance(counts, str):
        raise _fail(path, f"{where}: mask 'counts' must be a COCO compressed RLE string")
    if not counts.isascii():
        raise _fail(path, f"{where}: mask counts has a character outside the RLE alphabet '0'..'o'")
    extra = set(mask) - {"size", "counts"}
    if extra:
        raise _fail(path, f"{where}: unknown mask field {shown(sorted(extra)[0])}")
    return {"size": size, "counts": counts.encode("ascii")}


def read_predictions(path: str | Path) -> PredictionFile:
    """Read and validate a prediction file on its own (format, types, RLE integrity)."""
    return parse_predictions(*read_document(path))


def check_against_split(predictions: PredictionFile, split: ReferSplit, protocol: str | None = None) -> np.ndarray:
    """Check that the file covers exactly `split` at the right mask sizes.

    Returns, for each record of the split, the index of its prediction in the file.
    """
    path = predictions.path
    if predictions.dataset != split.dataset:
        raise _fail(path, f"field 'dataset' is {shown(predictions.dataset)} but {split.dataset!r} is being scored")
    if predictions.split != split.split:
        raise _fail(path, f"field 'split' is {shown(predictions.split)} but split {split.split!r} is being scored")
    if protocol is not None and protocol != predictions.protocol:
        raise _fail(path, f"field 'protocol' is {shown(predictions.protocol)} but --protocol {protocol} was given")
    position = split.position
    order = np.full(len(split.records), -1, dtype=np.int64)
    for i, sent_id in enumerate(predictions.sent_ids.tolist()):
        where = position.get(sent_id)
        if where is None:
            raise _fail(path, f"sent_id {sent_id} is not a sentence of {split.dataset} {split.split}")
        order[where] = i
    missing = np.flatnonzero(order < 0)
    if missing.size:
        first = [str(split.records[i].sent_id) for i in missing[:5].tolist()]
        more = f" and {missing.size - len(first)} more" if missing.size > len(first) else ""
        raise _fail(path, f"missing predictions for {missing.size} sentences of {split.split}: sent_id {', '.join(first)}{more}")
    resolved = get_protocol(predictions.protocol)
    for record, index in zip(split.records, order.tolist()):
        mask = predictions.masks[index]
        if mask is not None:
            expected = list(resolved.mask_size(record.height, record.width))
            if mask["size"] != expected:
                raise _fail(
                    path,
                    f"sent_id {record.sent_id}: mask size {mask['size']} does not match {expected} "
                    f"(image {record.image_id} is {record.height}x{record.width}, protocol {resolved.name})",
                )
    return order


def write_predictions(
    path: str | Path,
    *,
    dataset: str,
    split: str,
    protocol: str,
    model: dict[str, Any],
    entries: Iterable[dict[str, Any]],
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write a prediction file atomically (gzipped when the name ends in .gz).

    Masks may hold bytes counts (grefbench's in-memory form); they are written as strings.
    """
    path = Path(path)
    entries = [{**entry, "mask": rle.as_str(entry["mask"])} if isinstance(entry.get("mask"), dict)
               and isinstance(entry["mask"].get("counts"), bytes) else entry for entry in entries]
    document = {
        "format": FORMAT,
        "dataset": dataset,
        "split": split,
        "protocol": protocol,
        "model": model,
        "provenance": provenance or {},
        "predictions": entries,
    }
    payload = json.dumps(document, separators=(",", ":")).encode()
    with atomic_open(path, "wb") as handle:
        handle.write(gzip.compress(payload, mtime=0) if path.name.endswith(".gz") else payload)
    return path
