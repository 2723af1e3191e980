"""The official ReLA training loss (`ReferringCriterion` with the `GRES` loss weight).

Three class-weighted cross-entropies (weights 0.9 for background / "target absent", 1.1 for
target / "no target"), summed as

    loss = CE(mask) + 0.1 * CE(minimap) + 0.1 * CE(no-target), then times MASK_FORMER.MASK_WEIGHT:

- mask: the target logits bilinearly resized to the ground-truth size, against the merged mask;
- minimap: each region's 2-class logit against the ground truth bilinearly resized to the
  minimap grid (10x10 for 100 queries) and truncated to an integer, so a cell counts as target
  only where the resized value is exactly 1 (as the official `.long()` does);
- no-target: the averaged no-target logits against "the expression has no target".

Optionally (`dice_weight` > 0, not part of the official loss) a soft Dice term on the target
probability is added before the MASK_WEIGHT factor: per-pixel CE is dominated by background when
targets are small, and Dice weighs every sentence's target equally whatever its area.

Optionally (`no_target_weight`, grefbench's own; the official value is 0.1) the no-target
cross-entropy gets another factor: with ~12% no-target sentences and 0.1, it is a few percent of
the loss, and the demo model learns to reject a sentence only when its count does not hold.

Optionally (`category_weight` > 0, grefbench's own) the model's auxiliary category head
(GREFBENCH.CATEGORY_CLASSES) is trained with a per-pixel cross-entropy against the category map
of all the image's objects (0 = background), also before the MASK_WEIGHT factor.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.models.losses import dice_loss

CLASS_WEIGHTS = (0.9, 1.1)
AUXILIARY_WEIGHT = 0.1


class ReferringCriterion(nn.Module):
    """`forward(outputs, gt_masks, no_target) -> {"loss_mask": weighted loss}` as the official training step."""

    def __init__(self, mask_weight: float = 5.0, dice_weight: float = 0.0, category_weight: float = 0.0,
                 no_target_weight: float = AUXILIARY_WEIGHT):
        super().__init__()
        self.mask_weight = mask_weight
        self.dice_weight = dice_weight
        self.no_target_weight = no_target_weight
        self.category_weight = category_weight

    def forward(
        self,
        outputs: Mapping[str, torch.Tensor],
        gt_masks: torch.Tensor | Sequence[torch.Tensor],
        no_target: torch.Tensor | Sequence[bool],
        gt_categories: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """`outputs` of `ReLA` in training mode; `gt_masks` [B, H, W] (or a list of [H, W] / [1, H, W],
        zero-padded to the largest); `no_target` [B] bool, True where the expression has no target;
        `gt_categories` [B, H, W] category ids (needed when `category_weight` > 0)."""
        pred_masks = outputs["pred_masks"]
        minimap = outputs["pred_logits"].transpose(1, 2)  # [B, 2, Q]
        targets = _stack_masks(gt_masks).to(device=pred_masks.device, dtype=pred_masks.dtype)
        no_target = torch.as_tensor(no_target, device=pred_masks.device).long()
        weight = torch.tensor(CLASS_WEIGHTS, device=pred_masks.device, dtype=pred_masks.dtype)

        height, width = targets.shape[-2:]
        pred_masks = F.interpolate(pred_masks, (height, width), mode="bilinear", align_corners=False)
        side = math.isqrt(minimap.shape[-1])
        if side * side != minimap.shape[-1]:
            raise ValueError(f"the minimap loss needs a square number of queries, got {minimap.shape[-1]}")
        target_minimap = F.interpolate(targets[:, None], (side, side), mode="bilinear", align_corners=False)
        loss = (
            F.cross_entropy(pred_masks, targets.long(), weight=weight)
            + F.cross_entropy(minimap, target_minimap.flatten(1).long(), weight=weight) * AUXILIARY_WEIGHT
            + F.cross_entropy(outputs["nt_label"], no_target, weight=weight) * self.no_target_weight
        )
        if self.dice_weight > 0:
            loss = loss + self.dice_weight * dice_loss(pred_masks, targets)
        if self.category_weight > 0:
            if gt_categories is None or "category_logits" not in outputs:
                raise ValueError("category_weight > 0 needs the model's category head and gt_categories")
            categories = gt_categories.to(device=pred_masks.device).long()
            logits = F.interpolate(outputs["category_logits"], categories.shape[-2:], mode="bilinear",
                                   align_corners=False)
            loss = loss + self.category_weight * F.cross_entropy(logits, categories)
        return {"loss_mask": loss * self.mask_weight}


def _stack_masks(gt_masks: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Masks to one [B, H, W] tensor, zero-padding smaller ones at the bottom/right (the official NestedTensor)."""
    if isinstance(gt_masks, torch.Tensor):
        return gt_masks[:, 0] if gt_masks.ndim == 4 else gt_masks
    masks = [mask[0] if mask.ndim == 3 else mask for mask in gt_masks]
    height = max(mask.shape[0] for mask in masks)
    width = max(mask.shape[1] for mask in masks)
    stacked = masks[0].new_zeros((len(masks), height, width))
    for index, mask in enumerate(masks):
        stacked[index, : mask.shape[0], : mask.shape[1]] = mask
    return stacked
