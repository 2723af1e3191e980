"""Model inputs for a list of sentences, built in DataLoader workers: images decoded once per batch.

Errors (a missing or unreadable image) are returned as data and raised in the main process, so
the user sees one clear DatasetError instead of a worker traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from grefbench.data.split import SentenceRecord


class SentenceInputs(Dataset):
    """Item i: the image as the family's transform prepares it (uint8 [3, H, W]) and the tokens of `records[i]`."""

    def __init__(self, records: Sequence[SentenceRecord], image_root: Path, transform: Any, tokenizer: Any):
        self.records = list(records)
        self.image_root = Path(image_root)
        self.transform = transform
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """A whole batch at once, so sentences of one image share its decoding."""
        records = [self.records[i] for i in indices]
        images: dict[str, torch.Tensor] = {}
        for record in records:
            if record.file_name in images:
                continue
            path = self.image_root / record.file_name
            try:
                images[record.file_name] = self.transform.load(path)
            except FileNotFoundError:
                return {"error": f"image not found: {path} (sent_id {record.sent_id})"}
            except Exception as error:  # noqa: BLE001 - any decoder failure means an unreadable file
                return {"error": f"cannot read image {path} (sent_id {record.sent_id}): {error}"}
        tokens, mask = self.tokenizer([r.sentence for r in records])
        position = {name: i for i, name in enumerate(images)}
        return {
            "indices": torch.as_tensor(list(indices), dtype=torch.int64),
            "images": torch.stack([images[r.file_name] for r in records]),
            # Each distinct image once, and which one each sentence reads (for image sharing).
            "unique_images": torch.stack(list(images.values())),
            "image_index": torch.as_tensor([position[r.file_name] for r in records], dtype=torch.int64),
            "lang_tokens": tokens,
            "lang_mask": mask,
        }


def keep_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """Collate function for batches already assembled by `__getitems__`."""
    return batch
