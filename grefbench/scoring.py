"""Scoring a prediction file against a dataset split: the library function behind `grefbench score`.

I and U are computed on the RLE runs with pycocotools (no dense masks), in blocks, so memory
does not grow with the number of sentences beyond the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from grefbench.data.groundtruth import GroundTruth, load_ground_truth
from grefbench.data.split import ReferSplit, load_split
from grefbench.io import rle
from grefbench.io.predictions import (
    PredictionFile,
    check_against_split,
    read_predictions,
)
from grefbench.metrics.evaluator import (
    OUTCOME_NAMES,
    TARGET_KINDS,
    GresEvaluator,
    target_kind,
)
from grefbench.provenance import provenance

if TYPE_CHECKING:
    import pandas as pd

_BLOCK = 4096


@dataclass
class ScoreResult:
    """Metrics, per-kind breakdown and provenance of one scored prediction file."""

    metrics: dict[str, Any]
    breakdown: dict[str, dict[str, Any]]
    counts: dict[str, int]
    provenance: dict[str, Any]
    split: ReferSplit
    predictions: PredictionFile
    evaluator: GresEvaluator = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The document written by `--json`."""
        return {"metrics": self.metrics, "counts": self.counts, "breakdown": self.breakdown, "provenance": self.provenance}

    def per_sentence(self) -> pd.DataFrame:
        """One row per sentence (requires scoring with keep_per_sentence=True)."""
        return per_sentence_frame(self.split, self.evaluator, self.predictions)


def _split_metrics(computed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    counts = computed.pop("counts")
    return computed, counts


def sentence_intersection_union(
    predictions: PredictionFile, order: np.ndarray, split: ReferSplit, truth: GroundTruth, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Raw |pred ∩ gt| and |pred ∪ gt| for records [start, stop) of the split (RLE, no decoding)."""
    records = split.records[start:stop]
    masks = [predictions.masks[i] for i in order[start:stop].tolist()]
    gt_rles = [truth.rles[r.ref_id] for r in records]
    gt_area = np.fromiter((truth.areas[r.ref_id] for r in records), dtype=np.int64, count=len(records))
    present = [i for i, m in enumerate(masks) if m is not None]
    pred_area = np.zeros(len(records), dtype=np.int64)
    intersection = np.zeros(len(records), dtype=np.int64)
    if present:
        pred_area[present] = rle.area([masks[i] for i in present])
        overlap = [i for i in present if pred_area[i] and gt_area[i]]
        if overlap:
            intersection[overlap] = rle.intersection_areas([masks[i] for i in overlap], [gt_rles[i] for i in overlap])
    return intersection, pred_area + gt_area - intersection


def score_predictions(
    predictions: PredictionFile,
    split: ReferSplit,
    *,
    protocol: str | None = None,
    keep_per_sentence: bool = False,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScoreResult:
    """Score a parsed prediction file against a loaded split (validated against it first)."""
    order = check_against_split(predictions, split, protocol)
    protocol_name = predictions.protocol
    truth = load_ground_truth(split, protocol_name, cache_dir=cache_dir)
    evaluator = GresEvaluator(keep_outcomes=keep_per_sentence)
    for start in range(0, len(split.records), _BLOCK):
        stop = min(start + _BLOCK, len(split.records))
        records = split.records[start:stop]
        intersection, union = sentence_intersection_union(predictions, order, split, truth, start, stop)
        evaluator.update(
            intersection,
            union,
            [r.no_target for r in records],
            predictions.no_target[order[start:stop]],
            [r.n_targets for r in records],
            [r.sent_id for r in records],
        )
        if progress is not None:
            progress(stop - start)
    metrics, counts = _split_metrics(evaluator.compute())
    breakdown = {}
    for kind, values in evaluator.breakdown().items():
        kind_metrics, kind_counts = _split_metrics(values)
        breakdown[kind] = {**kind_metrics, "counts": kind_counts}
    record = provenance(
        dataset=split.dataset,
        split=split.split,
        protocol=protocol_name,
        files=split.files,
        predictions_file=str(predictions.path),
        model=predictions.model,
    )
    return ScoreResult(metrics, breakdown, counts, record, split, predictions, evaluator)


def score_file(
    predictions_path: str | Path,
    data_root: str | Path,
    dataset: str,
    split: str,
    *,
    protocol: str | None = None,
    keep_per_sentence: bool = False,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScoreResult:
    """Read, validate and score a prediction file against `dataset`/`split` under `data_root`."""
    predictions = read_predictions(predictions_path)
    loaded = load_split(data_root, dataset, split)
    return score_predictions(predictions, loaded, protocol=protocol, keep_per_sentence=keep_per_sentence,
                             cache_dir=cache_dir, progress=progress)


def per_sentence_frame(split: ReferSplit, evaluator: GresEvaluator, predictions: PredictionFile | None = None) -> pd.DataFrame:
    """The per-sentence table: ids, sentence, GT/predicted no-target, I, U, IoU, outcome, target kind."""
    import pandas as pd

    sent_ids, outcomes = evaluator.outcomes()
    position = split.position
    records = [split.records[position[s]] for s in sent_ids.tolist()]
    gt_nt = np.array([r.no_target for r in records], dtype=bool)
    n_targets = np.array([r.n_targets for r in records], dtype=np.int64)
    pred_nt = (outcomes.outcome == 0) | (outcomes.outcome == 2)
    return pd.DataFrame(
        {
            "sent_id": sent_ids,
            "ref_id": np.array([r.ref_id for r in records], dtype=np.int64),
            "image_id": np.array([r.image_id for r in records], dtype=np.int64),
            "sentence": [r.sentence for r in records],
            "gt_no_target": gt_nt,
            "pred_no_target": pred_nt,
            "n_targets": n_targets,
            "target_kind": pd.Categorical.from_codes(target_kind(gt_nt, n_targets), TARGET_KINDS),
            "intersection": outcomes.intersection,
            "union": outcomes.union,
            "iou": outcomes.iou,
            "outcome": pd.Categorical.from_codes(outcomes.outcome, OUTCOME_NAMES),
        }
    )
