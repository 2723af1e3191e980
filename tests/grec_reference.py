"""An independent per-sentence reference of the official GREC evaluation, for parity tests.

Written from `RefExpEvaluator.summarize` (henghuiding/gRefCOCO, mdetr/datasets/refexp.py) and
MDETR's `generalized_box_iou`: float32 torch tensors, a sort of (score, box) tuples in falling
order, `>=` against the score threshold, a loop of "take the largest entry, stop below 0.5, blank
its row and column with 0". One deliberate change: equal largest entries are taken with
`torch.argmax` (the first in row-major order) where the official `torch.topk` leaves the choice
unspecified. Nothing here calls grefbench code.
"""

from __future__ import annotations

import torch


def _xyxy(boxes: list[list[float]]) -> torch.Tensor:
    return torch.tensor([[x, y, x + w, y + h] for x, y, w, h in boxes], dtype=torch.float32).view(-1, 4)


def _overlap(pred: torch.Tensor, gt: torch.Tensor, generalized: bool) -> torch.Tensor:
    area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_gt = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    top_left = torch.max(pred[:, None, :2], gt[:, :2])
    bottom_right = torch.min(pred[:, None, 2:], gt[:, 2:])
    size = (bottom_right - top_left).clamp(min=0)
    inter = size[:, :, 0] * size[:, :, 1]
    union = area_pred[:, None] + area_gt - inter
    iou = inter / union
    if not generalized:
        return iou
    outer_size = (torch.max(pred[:, None, 2:], gt[:, 2:]) - torch.min(pred[:, None, :2], gt[:, :2])).clamp(min=0)
    outer = outer_size[:, :, 0] * outer_size[:, :, 1]
    return iou - (outer - union) / outer


def sentence_counts(pred_boxes, pred_scores, gt_boxes, *, score_threshold=0.7, generalized=True):
    """(kept, TP, F1, correct) of one sentence; `gt_boxes` empty means a no-target sentence."""
    ranked = sorted(zip([float(s) for s in pred_scores], [list(map(float, b)) for b in pred_boxes]), reverse=True)
    kept_boxes = [box for score, box in ranked if score >= score_threshold]
    kept = len(kept_boxes)
    if not gt_boxes:
        f1 = 1.0 if kept == 0 else 0.0
        return kept, 0, f1, f1 >= 1.0
    matrix = _overlap(_xyxy(kept_boxes), _xyxy(gt_boxes), generalized)
    tp = 0
    for _ in range(min(kept, len(gt_boxes))):
        flat = matrix.flatten()
        index = int(torch.argmax(flat))
        if flat[index] < 0.5:
            break
        row, column = divmod(index, len(gt_boxes))
        tp += 1
        matrix[row, :] = 0.0
        matrix[:, column] = 0.0
    fp = kept - tp
    fn = len(gt_boxes) - tp
    f1 = 2 * tp / (2 * tp + fp + fn)
    return kept, tp, f1, f1 >= 1.0


def reference_metrics(pred_boxes, pred_scores, gt_boxes, *, score_threshold=0.7, generalized=True):
    """Pr@(F1=1,IoU>=0.5), N-acc, T-acc in percent (None when undefined) over lists of sentences."""
    correct = nt = nt_ok = t = t_kept = 0
    for boxes, scores, targets in zip(pred_boxes, pred_scores, gt_boxes):
        kept, _, _, ok = sentence_counts(boxes, scores, targets, score_threshold=score_threshold,
                                         generalized=generalized)
        correct += ok
        if targets:
            t += 1
            t_kept += kept >= 1
        else:
            nt += 1
            nt_ok += kept == 0
    n = len(gt_boxes)
    return {"Pr@(F1=1,IoU>=0.5)": 100 * correct / n if n else None, "N-acc": 100 * nt_ok / nt if nt else None,
            "T-acc": 100 * t_kept / t if t else None}
