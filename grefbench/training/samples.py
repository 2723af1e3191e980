"""Training samples: the resized image, the sentence's tokens and the merged target mask at the same size.

The target mask is rasterised from the polygons scaled to the input size, exactly as the official
mapper does for training (detectron2 Resize((S, S)) of image and polygons, then merge); the
ground truth per ref is built once and cached like any protocol's.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from grefbench.data.catalog import image_root
from grefbench.data.groundtruth import load_ground_truth
from grefbench.data.protocols import Protocol
from grefbench.data.split import ReferSplit
from grefbench.inference.inputs import SentenceInputs
from grefbench.io import rle


def square_protocol(size: int) -> Protocol:
    """Ground truth at size x size (what the model sees), named so its cache is its own."""
    return Protocol(f"square{size}", (size, size), f"polygons scaled to {size}x{size} (training targets)")


class TrainingSamples(SentenceInputs):
    """Item i: image uint8 [3, S, S], tokens and mask [L], target mask uint8 [S, S], no-target flag."""

    def __init__(self, split: ReferSplit, image_size: int, tokenizer: Any):
        super().__init__(split.records, image_root(split.root), image_size, tokenizer)
        self.targets = load_ground_truth(split, square_protocol(image_size)).rles

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        batch = super().__getitems__(indices)
        if "error" in batch:
            return batch
        records = [self.records[i] for i in indices]
        batch["gt_masks"] = torch.stack([torch.from_numpy(rle.decode(self.targets[r.ref_id])) for r in records])
        batch["no_target"] = torch.tensor([r.no_target for r in records], dtype=torch.bool)
        return batch
