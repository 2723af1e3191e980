"""Scoring a model on (part of) a split in memory, without files: what training uses for validation.

It runs the same post-processing and the same scorer as `grefbench eval`, so a validation number
during training means exactly what the final evaluation means.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from grefbench.data.catalog import image_root
from grefbench.data.protocols import get_protocol
from grefbench.data.split import ReferSplit
from grefbench.errors import DatasetError
from grefbench.inference.masks import prediction_entries
from grefbench.io.predictions import FORMAT, parse_predictions
from grefbench.scoring import ScoreResult, score_predictions


def subset(split: ReferSplit, limit: int | None) -> ReferSplit:
    """About the first `limit` sentences, whole images only (all without a limit), as a split of its own."""
    if limit is None or limit >= len(split.records):
        return split
    images: dict[int, None] = {}
    chosen = []
    for record in split.records:
        if record.image_id not in images and len(chosen) >= limit:
            break
        images.setdefault(record.image_id, None)
        chosen.append(record)
    return dataclasses.replace(split, records=chosen)


def evaluate_model(model, split: ReferSplit, *, protocol: str = "rela480", batch_size: int = 8, tokenizer=None,
                   device: str = "cpu", workers: int = 0, min_area: int = 0) -> ScoreResult:
    """Predict every sentence of `split` with `model` (eval mode, no grad) and score the predictions."""
    import torch
    from torch.utils.data import DataLoader

    from grefbench.inference.inputs import SentenceInputs, keep_batch
    from grefbench.models.family import family_of

    family = family_of(model)
    transform = family.transform(model)
    tokenizer = tokenizer or family.tokenizer(model, None)
    dataset = SentenceInputs(split.records, image_root(split.root), transform, tokenizer)
    batches = [list(range(i, min(i + batch_size, len(split.records)))) for i in range(0, len(split.records), batch_size)]
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=keep_batch, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))  # leaves the global RNG alone
    resolved = get_protocol(protocol)
    entries: list[dict] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in loader:
                if "error" in batch:
                    raise DatasetError(batch["error"])
                outputs = model(batch["images"].to(device), batch["lang_tokens"].to(device), batch["lang_mask"].to(device))
                records = [split.records[i] for i in batch["indices"].tolist()]
                entries.extend(prediction_entries(family.decode(outputs), records, transform, resolved,
                                                  min_area=min_area))
    finally:
        model.train(was_training)
    document = {"format": FORMAT, "dataset": split.dataset, "split": split.split, "protocol": resolved.name,
                "model": {"name": "in-training"}, "predictions": entries}
    parsed = parse_predictions(Path("<in memory>"), json.loads(json.dumps(document)))
    return score_predictions(parsed, split)
