"""GRES metrics with the semantics of the official ReLA evaluator (`ReferEvaluator.evaluate`).

Per sentence ("positive" means no-target):
  TP  GT no-target, predicted no-target: IoU 1 for gIoU, adds nothing to cumulative I and U.
  FN  GT no-target, predicted target:    IoU 0, the predicted area is added to cumulative U.
  FP  GT target, predicted no-target:    I = 0 but U = |pred ∪ gt| with the mask as submitted; IoU 0.
  TN  GT target, predicted target:       ordinary I, U; IoU = I/U (0 when U = 0).
gIoU = mean IoU, cIoU = ΣI/ΣU, N-acc = TP/(TP+FN), T-acc = TN/(TN+FP), Pr@t = share of target
sentences with IoU >= t; all in percent. Undefined values are None (the official code prints 0).

The state is a handful of integer sums (the IoU sum is kept exactly, as an integer multiple of
2^-1130), so shards, processes and batch orders merge to identical results.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

PR_THRESHOLDS = (0.7, 0.8, 0.9)
METRIC_NAMES = ("cIoU", "gIoU", "N-acc", "T-acc", *(f"Pr@{t}" for t in PR_THRESHOLDS), "num_expressions")

# Outcome codes in per-sentence arrays, and their names.
TP, FN, FP, TN = 0, 1, 2, 3
OUTCOME_NAMES = ("TP", "FN", "FP", "TN")

# float64 values are integer multiples of 2^-1074; with 53 mantissa bits this scale keeps every
# IoU an exact integer.
_IOU_SCALE_BITS = 1130


def _exact_sum(values: np.ndarray) -> int:
    """Sum of float64 values in [0, 1], exactly, as an integer multiple of 2^-_IOU_SCALE_BITS."""
    values = values[values != 0]
    if values.size == 0:
        return 0
    mantissa, exponent = np.frexp(values)
    integers = np.ldexp(mantissa, 53).astype(np.int64)
    shifts = exponent.astype(np.int64) - 53 + _IOU_SCALE_BITS
    total = 0
    for shift in np.unique(shifts).tolist():
        total += int(integers[shifts == shift].sum(dtype=object)) << shift
    return total


@dataclass
class SentenceOutcomes:
    """Per-sentence results of one update: what the official rules made of each sentence."""

    intersection: np.ndarray  # int64, after the rules (0 for TP, FN, FP)
    union: np.ndarray  # int64, after the rules (0 for TP)
    iou: np.ndarray  # float64
    outcome: np.ndarray  # int8 codes TP/FN/FP/TN


def apply_rules(intersection, union, gt_no_target, pred_no_target) -> SentenceOutcomes:
    """Turn raw |pred ∩ gt| and |pred ∪ gt| into the official per-sentence I, U, IoU and outcome."""
    intersection = np.asarray(intersection, dtype=np.int64)
    union = np.asarray(union, dtype=np.int64)
    gt_nt = np.asarray(gt_no_target, dtype=bool)
    pred_nt = np.asarray(pred_no_target, dtype=bool)
    if not (intersection.shape == union.shape == gt_nt.shape == pred_nt.shape) or intersection.ndim != 1:
        raise ValueError("intersection, union, gt_no_target and pred_no_target must be 1-D arrays of one length")
    outcome = np.where(gt_nt, np.where(pred_nt, TP, FN), np.where(pred_nt, FP, TN)).astype(np.int8)
    kept_union = np.where(outcome == TP, 0, union)
    kept_intersection = np.where(outcome == TN, intersection, 0)
    iou = np.zeros(intersection.shape, dtype=np.float64)
    scored = (outcome == TN) & (kept_union > 0)
    iou[scored] = kept_intersection[scored] / kept_union[scored]
    iou[outcome == TP] = 1.0
    return SentenceOutcomes(kept_intersection, kept_union, iou, outcome)


@dataclass
class MetricState:
    """Sufficient statistics of the GRES metrics; `merge` is exact and order-independent."""

    count: int = 0
    intersection: int = 0
    union: int = 0
    iou_sum: int = 0  # exact, in units of 2^-_IOU_SCALE_BITS
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    precision_hits: list[int] = field(default_factory=lambda: [0] * len(PR_THRESHOLDS))

    def add(self, outcomes: SentenceOutcomes, selection: np.ndarray | None = None) -> None:
        """Accumulate the sentences of `outcomes` (optionally only where `selection` is true)."""
        if selection is not None:
            outcomes = SentenceOutcomes(*(getattr(outcomes, f.name)[selection] for f in fields(SentenceOutcomes)))
        codes = outcomes.outcome
        self.count += int(codes.size)
        self.intersection += int(outcomes.intersection.sum())
        self.union += int(outcomes.union.sum())
        self.iou_sum += _exact_sum(outcomes.iou)
        tallies = np.bincount(codes, minlength=4).tolist()
        self.tp += tallies[TP]
        self.fn += tallies[FN]
        self.fp += tallies[FP]
        self.tn += tallies[TN]
        target_iou = outcomes.iou[(codes == FP) | (codes == TN)]
        for i, threshold in enumerate(PR_THRESHOLDS):
            self.precision_hits[i] += int((target_iou >= threshold).sum())

    def merge(self, other: MetricState) -> MetricState:
        """Add `other`'s sums into this state (and return it)."""
        for name in ("count", "intersection", "union", "iou_sum", "tp", "fn", "fp", "tn"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.precision_hits = [a + b for a, b in zip(self.precision_hits, other.precision_hits)]
        return self

    @property
    def target_count(self) -> int:
        return self.fp + self.tn

    @property
    def no_target_count(self) -> int:
        return self.tp + self.fn

    def compute(self) -> dict[str, Any]:
        """The metrics in percent (None where undefined), with the counts behind them."""
        def percent(numerator: int | Fraction, denominator: int) -> float | None:
            return float(Fraction(numerator) * 100 / denominator) if denominator else None

        giou = percent(Fraction(self.iou_sum, 1 << _IOU_SCALE_BITS), self.count)
        metrics: dict[str, Any] = {
            "cIoU": percent(self.intersection, self.union),
            "gIoU": giou,
            "N-acc": percent(self.tp, self.tp + self.fn),
            "T-acc": percent(self.tn, self.tn + self.fp),
        }
        for threshold, hits in zip(PR_THRESHOLDS, self.precision_hits):
            metrics[f"Pr@{threshold}"] = percent(hits, self.target_count)
        metrics["num_expressions"] = self.count
        metrics["counts"] = {"TP": self.tp, "FN": self.fn, "FP": self.fp, "TN": self.tn,
                             "intersection": self.intersection, "union": self.union}
        return metrics

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for gathering across processes or saving)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricState:
        return cls(**{**data, "precision_hits": list(data["precision_hits"])})


