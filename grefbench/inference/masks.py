"""From model outputs to what a prediction file holds: binary masks at the protocol's size, no-target.

As the official evaluator: the mask is `ref_seg.argmax(1)` (a tie picks background) and
"no target" is `nt_label.argmax(1) == 1`. `ref_seg` is first cropped to the input size (the
model pads to a multiple of 32); when the protocol's size differs from the input size the
probabilities, not the masks, are resized (bilinear) before the argmax.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from grefbench.data.protocols import Protocol
from grefbench.data.split import SentenceRecord
from grefbench.io import rle


def prediction_entries(
    ref_seg: torch.Tensor, nt_label: torch.Tensor, records: Sequence[SentenceRecord], input_size: int, protocol: Protocol
) -> list[dict]:
    """Prediction-file entries (sent_id, no_target, no_target_score, mask RLE) for one batch."""
    probabilities = ref_seg[:, :, :input_size, :input_size].float()
    no_target = (nt_label[:, 1] > nt_label[:, 0]).tolist()  # argmax(1) == 1: a tie picks channel 0
    scores = nt_label[:, 1].float().clamp(0, 1).tolist()
    if protocol.fixed_size is not None:
        masks = _masks_at(probabilities, protocol.fixed_size)
        per_sample = list(masks)
    else:
        per_sample = [_masks_at(probabilities[i:i + 1], (r.height, r.width))[0] for i, r in enumerate(records)]
    entries = []
    for record, mask, flag, score in zip(records, per_sample, no_target, scores):
        entries.append({"sent_id": record.sent_id, "no_target": bool(flag), "no_target_score": round(float(score), 6),
                        "mask": rle.encode(mask)})
    return entries


def _masks_at(probabilities: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    if tuple(probabilities.shape[-2:]) != tuple(size):
        probabilities = F.interpolate(probabilities, size=size, mode="bilinear", align_corners=False)
    # argmax(1) over two channels, a tie picking background; the comparison is the same and
    # several times faster than torch's argmax along a non-innermost dimension.
    return (probabilities[:, 1] > probabilities[:, 0]).to(torch.uint8).cpu().numpy()
