"""Loss terms shared by families."""

from __future__ import annotations

import torch


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 - (2|P*G| + 1) / (|P| + |G| + 1), P the softmax target probability of 2-class logits.

    The +1 keeps it defined for a no-target sentence (empty G), where it pushes P towards empty.
    Not part of any official loss: per-pixel cross-entropy is dominated by background when targets
    are small, and Dice weighs every sentence's target equally whatever its area.
    """
    probability = logits.softmax(dim=1)[:, 1].flatten(1)
    targets = targets.flatten(1)
    overlap = (probability * targets).sum(-1)
    total = probability.sum(-1) + targets.sum(-1)
    return (1 - (2 * overlap + 1) / (total + 1)).mean()
