"""The official GREC greedy matching, for many sentences at once (numpy, no per-sentence loop).

Per sentence the official evaluator takes the largest entry of the (kept box x target box) overlap
matrix, stops when it is below 0.5, otherwise counts a match and removes that row and column, and
repeats. Here every sentence takes its step in the same round, so the rounds number the largest
count of matches in one sentence, not the sentences. Equal largest entries are taken in row-major
order (rows are kept boxes by falling score, columns the targets in annotation order), as
`torch.topk(k=1)` picks them on the CPU.
"""

from __future__ import annotations

import numpy as np

from grefbench.metrics.box_iou import paired_box_iou

MATCH_THRESHOLD = 0.5


def sentence_pairs(pred_counts: np.ndarray, gt_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (kept box, target box) pair of every sentence, row-major per sentence:
    (sentence index, global prediction index, global target index)."""
    pred_counts = np.asarray(pred_counts, dtype=np.int64)
    gt_counts = np.asarray(gt_counts, dtype=np.int64)
    pairs_per_sentence = pred_counts * gt_counts
    sentence = np.repeat(np.arange(pred_counts.size), pairs_per_sentence)
    pair_start = np.cumsum(pairs_per_sentence) - pairs_per_sentence
    local = np.arange(sentence.size, dtype=np.int64) - pair_start[sentence]
    columns = gt_counts[sentence]
    pred_start = np.cumsum(pred_counts) - pred_counts
    gt_start = np.cumsum(gt_counts) - gt_counts
    return sentence, pred_start[sentence] + local // np.maximum(columns, 1), gt_start[sentence] + local % np.maximum(columns, 1)


def greedy_match_counts(pred_xyxy: np.ndarray, pred_counts: np.ndarray, gt_xyxy: np.ndarray, gt_counts: np.ndarray,
                        kind: str = "giou", threshold: float = MATCH_THRESHOLD) -> np.ndarray:
    """Matches per sentence (the official TP) of kept boxes against target boxes, both float32 xyxy.

    Boxes are grouped by sentence in order (`pred_counts[i]` kept boxes, already sorted by falling
    score, and `gt_counts[i]` targets for sentence i). `threshold` must be positive: the official
    code blanks a removed row or column with 0, which then can never match.
    """
    if threshold <= 0:
        raise ValueError("the match threshold must be positive")
    matches = np.zeros(len(pred_counts), dtype=np.int64)
    sentence, pred_index, gt_index = sentence_pairs(pred_counts, gt_counts)
    if sentence.size == 0:
        return matches
    overlap = paired_box_iou(pred_xyxy[pred_index], gt_xyxy[gt_index], kind)
    alive = np.flatnonzero(overlap >= threshold)  # pairs that may still match, in row-major order
    while alive.size:
        # The first pair of each sentence after sorting by (sentence, falling overlap, position).
        order = np.lexsort((alive, -overlap[alive], sentence[alive]))
        ranked = alive[order]
        first = np.flatnonzero(np.r_[True, sentence[ranked[1:]] != sentence[ranked[:-1]]])
        chosen = ranked[first]
        matches[sentence[chosen]] += 1
        taken = np.isin(pred_index[alive], pred_index[chosen]) | np.isin(gt_index[alive], gt_index[chosen])
        alive = alive[~taken]
    return matches
