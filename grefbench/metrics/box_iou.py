"""Box overlap for GREC: xywh -> xyxy, and IoU / generalized IoU of many (prediction, target) pairs.

The arithmetic is float32 in the order of the official evaluator's `generalized_box_iou`
(MDETR `util/box_ops.py`, which runs on float32 tensors), so values on a threshold come out the
same bit for bit. Where that arithmetic divides 0 by 0 (two boxes of zero area, or an enclosing
box of zero area) the official value is NaN; here it is 0, a pair that does not match.
"""

from __future__ import annotations

import numpy as np

BOX_IOU_KINDS = ("giou", "iou")


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """COCO [x, y, w, h] (float64) -> float32 [x1, y1, x2, y2], summed in float64 as the official conversion."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    return corners.astype(np.float32)


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (the official NaN, see the module note)."""
    result = np.zeros(numerator.shape, dtype=np.float32)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


def paired_box_iou(pred: np.ndarray, gt: np.ndarray, kind: str = "giou") -> np.ndarray:
    """IoU or generalized IoU of row i of `pred` with row i of `gt` (float32 xyxy [P, 4] each)."""
    if kind not in BOX_IOU_KINDS:
        raise ValueError(f"box IoU kind {kind!r} is not one of {', '.join(BOX_IOU_KINDS)}")
    pred = np.asarray(pred, dtype=np.float32)
    gt = np.asarray(gt, dtype=np.float32)
    inner_wh = np.maximum(np.minimum(pred[:, 2:], gt[:, 2:]) - np.maximum(pred[:, :2], gt[:, :2]), np.float32(0))
    intersection = inner_wh[:, 0] * inner_wh[:, 1]
    union = (_area(pred) + _area(gt)) - intersection
    iou = _divide(intersection, union)
    if kind == "iou":
        return iou
    outer_wh = np.maximum(np.maximum(pred[:, 2:], gt[:, 2:]) - np.minimum(pred[:, :2], gt[:, :2]), np.float32(0))
    enclosing = outer_wh[:, 0] * outer_wh[:, 1]
    return iou - _divide(enclosing - union, enclosing)


def pairwise_box_iou(pred: np.ndarray, gt: np.ndarray, kind: str = "giou") -> np.ndarray:
    """[P, G] matrix of `paired_box_iou` between every predicted and every target box."""
    pred = np.asarray(pred, dtype=np.float32).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float32).reshape(-1, 4)
    rows = np.repeat(np.arange(len(pred)), len(gt))
    columns = np.tile(np.arange(len(gt)), len(pred))
    return paired_box_iou(pred[rows], gt[columns], kind).reshape(len(pred), len(gt))
