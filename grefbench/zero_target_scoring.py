"""Scoring a prediction file on Ref-ZOM or R-RefCOCO*, each with its own official metrics.

Predictions are 480x480 masks keyed by sent_id (protocol refzom480 or rrefcoco480); a sentence
predicted `no_target` is an empty mask (a no-target entry may omit its mask, but may not carry
foreground). I and U are computed on RLE with pycocotools, against the ground truth built as the
official loaders build it (grefbench.data.zero_target_truth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.data.protocols import BENCHMARK_PROTOCOLS
from grefbench.data.zero_target import ZeroTargetSplit
from grefbench.data.zero_target_truth import load_truth
from grefbench.errors import SubmissionError
from grefbench.io import rle
from grefbench.io.predictions import PredictionFile, check_against_split
from grefbench.metrics import refzom, rrefcoco
from grefbench.provenance import provenance

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ZeroTargetScore:
    """Metrics, per-group breakdown, per-sentence values and provenance of one scored file."""

    metrics: dict[str, Any]
    breakdown: dict[str, dict[str, Any]]
    counts: dict[str, int]
    provenance: dict[str, Any]
    split: ZeroTargetSplit
    predictions: PredictionFile
    metric_names: tuple[str, ...]
    columns: dict[str, np.ndarray] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The document written by `--json`."""
        return {"metrics": self.metrics, "counts": self.counts, "breakdown": self.breakdown, "provenance": self.provenance}

    def per_sentence(self) -> pd.DataFrame:
        """One row per sentence: ids, sentence, group, I, U, predicted area, IoU (and the running sum)."""
        import pandas as pd

        records = self.split.records
        frame = {
            "sent_id": np.array([r.sent_id for r in records], dtype=np.int64),
            "ref_id": np.array([r.ref_id for r in records], dtype=np.int64),
            "image_id": np.array([r.image_id for r in records], dtype=np.int64),
            "sentence": [r.sentence for r in records],
            "group": [r.group for r in records],
        }
        return pd.DataFrame({**frame, **self.columns})


def _check_protocol(predictions: PredictionFile, split: ZeroTargetSplit, protocol: str | None) -> str:
    expected = BENCHMARK_PROTOCOLS[split.spec.family]
    if predictions.dataset != split.dataset:
        raise SubmissionError(f"{predictions.path}: field 'dataset' is {predictions.dataset!r} but "
                              f"{split.dataset!r} is being scored")
    for given, where in ((predictions.protocol, "field 'protocol'"), (protocol, "--protocol")):
        if given is not None and given != expected:
            raise SubmissionError(f"{predictions.path}: {where} is {given!r}, but {split.dataset} is scored only "
                                  f"in its official protocol {expected!r} (480x480 masks)")
    return expected


def predicted_masks(predictions: PredictionFile, order: np.ndarray, split: ZeroTargetSplit) -> tuple[list[dict], np.ndarray]:
    """The 480x480 predicted mask of every record (empty for no_target) and its foreground area."""
    masks: list[dict] = []
    for record, index in zip(split.records, order.tolist()):
        mask = predictions.masks[index]
        masks.append(mask if mask is not None else rle.empty(480, 480))
    areas = rle.area(masks).astype(np.int64) if masks else np.zeros(0, dtype=np.int64)
    flagged = predictions.no_target[order] & (areas > 0)
    if flagged.any():
        first = int(np.flatnonzero(flagged)[0])
        raise SubmissionError(f"{predictions.path}: sent_id {split.records[first].sent_id}: 'no_target' is true but "
                              f"its mask has {int(areas[first])} foreground pixels (in {predictions.protocol} "
                              "no_target means an empty mask)")
    return masks, areas


def check_submission(predictions: PredictionFile, split: ZeroTargetSplit, protocol: str | None = None) -> np.ndarray:
    """Check protocol, coverage, mask sizes and no_target flags; returns each record's prediction index."""
    _check_protocol(predictions, split, protocol)
    order = check_against_split(predictions, split, protocol)
    predicted_masks(predictions, order, split)
    return order


