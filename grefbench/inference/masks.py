"""From decoded model outputs to what a prediction file holds: binary masks at the protocol's size, no-target.

The family's `decode` gives score maps at the input's resolution; the maps are cropped to the
input size (ReLA pads to a multiple of 32), mapped to the protocol's mask size by the family's
transform (the probabilities, not the masks, are resized, as the official evaluators do) and
binarised. "No target" is the family's head decision where it has one (ReLA: `nt_label.argmax(1)
== 1`); otherwise an empty mask, or with `min_area` a mask of fewer foreground pixels (at the
protocol's mask size), which is then emptied.
"""

from __future__ import annotations

from typing import Any, Sequence

from grefbench.data.protocols import Protocol
from grefbench.data.split import SentenceRecord
from grefbench.io import rle
from grefbench.models.family import Decoded
from grefbench.models.transforms import binarize


def prediction_entries(decoded: Decoded, records: Sequence[SentenceRecord], transform: Any, protocol: Protocol,
                       *, min_area: int = 0) -> list[dict]:
    """Prediction-file entries (sent_id, no_target, optional no_target_score, mask RLE) for one batch."""
    height, width = transform.input_size
    maps = decoded.maps[:, :, :height, :width].float()
    per_sample = transform.maps_for(maps, [(r.height, r.width) for r in records], protocol)
    head = decoded.no_target is not None
    flags = decoded.no_target.tolist() if head else None
    scores = decoded.no_target_score.float().clamp(0, 1).tolist() if decoded.no_target_score is not None else None
    entries = []
    for i, (record, sample) in enumerate(zip(records, per_sample)):
        mask = binarize(sample, decoded.threshold)
        if head:
            no_target = bool(flags[i])
        else:
            no_target = int(mask.sum()) < max(min_area, 1)
            if no_target:
                mask[:] = 0
        entry = {"sent_id": record.sent_id, "no_target": no_target}
        if scores is not None:
            entry["no_target_score"] = round(float(scores[i]), 6)
        entry["mask"] = rle.encode(mask)
        entries.append(entry)
    return entries
