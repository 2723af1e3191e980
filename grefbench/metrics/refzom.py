"""Ref-ZOM metrics with the semantics of RIS-DMMI's `test.py` (`evaluate`, `computeIoU`).

Zero-target sentences give only Acc: the share whose predicted mask has no foreground pixel.
One- and many-target sentences give only the IoU metrics: per sentence I and U as integers,
IoU = I / U in float64 (0 when U = 0, so an empty prediction of an empty ground truth scores 0),
oIoU = ΣI·100 / ΣU, mIoU = mean IoU (numpy's mean), Pr@t = share with IoU >= t. All in percent.
Where the official code divides by zero (no zero-target sentence: Acc is nan; no one/many
sentence: ZeroDivisionError) grefbench answers None.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

PR_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
METRIC_NAMES = ("oIoU", "mIoU", "Acc", *(f"Pr@{t}" for t in PR_THRESHOLDS))


def sentence_iou(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """float64 I / U per sentence, 0 where U is 0 (RIS-DMMI `if U == 0: this_iou = 0.0`)."""
    intersection = np.asarray(intersection, dtype=np.int64)
    union = np.asarray(union, dtype=np.int64)
    iou = np.zeros(intersection.shape, dtype=np.float64)
    nonzero = union > 0
    iou[nonzero] = intersection[nonzero] / union[nonzero]
    return iou


def refzom_metrics(groups: Sequence[str], intersection: np.ndarray, union: np.ndarray,
                   pred_area: np.ndarray) -> dict[str, Any]:
    """Official Ref-ZOM metrics (percent) and counts from per-sentence groups, I, U and predicted areas."""
    groups = np.asarray(groups, dtype=object)
    intersection = np.asarray(intersection, dtype=np.int64)
    union = np.asarray(union, dtype=np.int64)
    pred_area = np.asarray(pred_area, dtype=np.int64)
    zero = groups == "zero"
    targets = ~zero
    metrics: dict[str, Any] = {name: None for name in METRIC_NAMES}
    if zero.any():
        metrics["Acc"] = float(np.mean((pred_area[zero] == 0).astype(np.int64)) * 100)
    if targets.any():
        iou = sentence_iou(intersection[targets], union[targets])
        total_union = int(union[targets].sum())
        if total_union:
            metrics["oIoU"] = float(int(intersection[targets].sum()) * 100.0 / total_union)
        metrics["mIoU"] = float(np.mean(iou) * 100.0)
        for t in PR_THRESHOLDS:
            metrics[f"Pr@{t}"] = float(int((iou >= t).sum()) * 100.0 / iou.size)
    counts = {group: int((groups == group).sum()) for group in ("zero", "one", "many")}
    return {**metrics, "counts": {"sentences": int(groups.size), **counts}}
