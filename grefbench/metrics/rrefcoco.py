"""R-RefCOCO metrics with the semantics of robust-ref-seg's `utils/validation.py` (`validate`).

Per ref (one step of the official loop, batch size 1), in the ref's sentence order:
- positive sentences: I, U and IoU = I / U in float32; the ref's I and U are float32 sums and its
  IoU is the float32 running sum of its sentences' IoUs divided by their number.
- Pr@X counts, for every positive sentence, whether the *running float32 sum* of the IoUs of its
  ref so far is >= float32(X) (the official code compares the accumulator, not the sentence's
  IoU; a quirk kept on purpose: "fixing" it moves Pr@ by 3-25 points).
- negative sentences: FP when the predicted mask has any foreground pixel, else TN;
  r = TN / (TN + FP); rIoU = I / (U + predicted pixels of the FP negatives).
mIoU, r and rIoU average the per-ref values (float64, in ref order); oIoU = ΣI / ΣU over positive
sentences only. All in percent.
Where the official code gives NaN grefbench answers: a positive with an empty union scores IoU 0
(official: 0/0 poisons the ref), a ref without positive sentences is left out of mIoU, a ref
without negative sentences is left out of r, a ref whose rIoU is 0/0 is left out of rIoU; a
metric with nothing to average is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

PR_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
METRIC_NAMES = ("mIoU", "oIoU", "rIoU", "r", *(f"Pr@{t}" for t in PR_THRESHOLDS))
_THRESHOLDS32 = tuple(np.float32(t) for t in PR_THRESHOLDS)


@dataclass
class RRefCocoSentences:
    """Per-sentence values as the official loop sees them (float32 IoU and the running sum)."""

    iou: np.ndarray  # float32; 0 for negatives
    running_sum: np.ndarray  # float32 accumulator of the ref after this sentence; 0 for negatives


def rrefcoco_metrics(ref_ids: Sequence[int], positive: Sequence[bool], intersection: np.ndarray,
                     union: np.ndarray, pred_area: np.ndarray) -> tuple[dict[str, Any], RRefCocoSentences]:
    """Official R-RefCOCO metrics (percent) and counts; sentences of one ref must be contiguous."""
    ref_ids = np.asarray(ref_ids, dtype=np.int64)
    positive = np.asarray(positive, dtype=bool)
    intersection = np.asarray(intersection, dtype=np.int64)
    union = np.asarray(union, dtype=np.int64)
    pred_area = np.asarray(pred_area, dtype=np.int64)
    n = ref_ids.size
    iou = np.zeros(n, dtype=np.float32)
    running = np.zeros(n, dtype=np.float32)
    correct = [0] * len(PR_THRESHOLDS)
    sums = {"I": 0.0, "U": 0.0, "mIoU": 0.0, "r": 0.0, "rIoU": 0.0}
    counted = {"mIoU": 0, "r": 0, "rIoU": 0}
    starts = np.flatnonzero(np.concatenate(([True], ref_ids[1:] != ref_ids[:-1]))) if n else np.zeros(0, np.int64)
    bounds = np.append(starts, n)
    for begin, end in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        ref_i = np.float32(0)
        ref_u = np.float32(0)
        total = np.float32(0)
        true_negatives = np.float32(0)
        false_positives = np.float32(0)
        for k in range(begin, end):
            if not positive[k]:
                continue
            i32, u32 = np.float32(intersection[k]), np.float32(union[k])
            iou[k] = i32 / u32 if union[k] else np.float32(0)
            ref_i = np.float32(ref_i + i32)
            ref_u = np.float32(ref_u + u32)
            total = np.float32(total + iou[k])
            running[k] = total
            for j, threshold in enumerate(_THRESHOLDS32):
                correct[j] += bool(total >= threshold)
        n_positive = int(positive[begin:end].sum())
        sums["I"] += float(ref_i)
        sums["U"] += float(ref_u)
        if n_positive:
            sums["mIoU"] += float(np.float32(total / np.float32(n_positive)))
            counted["mIoU"] += 1
        for k in range(begin, end):
            if positive[k]:
                continue
            if pred_area[k] > 0:
                false_positives = np.float32(false_positives + 1)
                ref_u = np.float32(ref_u + np.float32(pred_area[k]))
            else:
                true_negatives = np.float32(true_negatives + 1)
        if true_negatives + false_positives > 0:
            sums["r"] += float(np.float32(true_negatives / np.float32(true_negatives + false_positives)))
            counted["r"] += 1
        if ref_u > 0:
            sums["rIoU"] += float(np.float32(ref_i / ref_u))
            counted["rIoU"] += 1
    n_positive_total = int(positive.sum())
    metrics: dict[str, Any] = {
        "mIoU": 100 * (sums["mIoU"] / counted["mIoU"]) if counted["mIoU"] else None,
        "oIoU": 100 * sums["I"] / sums["U"] if sums["U"] else None,
        "rIoU": 100 * (sums["rIoU"] / counted["rIoU"]) if counted["rIoU"] else None,
        "r": 100 * (sums["r"] / counted["r"]) if counted["r"] else None,
    }
    for j, t in enumerate(PR_THRESHOLDS):
        metrics[f"Pr@{t}"] = correct[j] * 100.0 / n_positive_total if n_positive_total else None
    counts = {"sentences": int(n), "positive": n_positive_total, "negative": int(n - n_positive_total),
              "refs": int(starts.size), "refs_in_mIoU": counted["mIoU"], "refs_in_r": counted["r"],
              "refs_in_rIoU": counted["rIoU"]}
    return {**metrics, "counts": counts}, RRefCocoSentences(iou, running)
