"""Training samples: the resized image, the sentence's tokens and the merged target mask at the same size.

The target mask is rasterised from the polygons scaled to the input size, exactly as the official
mapper does for training (detectron2 Resize((S, S)) of image and polygons, then merge); the
ground truth per ref is built once and cached like any protocol's.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from grefbench.data.catalog import image_root
from grefbench.data.groundtruth import load_ground_truth
from grefbench.data.protocols import Protocol
from grefbench.data.split import ReferSplit
from grefbench.io import rle


def square_protocol(size: int) -> Protocol:
    """Ground truth at size x size (what the model sees), named so its cache is its own."""
    return Protocol(f"square{size}", (size, size), f"polygons scaled to {size}x{size} (training targets)")


class TrainingSamples(Dataset):
    """Item i: image uint8 [3, S, S], tokens and mask [L], target mask uint8 [S, S], no-target flag."""

    def __init__(self, split: ReferSplit, image_size: int, tokenizer: Any):
        self.split = split
        self.records = split.records
        self.image_size = image_size
        self.tokenizer = tokenizer
        self.root = image_root(split.root)
        truth = load_ground_truth(split, square_protocol(image_size))
        self.targets = truth.rles

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        from grefbench.models.rela.preprocess import load_image

        records = [self.records[i] for i in indices]
        cache: dict[str, torch.Tensor] = {}
        images = []
        for record in records:
            if record.file_name not in cache:
                path = self.root / record.file_name
                try:
                    cache[record.file_name] = load_image(path, self.image_size)
                except Exception as error:  # noqa: BLE001 - reported in the main process
                    return {"error": f"cannot read image {path} (sent_id {record.sent_id}): {error}"}
            images.append(cache[record.file_name])
        tokens, mask = self.tokenizer([r.sentence for r in records])
        targets = torch.stack([torch.from_numpy(rle.decode(self.targets[r.ref_id])) for r in records])
        return {
            "images": torch.stack(images),
            "lang_tokens": tokens,
            "lang_mask": mask,
            "gt_masks": targets,
            "no_target": torch.tensor([r.no_target for r in records], dtype=torch.bool),
        }