TARGET_KINDS = ("no-target", "single", "multi")


def target_kind(gt_no_target, n_targets) -> np.ndarray:
    """0 no-target, 1 single-target, 2 multi-target (indices into TARGET_KINDS)."""
    gt_nt = np.asarray(gt_no_target, dtype=bool)
    n = np.asarray(n_targets, dtype=np.int64)
    return np.where(gt_nt, 0, np.where(n > 1, 2, 1)).astype(np.int8)


class GresEvaluator:
    """Streaming GRES evaluator: `update` with batches, `merge` shards, `compute` the metrics.

    Keeps overall sums and sums per target kind (no-target, single, multi). With
    `keep_outcomes=True` it also keeps the per-sentence arrays (for per-expression tables).
    """

    def __init__(self, keep_outcomes: bool = False) -> None:
        self.overall = MetricState()
        self.by_kind = {kind: MetricState() for kind in TARGET_KINDS}
        self.keep_outcomes = keep_outcomes
        self._kept: list[tuple[np.ndarray, SentenceOutcomes]] = []

    def update(self, intersection, union, gt_no_target, pred_no_target, n_targets=None, sent_ids=None) -> SentenceOutcomes:
        """Add a batch given raw |pred ∩ gt| and |pred ∪ gt| per sentence; returns what the rules made of it."""
        outcomes = apply_rules(intersection, union, gt_no_target, pred_no_target)
        self.overall.add(outcomes)
        if n_targets is None:
            n_targets = np.where(np.asarray(gt_no_target, dtype=bool), 0, 1)
        kinds = target_kind(gt_no_target, n_targets)
        for index, kind in enumerate(TARGET_KINDS):
            selected = kinds == index
            if selected.any():
                self.by_kind[kind].add(outcomes, selected)
        if self.keep_outcomes:
            ids = np.asarray(sent_ids if sent_ids is not None else np.full(kinds.size, -1), dtype=np.int64)
            self._kept.append((ids, outcomes))
        return outcomes

    def update_masks(self, pred_masks, gt_masks, pred_no_target, gt_no_target, n_targets=None, sent_ids=None) -> SentenceOutcomes:
        """Add a batch of dense binary masks [N, H, W] (numpy arrays or torch tensors)."""
        intersection, union = dense_intersection_union(pred_masks, gt_masks)
        return self.update(intersection, union, _to_numpy(gt_no_target), _to_numpy(pred_no_target), n_targets, sent_ids)

    def merge(self, other: GresEvaluator) -> GresEvaluator:
        """Add another evaluator's sums (e.g. from another process) into this one."""
        self.overall.merge(other.overall)
        for kind in TARGET_KINDS:
            self.by_kind[kind].merge(other.by_kind[kind])
        self._kept.extend(other._kept)
        return self

    def compute(self) -> dict[str, Any]:
        """Overall metrics."""
        return self.overall.compute()

    def breakdown(self) -> dict[str, dict[str, Any]]:
        """Metrics per target kind."""
        return {kind: state.compute() for kind, state in self.by_kind.items()}

    def outcomes(self) -> tuple[np.ndarray, SentenceOutcomes]:
        """All kept per-sentence results, concatenated: (sent_ids, outcomes)."""
        if not self._kept:
            empty = np.zeros(0, dtype=np.int64)
            return empty, SentenceOutcomes(empty, empty, np.zeros(0), np.zeros(0, dtype=np.int8))
        ids = np.concatenate([ids for ids, _ in self._kept])
        parts = [o for _, o in self._kept]
        return ids, SentenceOutcomes(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(SentenceOutcomes)))

    def state_dict(self) -> dict[str, Any]:
        """The sums as plain data (per-sentence arrays are not included)."""
        return {"overall": self.overall.to_dict(), "by_kind": {k: s.to_dict() for k, s in self.by_kind.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.overall = MetricState.from_dict(state["overall"])
        self.by_kind = {k: MetricState.from_dict(state["by_kind"][k]) for k in TARGET_KINDS}


def _to_numpy(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def dense_intersection_union(pred_masks, gt_masks) -> tuple[np.ndarray, np.ndarray]:
    """Per-mask |pred ∩ gt| and |pred ∪ gt| of binary [N, H, W] masks (numpy or torch)."""
    if hasattr(pred_masks, "detach"):
        pred = pred_masks.bool()
        gt = gt_masks.to(pred.device).bool()
        if pred.shape != gt.shape:
            raise ValueError(f"prediction masks {tuple(pred.shape)} and ground truth {tuple(gt.shape)} differ in shape")
        intersection = (pred & gt).flatten(1).sum(1)
        union = (pred | gt).flatten(1).sum(1)
        return intersection.cpu().numpy().astype(np.int64), union.cpu().numpy().astype(np.int64)
    pred = np.asarray(pred_masks, dtype=bool)
    gt = np.asarray(gt_masks, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction masks {pred.shape} and ground truth {gt.shape} differ in shape")
    pred = pred.reshape(pred.shape[0], -1)
    gt = gt.reshape(gt.shape[0], -1)
    return (pred & gt).sum(1).astype(np.int64), (pred | gt).sum(1).astype(np.int64)


def compute_metrics(
    intersection: Sequence[int],
    union: Sequence[int],
    gt_no_target: Sequence[bool],
    pred_no_target: Sequence[bool],
    n_targets: Sequence[int] | None = None,
) -> dict[str, Any]:
    """One-shot functional form: the overall metrics plus a `breakdown` by target kind."""
    evaluator = GresEvaluator()
    evaluator.update(intersection, union, gt_no_target, pred_no_target, n_targets)
    return {**evaluator.compute(), "breakdown": evaluator.breakdown()}