def score_zero_target(predictions: PredictionFile, split: ZeroTargetSplit, *, protocol: str | None = None,
                      use_cache: bool = True) -> ZeroTargetScore:
    """Score a parsed prediction file against a loaded Ref-ZOM / R-RefCOCO* split."""
    protocol_name = _check_protocol(predictions, split, protocol)
    order = check_against_split(predictions, split, protocol)
    masks, pred_area = predicted_masks(predictions, order, split)
    truth = load_truth(split, use_cache=use_cache)
    records = split.records
    gt_rles = [truth.rles[r.ref_id] for r in records]
    gt_area = np.array([truth.areas[r.ref_id] for r in records], dtype=np.int64)
    intersection = np.zeros(len(records), dtype=np.int64)
    both = np.flatnonzero((pred_area > 0) & (gt_area > 0))
    if both.size:
        intersection[both] = rle.intersection_areas([masks[i] for i in both], [gt_rles[i] for i in both])
    union = pred_area + gt_area - intersection
    groups = [r.group for r in records]
    columns: dict[str, np.ndarray] = {"intersection": intersection, "union": union, "pred_area": pred_area}
    if split.spec.family == "refzom":
        computed = refzom.refzom_metrics(groups, intersection, union, pred_area)
        names = refzom.METRIC_NAMES
        iou = refzom.sentence_iou(intersection, union)
        columns["iou"] = np.where(np.array(groups) == "zero", np.nan, iou)
        columns["correct"] = np.where(np.array(groups) == "zero", pred_area == 0, iou >= 0.5)
        breakdown = {}
        for group in ("zero", "one", "many"):
            chosen = np.array(groups) == group
            if chosen.any():
                part = refzom.refzom_metrics(np.array(groups)[chosen], intersection[chosen], union[chosen],
                                             pred_area[chosen])
                breakdown[group] = {**part, "counts": part["counts"]}
    else:
        positive = np.array([g == "positive" for g in groups], dtype=bool)
        computed, sentences = rrefcoco.rrefcoco_metrics([r.ref_id for r in records], positive, intersection,
                                                        union, pred_area)
        names = rrefcoco.METRIC_NAMES
        columns["iou"] = np.where(positive, sentences.iou, np.nan)
        columns["iou_running_sum"] = np.where(positive, sentences.running_sum, np.nan)
        columns["correct"] = np.where(positive, sentences.iou >= np.float32(0.5), pred_area == 0)
        breakdown = {}
    counts = computed.pop("counts")
    record = provenance(dataset=split.dataset, split=split.split, protocol=protocol_name, files=split.files,
                        predictions_file=str(predictions.path), model=predictions.model)
    return ZeroTargetScore(computed, breakdown, counts, record, split, predictions, names, columns)


def score_zero_target_file(path: Path, document: Any, data_root: str | Path | None, dataset: str, split: str,
                           *, protocol: str | None = None) -> ZeroTargetScore:
    """Parse a prediction document, load the benchmark split and score it."""
    from grefbench.data.catalog import resolve_root
    from grefbench.data.rrefcoco import load_zero_target_split
    from grefbench.io.predictions import parse_predictions

    predictions = parse_predictions(path, document)
    loaded = load_zero_target_split(resolve_root(dataset, data_root), dataset, split)
    return score_zero_target(predictions, loaded, protocol=protocol)


def metrics_table(result: ZeroTargetScore):
    """A rich table of the benchmark's own metrics: one row overall, one per group."""
    from rich import box
    from rich.table import Table

    from grefbench.console import _format

    title = (f"{result.split.dataset} {result.split.split} · protocol {result.predictions.protocol} · "
             f"{result.predictions.model['name']}")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("subset", style="bold", no_wrap=True, min_width=9)
    for name in result.metric_names:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("#sent", justify="right", no_wrap=True)
    table.add_row("all", *(_format(result.metrics.get(n)) for n in result.metric_names), str(result.counts["sentences"]))
    for group, values in result.breakdown.items():
        table.add_row(group, *(_format(values.get(n)) for n in result.metric_names), str(values["counts"]["sentences"]))
    return table
