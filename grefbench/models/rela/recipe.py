"""ReLA's training recipe for `grefbench train`: model start, loss, AdamW groups and option checks."""

from __future__ import annotations

import math
from typing import Any

from grefbench.errors import UsageError

DEFAULTS = {"lr": 1e-4, "weight_decay": 0.05, "warmup": 100, "decay": "cosine", "lr_floor": 0.01, "clip": 1.0}
LOSS_OPTIONS = {"dice_weight": 0.0, "category_weight": 0.0, "no_target_weight": 0.1}


def build_for_training(options: Any, device: str):
    """The model to train: from its config (or initial weights), with the text encoder as asked."""
    from grefbench.models.rela.build import build_rela
    from grefbench.models.rela.config import load_config

    config = load_config(options.config, options.config_overrides) if options.config_overrides else options.config
    model = build_rela(config=config, weights=options.init_weights, text_config=options.text_config,
                       device=device, text_weights=options.text_weights)
    if options.init_weights is None:
        openable_language_gates(model)
    return model


def openable_language_gates(model) -> None:
    """Let the Swin stages' language gates learn when training from scratch.

    The official ReLA zero-initialises both linear layers of each `res_gate` (Linear, ReLU,
    Linear, Tanh): its output and its gradient are then exactly zero, so the gate never opens
    and language never reaches the next stage's input (LAVT, where the module comes from, does not
    zero them). Here the first layer gets nn.Linear's own initialisation and the second stays
    zero: the gate still starts closed, but it can learn. Loaded weights are not touched.
    """
    import torch

    for module in model.backbone.modules():
        gate = getattr(module, "res_gate", None)
        if isinstance(gate, torch.nn.Sequential):
            torch.nn.init.kaiming_uniform_(gate[0].weight, a=math.sqrt(5))


def criterion(model, options: Any):
    """The official ReLA loss (with grefbench's optional terms) as a callable (outputs, batch, device) -> loss."""
    from grefbench.models.rela.criterion import ReferringCriterion

    loss = ReferringCriterion(mask_weight=model.config.mask_weight, dice_weight=options.dice_weight,
                              category_weight=options.category_weight, no_target_weight=options.no_target_weight)

    def compute(outputs, batch, device):
        categories = batch.get("gt_categories")
        return loss(outputs, batch["gt_masks"].to(device), batch["no_target"].to(device),
                    None if categories is None else categories.to(device))["loss_mask"]

    return compute


def parameter_groups(model, options: Any) -> list[dict[str, Any]]:
    """AdamW groups: no decay on norms, biases and embeddings; the backbone at lr * multiplier."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        no_decay = parameter.ndim <= 1 or "norm" in name or "embed" in name or "relative_position_bias_table" in name
        groups.setdefault((name.startswith("backbone."), no_decay), []).append(parameter)
    lr, multiplier = options.lr, options.backbone_lr_multiplier
    return [
        {"params": params, "lr": lr * (multiplier if backbone else 1.0),
         "weight_decay": 0.0 if no_decay else options.weight_decay, "base_lr": lr * (multiplier if backbone else 1.0)}
        for (backbone, no_decay), params in groups.items()
    ]


def check(model, options: Any, split) -> None:
    """The loss weights are usable, and `--category-weight` and the category head go together."""
    if not options.dice_weight >= 0:  # also refuses NaN: a negative weight would be silently ignored
        raise UsageError(f"--dice-weight must be 0 or more, not {options.dice_weight}")
    if not options.category_weight >= 0:
        raise UsageError(f"--category-weight must be 0 or more, not {options.category_weight}")
    if not 0 <= options.no_target_weight < math.inf:
        raise UsageError(f"--no-target-weight must be 0 or more, not {options.no_target_weight}")
    classes, weight = model.config.category_classes, options.category_weight
    if weight > 0 and not classes:
        raise UsageError("--category-weight needs a category head: add --set GREFBENCH.CATEGORY_CLASSES=N "
                         "(N = largest category id + 1)")
    if classes and not weight > 0:
        raise UsageError(f"the config has a category head (GREFBENCH.CATEGORY_CLASSES={classes}); "
                         "train it with --category-weight W (W > 0)")
    if classes and split.categories and max(split.categories) >= classes:
        raise UsageError(f"GREFBENCH.CATEGORY_CLASSES={classes} is too small for {split.dataset}: its largest "
                         f"category id is {max(split.categories)}, so it needs at least {max(split.categories) + 1}")


def needs_categories(options: Any) -> bool:
    """Training samples carry category maps when the category head is trained."""
    return options.category_weight > 0
