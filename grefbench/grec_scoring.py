"""Scoring a box file (GREC) against a dataset split: the library function behind `grefbench score` for boxes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.data.gt_boxes import GroundTruthBoxes, cached_ground_truth_boxes, ground_truth_boxes
from grefbench.data.split import ReferSplit, load_split
from grefbench.errors import UsageError
from grefbench.io.boxes import DERIVED_FROM_MASKS, BoxFile, check_boxes_against_ids, in_split_order
from grefbench.metrics.box_iou import BOX_IOU_KINDS
from grefbench.metrics.evaluator import TARGET_KINDS, target_kind
from grefbench.metrics.grec import GREC_OUTCOME_NAMES, SCORE_THRESHOLD, GrecEvaluator
from grefbench.provenance import provenance

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class GrecScoreResult:
    """Metrics, per-kind breakdown and provenance of one scored box file."""

    metrics: dict[str, Any]
    counts: dict[str, int]
    breakdown: dict[str, dict[str, Any]]
    provenance: dict[str, Any]
    split: ReferSplit | None  # None when scored from the cached ground truth alone (no per-sentence table)
    predictions: BoxFile
    evaluator: GrecEvaluator = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The document written by `--json`."""
        return {"metrics": self.metrics, "breakdown": self.breakdown, "provenance": self.provenance}

    def per_sentence(self) -> pd.DataFrame:
        """One row per sentence (requires scoring with keep_per_sentence=True)."""
        if self.split is None:
            raise ValueError("per-sentence rows need the split: score with keep_per_sentence=True")
        return per_sentence_boxes_frame(self.split, self.evaluator)


def check_options(score_threshold: float, box_iou: str) -> None:
    """Refuse a score threshold outside [0, 1] or an unknown box IoU (before any work is done)."""
    if box_iou not in BOX_IOU_KINDS:
        raise UsageError(f"--box-iou must be one of {', '.join(BOX_IOU_KINDS)}, not {box_iou!r}")
    if not 0 <= score_threshold <= 1:
        raise UsageError(f"--score-threshold must be in [0, 1], not {score_threshold}")


def score_boxes(boxes: BoxFile, split: ReferSplit, *, score_threshold: float = SCORE_THRESHOLD,
                box_iou: str = "giou", keep_per_sentence: bool = False,
                truth: GroundTruthBoxes | None = None) -> GrecScoreResult:
    """Score a parsed box file against a loaded split (validated against it first)."""
    check_options(score_threshold, box_iou)
    truth = truth or ground_truth_boxes(split)
    return _score(boxes, truth, split.dataset, split.split, split.files, split, score_threshold=score_threshold,
                  box_iou=box_iou, keep_per_sentence=keep_per_sentence)


def _score(boxes: BoxFile, truth: GroundTruthBoxes, dataset: str, split_name: str, files: tuple,
           split: ReferSplit | None, *, score_threshold: float, box_iou: str,
           keep_per_sentence: bool) -> GrecScoreResult:
    order = check_boxes_against_ids(boxes, truth.sent_ids, dataset, split_name)
    pred_boxes, pred_scores, pred_counts = in_split_order(boxes, order)
    evaluator = GrecEvaluator(score_threshold, box_iou, keep_outcomes=keep_per_sentence)
    evaluator.update(pred_boxes, pred_scores, pred_counts, truth.boxes, truth.counts, truth.no_target,
                     truth.sent_ids if keep_per_sentence else None)
    metrics = evaluator.compute()
    counts = metrics.pop("counts")
    breakdown = {}
    for kind, values in evaluator.breakdown().items():
        kind_counts = values.pop("counts")
        breakdown[kind] = {**values, "counts": kind_counts}
    extra = {"boxes": DERIVED_FROM_MASKS} if boxes.derived_from_masks else {}
    record = provenance(dataset=dataset, split=split_name, files=files, task="GREC",
                        predictions_file=str(boxes.path), model=boxes.model,
                        grec_options={"score_threshold": score_threshold, "box_iou": box_iou,
                                      "match_threshold": 0.5,
                                      "official": score_threshold == SCORE_THRESHOLD and box_iou == "giou"},
                        **extra)
    del record["protocol"]  # boxes are in original image pixels: there is no protocol
    return GrecScoreResult(metrics, counts, breakdown, record, split, boxes, evaluator)


def score_box_file(path: str | Path, data_root: str | Path | None, dataset: str | None = None,
                   split: str | None = None, *, score_threshold: float = SCORE_THRESHOLD, box_iou: str = "giou",
                   keep_per_sentence: bool = False) -> GrecScoreResult:
    """Read, validate and score a box file against `dataset`/`split` (default: the file's own)."""
    from grefbench.data.catalog import get_dataset, resolve_root
    from grefbench.io.boxes import read_boxes

    check_options(score_threshold, box_iou)
    boxes = read_boxes(path)
    dataset = dataset or boxes.dataset
    split = split or boxes.split
    root = resolve_root(dataset, data_root)
    cached = None if keep_per_sentence else cached_ground_truth_boxes(root, dataset, split)
    if cached is not None:  # a repeated score: no split index, no instances.json
        truth, files = cached
        return _score(boxes, truth, get_dataset(dataset).name, split, files, None, score_threshold=score_threshold,
                      box_iou=box_iou, keep_per_sentence=False)
    loaded = load_split(root, dataset, split)
    return score_boxes(boxes, loaded, score_threshold=score_threshold, box_iou=box_iou,
                       keep_per_sentence=keep_per_sentence)


def per_sentence_boxes_frame(split: ReferSplit, evaluator: GrecEvaluator) -> pd.DataFrame:
    """The per-sentence table: ids, sentence, target kind, kept boxes, TP, FP, FN, F1, correct, outcome."""
    import pandas as pd

    sent_ids, outcomes = evaluator.outcomes()
    position = split.position
    records = [split.records[position[s]] for s in sent_ids.tolist()]
    n_targets = np.array([r.n_targets for r in records], dtype=np.int64)
    return pd.DataFrame(
        {
            "sent_id": sent_ids,
            "ref_id": np.array([r.ref_id for r in records], dtype=np.int64),
            "image_id": np.array([r.image_id for r in records], dtype=np.int64),
            "sentence": [r.sentence for r in records],
            "gt_no_target": outcomes.no_target,
            "n_targets": n_targets,
            "target_kind": pd.Categorical.from_codes(target_kind(outcomes.no_target, n_targets), TARGET_KINDS),
            "kept_boxes": outcomes.kept,
            "TP": outcomes.tp,
            "FP": outcomes.fp,
            "FN": outcomes.fn,
            "F1": outcomes.f1,
            "correct": outcomes.correct,
            "outcome": pd.Categorical.from_codes(outcomes.outcome, GREC_OUTCOME_NAMES),
        }
    )
