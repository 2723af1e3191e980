"""One failure class per sentence, by precise rules applied in a fixed priority order.

The first rule that holds decides (so the classes are mutually exclusive and cover every sentence):

  GT no-target, predicted no-target (TP)                       -> correct
  GT no-target, predicted target (FN)                          -> missed no-target
  GT target, predicted no-target (FP)                          -> false no-target
  GT target, predicted target (TN), then on its IoU and instances:
    1. IoU >= 0.9                                              -> correct
    2. IoU <  0.1                                              -> wrong object
    3. >= 2 target instances, at least one covered and at least
       one missed                                              -> partial multi-target
    4. a non-target instance covered, or IoU < 0.5 with more
       predicted pixels outside the target than target pixels
       missed                                                  -> over-segmentation
    5. IoU >= 0.5                                              -> boundary
    6. otherwise (0.1 <= IoU < 0.5, missed pixels dominate)    -> under-segmentation

An instance is *covered* when at least half of its own mask (instance_rle, non-crowd) is predicted;
a target instance is *missed* otherwise. A non-target instance counts as covered on the part of it
outside the target mask (an object inside the target cannot be an extra instance).
"under-segmentation" is not in the issue's list; without it, a prediction inside one target covering
a third of it would have no class.
"""

from __future__ import annotations

import numpy as np

from grefbench.metrics.evaluator import FN, FP, TN, TP

CORRECT_IOU = 0.9
WRONG_OBJECT_IOU = 0.1
BOUNDARY_IOU = 0.5
COVERED_FRACTION = 0.5

FAILURE_CLASSES = (
    "correct",
    "missed no-target",
    "false no-target",
    "wrong object",
    "partial multi-target",
    "over-segmentation",
    "boundary",
    "under-segmentation",
)
(CORRECT, MISSED_NO_TARGET, FALSE_NO_TARGET, WRONG_OBJECT, PARTIAL_MULTI_TARGET, OVER_SEGMENTATION, BOUNDARY,
 UNDER_SEGMENTATION) = range(len(FAILURE_CLASSES))

DEFINITIONS = {
    "correct": "no-target predicted for a no-target expression, or IoU >= 0.9 with the target",
    "missed no-target": "a mask predicted where the expression refers to nothing",
    "false no-target": "no-target predicted although the expression has a target",
    "wrong object": "IoU < 0.1 with the target",
    "partial multi-target": "several targets: at least one covered (>= 50% of its pixels), at least one missed",
    "over-segmentation": "a non-target instance covered, or IoU < 0.5 with more extra pixels than missed ones",
    "boundary": "0.5 <= IoU < 0.9 with the right objects",
    "under-segmentation": "0.1 <= IoU < 0.5, mostly missing target pixels",
}


def classify(
    outcome: np.ndarray,
    iou: np.ndarray,
    intersection: np.ndarray,
    gt_area: np.ndarray,
    pred_area: np.ndarray,
    target_instances: np.ndarray,
    covered_targets: np.ndarray,
    extra_instances: np.ndarray,
) -> np.ndarray:
    """Failure class codes (indices into FAILURE_CLASSES) for per-sentence arrays.

    `outcome` and `iou` are the official per-sentence results (apply_rules); the areas are raw pixel
    counts at the protocol's mask size; the instance counts come from `instances.instance_coverage`.
    """
    outcome = np.asarray(outcome)
    iou = np.asarray(iou, dtype=np.float64)
    extra_pixels = np.asarray(pred_area, dtype=np.int64) - np.asarray(intersection, dtype=np.int64)
    missed_pixels = np.asarray(gt_area, dtype=np.int64) - np.asarray(intersection, dtype=np.int64)
    target_instances = np.asarray(target_instances)
    covered = np.asarray(covered_targets)
    scored = outcome == TN
    conditions = [
        outcome == TP,
        outcome == FN,
        outcome == FP,
        scored & (iou >= CORRECT_IOU),
        scored & (iou < WRONG_OBJECT_IOU),
        scored & (target_instances >= 2) & (covered >= 1) & (covered < target_instances),
        scored & ((np.asarray(extra_instances) >= 1) | ((iou < BOUNDARY_IOU) & (extra_pixels > missed_pixels))),
        scored & (iou >= BOUNDARY_IOU),
    ]
    choices = [CORRECT, MISSED_NO_TARGET, FALSE_NO_TARGET, CORRECT, WRONG_OBJECT, PARTIAL_MULTI_TARGET,
               OVER_SEGMENTATION, BOUNDARY]
    return np.select(conditions, choices, default=UNDER_SEGMENTATION).astype(np.int8)
