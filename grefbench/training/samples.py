"""Training samples: the resized image, the sentence's tokens and the merged target mask at the same size.

The target mask is rasterised from the polygons scaled to the input size, exactly as the official
mapper does for training (detectron2 Resize((S, S)) of image and polygons, then merge); the
ground truth per ref is built once and cached like any protocol's.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from grefbench.data.catalog import image_root
from grefbench.data.groundtruth import instance_rle, load_ground_truth
from grefbench.data.protocols import Protocol
from grefbench.data.split import ReferSplit
from grefbench.inference.inputs import SentenceInputs
from grefbench.io import rle


def square_protocol(size: int) -> Protocol:
    """Ground truth at size x size (what the model sees), named so its cache is its own."""
    return Protocol(f"square{size}", (size, size), f"polygons scaled to {size}x{size} (training targets)")


def category_map(annotations: Sequence[dict], height: int, width: int, protocol: Protocol) -> np.ndarray:
    """The category id of every pixel at the protocol's size (0 where no object), later ids painted on top."""
    out_height, out_width = protocol.mask_size(height, width)
    painted = np.zeros((out_height, out_width), dtype=np.int64)
    for annotation in sorted(annotations, key=lambda a: a["id"]):
        encoded = instance_rle(annotation, height, width, protocol)
        if encoded is not None:
            painted[rle.decode(encoded).astype(bool)] = int(annotation["category_id"])
    return painted


class TrainingSamples(SentenceInputs):
    """Item i: image uint8 [3, S, S] (the family's square transform), tokens and mask [L], target mask
    uint8 [S, S], no-target flag, and with `categories` the category map int64 [S, S] of all the image's objects."""

    def __init__(self, split: ReferSplit, transform: Any, tokenizer: Any, *, categories: bool = False):
        super().__init__(split.records, image_root(split.root), transform, tokenizer)
        height, width = transform.input_size
        if height != width:
            raise ValueError(f"training targets need a square input, got {height}x{width}")
        self.protocol = square_protocol(height)
        self.targets = load_ground_truth(split, self.protocol).rles
        self.image_annotations: dict[int, list[dict]] | None = None
        if categories:
            self.image_annotations = split.image_annotations({record.image_id for record in split.records})

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        batch = super().__getitems__(indices)
        if "error" in batch:
            return batch
        records = [self.records[i] for i in indices]
        batch["gt_masks"] = torch.stack([torch.from_numpy(rle.decode(self.targets[r.ref_id])) for r in records])
        batch["no_target"] = torch.tensor([r.no_target for r in records], dtype=torch.bool)
        if self.image_annotations is not None:
            # Once per image: --group-by-image puts several sentences of one image in a batch.
            maps: dict[int, torch.Tensor] = {}
            for r in records:
                if r.image_id not in maps:
                    annotations = self.image_annotations[r.image_id]
                    maps[r.image_id] = torch.from_numpy(category_map(annotations, r.height, r.width, self.protocol))
            batch["gt_categories"] = torch.stack([maps[r.image_id] for r in records])
        return batch
