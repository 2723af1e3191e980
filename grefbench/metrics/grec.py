"""GREC metrics with the semantics of the official gRefCOCO evaluator (`RefExpEvaluator.summarize`).

Per sentence: boxes with score >= 0.7 are kept; they are matched greedily to the target boxes by
generalized IoU >= 0.5 (`box_matching`); TP = matches, FP = kept - TP, FN = targets - TP,
F1 = 2TP / (2TP + FP + FN). A target sentence is correct when F1 = 1; a no-target sentence when
nothing is kept. Pr@(F1=1,IoU>=0.5) = correct / sentences, N-acc = no-target sentences with
nothing kept / no-target sentences, T-acc = target sentences with a kept box / target sentences;
all in percent, None where undefined (the official code divides by zero there).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from grefbench.metrics.box_iou import BOX_IOU_KINDS, xywh_to_xyxy
from grefbench.metrics.box_matching import greedy_match_counts
from grefbench.metrics.evaluator import TARGET_KINDS, target_kind

PRECISION_NAME = "Pr@(F1=1,IoU>=0.5)"
GREC_METRIC_NAMES = (PRECISION_NAME, "N-acc", "T-acc", "num_expressions")
SCORE_THRESHOLD = 0.7

# Outcome codes of a sentence (also its failure class), and their names.
CORRECT, MISSED_NO_TARGET, FALSE_NO_TARGET, MISSING_BOXES, EXTRA_BOXES, MISLOCALISED = range(6)
GREC_OUTCOME_NAMES = ("correct", "missed no-target", "false no-target", "missing boxes", "extra boxes", "mislocalised")


@dataclass
class BoxOutcomes:
    """Per-sentence results of one update."""

    kept: np.ndarray  # int64, boxes with score >= the threshold
    tp: np.ndarray  # int64
    fp: np.ndarray  # int64
    fn: np.ndarray  # int64
    f1: np.ndarray  # float64 (a no-target sentence: 1 when nothing is kept, else 0)
    correct: np.ndarray  # bool
    outcome: np.ndarray  # int8 codes, see GREC_OUTCOME_NAMES
    no_target: np.ndarray  # bool, the ground truth


def _outcome(no_target: np.ndarray, kept: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    target = ~no_target
    code = np.full(no_target.shape, CORRECT, dtype=np.int8)
    code[no_target & (kept > 0)] = MISSED_NO_TARGET
    code[target & (kept == 0)] = FALSE_NO_TARGET
    found = target & (kept > 0)
    code[found & (fp == 0) & (fn > 0)] = MISSING_BOXES
    code[found & (fp > 0) & (fn == 0)] = EXTRA_BOXES
    code[found & (fp > 0) & (fn > 0)] = MISLOCALISED
    return code


def match_sentences(pred_boxes, pred_scores, pred_counts, gt_boxes, gt_counts, gt_no_target, *,
                    score_threshold: float = SCORE_THRESHOLD, box_iou: str = "giou") -> BoxOutcomes:
    """Apply the official rules to a batch of sentences.

    `pred_boxes` [P, 4] and `gt_boxes` [G, 4] are COCO xywh, grouped by sentence in order
    (`pred_counts[i]` and `gt_counts[i]` of them for sentence i); `pred_scores` [P] float.
    """
    if box_iou not in BOX_IOU_KINDS:
        raise ValueError(f"box_iou {box_iou!r} is not one of {', '.join(BOX_IOU_KINDS)}")
    pred_counts = np.asarray(pred_counts, dtype=np.int64)
    gt_counts = np.asarray(gt_counts, dtype=np.int64)
    no_target = np.asarray(gt_no_target, dtype=bool)
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    pred_xyxy = xywh_to_xyxy(pred_boxes)
    gt_xyxy = xywh_to_xyxy(gt_boxes)
    if not (pred_counts.shape == gt_counts.shape == no_target.shape) or pred_counts.ndim != 1:
        raise ValueError("pred_counts, gt_counts and gt_no_target must be 1-D arrays of one length")
    if pred_counts.sum() != len(pred_xyxy) or scores.size != len(pred_xyxy) or gt_counts.sum() != len(gt_xyxy):
        raise ValueError("box counts do not add up to the number of boxes and scores given")
    if (gt_counts[no_target] != 0).any() or (gt_counts[~no_target] == 0).any():
        raise ValueError("a no-target sentence has target boxes, or a target sentence has none")

    sentence = np.repeat(np.arange(pred_counts.size), pred_counts)
    keep = scores >= score_threshold
    kept_sentence = sentence[keep]
    kept_boxes = pred_xyxy[keep]
    # The official order: by falling score, then by falling box coordinates (a sort of (score, box) tuples).
    order = np.lexsort((-kept_boxes[:, 3], -kept_boxes[:, 2], -kept_boxes[:, 1], -kept_boxes[:, 0],
                        -scores[keep], kept_sentence))
    kept = np.bincount(kept_sentence, minlength=pred_counts.size).astype(np.int64)
    # No-target sentences take no part in matching (the official code never matches them).
    in_target = ~no_target[kept_sentence[order]]
    tp = greedy_match_counts(kept_boxes[order][in_target], np.where(no_target, 0, kept), gt_xyxy, gt_counts, box_iou)
    fp = kept - tp
    fn = gt_counts - tp
    f1 = np.zeros(pred_counts.size, dtype=np.float64)
    target = ~no_target
    f1[target] = 2 * tp[target] / (2 * tp[target] + fp[target] + fn[target])
    f1[no_target] = (kept[no_target] == 0).astype(np.float64)
    correct = np.where(no_target, kept == 0, (fp == 0) & (fn == 0))
    return BoxOutcomes(kept, tp, fp, fn, f1, correct, _outcome(no_target, kept, fp, fn), no_target)


def _kept_sum(values: np.ndarray) -> int:
    return int(np.asarray(values, dtype=np.int64).sum())


@dataclass
class GrecState:
    """Sufficient statistics of the GREC metrics (integer sums; `merge` is exact)."""

    count: int = 0
    correct: int = 0
    no_target: int = 0
    no_target_correct: int = 0
    target: int = 0
    target_kept: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, outcomes: BoxOutcomes, selection: np.ndarray | None = None) -> None:
        """Accumulate the sentences of `outcomes` (optionally only where `selection` is true)."""
        if selection is not None:
            outcomes = BoxOutcomes(*(getattr(outcomes, f.name)[selection] for f in fields(BoxOutcomes)))
        no_target = outcomes.no_target
        self.count += int(no_target.size)
        self.correct += _kept_sum(outcomes.correct)
        self.no_target += _kept_sum(no_target)
        self.no_target_correct += _kept_sum(no_target & (outcomes.kept == 0))
        self.target += _kept_sum(~no_target)
        self.target_kept += _kept_sum(~no_target & (outcomes.kept > 0))
        self.tp += _kept_sum(outcomes.tp)
        self.fp += _kept_sum(outcomes.fp)
        self.fn += _kept_sum(outcomes.fn)

    def merge(self, other: GrecState) -> GrecState:
        """Add `other`'s sums into this state (and return it)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def compute(self) -> dict[str, Any]:
        """The metrics in percent (None where undefined), with the counts behind them."""
        def percent(numerator: int, denominator: int) -> float | None:
            return float(Fraction(numerator) * 100 / denominator) if denominator else None

        return {
            PRECISION_NAME: percent(self.correct, self.count),
            "N-acc": percent(self.no_target_correct, self.no_target),
            "T-acc": percent(self.target_kept, self.target),
            "num_expressions": self.count,
            "counts": {f.name: getattr(self, f.name) for f in fields(self) if f.name != "count"},
        }

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class GrecEvaluator:
    """Streaming GREC evaluator: `update` with batches, `merge` shards, `compute` the metrics.

    Keeps overall sums and sums per target kind (no-target, single, multi); with
    `keep_outcomes=True` also the per-sentence results (for the per-sentence table).
    """

    def __init__(self, score_threshold: float = SCORE_THRESHOLD, box_iou: str = "giou",
                 keep_outcomes: bool = False) -> None:
        if box_iou not in BOX_IOU_KINDS:
            raise ValueError(f"box_iou {box_iou!r} is not one of {', '.join(BOX_IOU_KINDS)}")
        self.score_threshold = score_threshold
        self.box_iou = box_iou
        self.overall = GrecState()
        self.by_kind = {kind: GrecState() for kind in TARGET_KINDS}
        self.keep_outcomes = keep_outcomes
        self._kept: list[tuple[np.ndarray, BoxOutcomes]] = []

    def update(self, pred_boxes, pred_scores, pred_counts, gt_boxes, gt_counts, gt_no_target,
               sent_ids=None) -> BoxOutcomes:
        """Add a batch of sentences (see `match_sentences` for the layout); returns their outcomes."""
        outcomes = match_sentences(pred_boxes, pred_scores, pred_counts, gt_boxes, gt_counts, gt_no_target,
                                   score_threshold=self.score_threshold, box_iou=self.box_iou)
        self.overall.add(outcomes)
        kinds = target_kind(outcomes.no_target, gt_counts)
        for index, kind in enumerate(TARGET_KINDS):
            selected = kinds == index
            if selected.any():
                self.by_kind[kind].add(outcomes, selected)
        if self.keep_outcomes:
            ids = np.asarray(sent_ids if sent_ids is not None else np.full(kinds.size, -1), dtype=np.int64)
            self._kept.append((ids, outcomes))
        return outcomes

    def merge(self, other: GrecEvaluator) -> GrecEvaluator:
        """Add another evaluator's sums (same options) into this one."""
        if (other.score_threshold, other.box_iou) != (self.score_threshold, self.box_iou):
            raise ValueError("cannot merge GREC evaluators with different options")
        self.overall.merge(other.overall)
        for kind in TARGET_KINDS:
            self.by_kind[kind].merge(other.by_kind[kind])
        self._kept.extend(other._kept)
        return self

    def compute(self) -> dict[str, Any]:
        """Overall metrics (with their counts)."""
        return self.overall.compute()

    def breakdown(self) -> dict[str, dict[str, Any]]:
        """Metrics per target kind."""
        return {kind: state.compute() for kind, state in self.by_kind.items()}

    def outcomes(self) -> tuple[np.ndarray, BoxOutcomes]:
        """All kept per-sentence results, concatenated: (sent_ids, outcomes)."""
        if not self._kept:
            empty = np.zeros(0, dtype=np.int64)
            return empty, BoxOutcomes(empty, empty, empty, empty, np.zeros(0), np.zeros(0, bool),
                                      np.zeros(0, np.int8), np.zeros(0, bool))
        ids = np.concatenate([ids for ids, _ in self._kept])
        parts = [o for _, o in self._kept]
        return ids, BoxOutcomes(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(BoxOutcomes)))


def compute_grec_metrics(pred_boxes: Sequence[Sequence], pred_scores: Sequence[Sequence] | None,
                         gt_boxes: Sequence[Sequence], *, score_threshold: float = SCORE_THRESHOLD,
                         box_iou: str = "giou") -> dict[str, Any]:
    """One-shot form on per-sentence lists of xywh boxes (an empty target list is a no-target sentence)."""
    pred_counts = np.array([len(b) for b in pred_boxes], dtype=np.int64)
    gt_counts = np.array([len(b) for b in gt_boxes], dtype=np.int64)
    flat_pred = np.array([box for boxes in pred_boxes for box in boxes], dtype=np.float64).reshape(-1, 4)
    flat_gt = np.array([box for boxes in gt_boxes for box in boxes], dtype=np.float64).reshape(-1, 4)
    if pred_scores is None:
        scores = np.ones(len(flat_pred))
    else:
        scores = np.array([s for sentence in pred_scores for s in sentence], dtype=np.float64)
    evaluator = GrecEvaluator(score_threshold, box_iou)
    evaluator.update(flat_pred, scores, pred_counts, flat_gt, gt_counts, gt_counts == 0)
    return {**evaluator.compute(), "breakdown": evaluator.breakdown()}
