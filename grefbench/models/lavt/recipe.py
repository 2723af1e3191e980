"""LAVT's official training recipe (yz93/LAVT-RIS `train.py`) for `grefbench train --model lavt`.

Loss: 2-class cross-entropy of the logits at the input size against the target mask, class
weights [0.9, 1.1]; a no-target sentence trains against an empty mask (the GRES adaptation).
`--dice-weight W` adds W x a soft Dice term (grefbench's own, off by default, as for ReLA).
Optimiser: AdamW, lr 5e-5, weight decay 0.01, no warm-up, no clipping, polynomial decay
(1 - step / total) ** 0.9 to 0. Parameter groups as the official: the backbone's norms,
absolute position embedding and relative-position tables without decay; the rest of the backbone,
the classifier and BERT's first ten encoder layers with decay. BERT's embeddings and any layer past
the tenth are not in the optimiser (the official quirk; they never change).
"""

from __future__ import annotations

from typing import Any

from grefbench.errors import UsageError

DEFAULTS = {"lr": 5e-5, "weight_decay": 0.01, "warmup": 0, "decay": "poly", "lr_floor": 0.0, "clip": 0.0}
# grefbench's own, not official (0: the official loss): a soft Dice term, as for ReLA.
LOSS_OPTIONS: dict[str, Any] = {"dice_weight": 0.0}
CLASS_WEIGHTS = (0.9, 1.1)
OPTIMISED_TEXT_LAYERS = 10


def build_for_training(options: Any, device: str):
    """The model to train: a preset / LAVTConfig (or initial weights), with the text encoder as asked."""
    from grefbench.models.lavt.build import build_lavt

    if options.config_overrides:
        raise UsageError("--set overrides are for rela's detectron2 configs; give lavt a preset or a config")
    model = build_lavt(config=options.config, weights=options.init_weights, text_config=options.text_config,
                       device=device, text_weights=options.text_weights)
    return model


def criterion(model, options: Any):
    """The official loss as a callable (outputs, batch, device) -> loss."""
    import torch
    import torch.nn.functional as F

    from grefbench.models.losses import dice_loss

    def compute(outputs, batch, device):
        logits = outputs["logits"]
        targets = batch["gt_masks"].to(device=logits.device).long()
        if tuple(targets.shape[-2:]) != tuple(logits.shape[-2:]):
            raise ValueError(f"target masks {tuple(targets.shape)} do not match the logits {tuple(logits.shape)}")
        weight = torch.tensor(CLASS_WEIGHTS, device=logits.device, dtype=logits.dtype)
        loss = F.cross_entropy(logits, targets, weight=weight)
        if options.dice_weight > 0:
            loss = loss + options.dice_weight * dice_loss(logits, targets)
        return loss

    return compute


def check(model, options: Any, split) -> None:
    """The Dice weight is usable."""
    if not options.dice_weight >= 0:  # also refuses NaN
        raise UsageError(f"--dice-weight must be 0 or more, not {options.dice_weight}")


def parameter_groups(model, options: Any) -> list[dict[str, Any]]:
    """The official AdamW groups (see the module docstring)."""
    no_decay, decay, text = [], [], []
    for name, parameter in model.backbone.named_parameters():
        if not parameter.requires_grad:
            continue
        skip = "norm" in name or "absolute_pos_embed" in name or "relative_position_bias_table" in name
        (no_decay if skip else decay).append(parameter)
    classifier = [p for p in model.classifier.parameters() if p.requires_grad]
    for layer in list(model.text_encoder.encoder.layer)[:OPTIMISED_TEXT_LAYERS]:
        text.extend(p for p in layer.parameters() if p.requires_grad)
    groups = [(no_decay, 0.0), (decay, options.weight_decay), (classifier, options.weight_decay),
              (text, options.weight_decay)]
    return [{"params": params, "lr": options.lr, "weight_decay": wd, "base_lr": options.lr}
            for params, wd in groups if params]
