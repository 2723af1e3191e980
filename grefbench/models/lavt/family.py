"""LAVT as a registered model family: official preprocessing, argmax masks, "empty mask = no target"."""

from __future__ import annotations

from typing import Any, Mapping

from grefbench.models.family import Decoded, ModelFamily, TrainingRecipe, wordpiece_tokenizer
from grefbench.models.lavt import recipe
from grefbench.models.lavt.presets import PRESETS


def _build(**options: Any) -> Any:
    from grefbench.models.lavt.build import build_lavt

    return build_lavt(**options)


def _transform(model) -> Any:
    from grefbench.models.transforms import SquareResize

    # The official loader: PIL open + convert("RGB") (no EXIF orientation), Resize(480, 480) bilinear.
    return SquareResize(int(model.config.image_size), exif_transpose=False)


def _decode(outputs: Mapping[str, Any]) -> Decoded:
    """The mask is `logits.argmax(1)` (official `test.py`); there is no no-target head."""
    return Decoded(maps=outputs["logits"])


def _save(model, path, *, include_text_encoder: bool = True) -> None:
    from grefbench.models.lavt.checkpoint import save_lavt_checkpoint

    save_lavt_checkpoint(model, path, include_text_encoder=include_text_encoder)


LAVT = ModelFamily(
    name="lavt",
    summary="LAVT (yz93/LAVT-RIS, CVPR 2022) with official checkpoints: multimodal Swin + PWAM, BERT; "
            "an empty mask means no target",
    presets=tuple(PRESETS),
    build=_build,
    build_for_training=recipe.build_for_training,
    transform=_transform,
    tokenizer=wordpiece_tokenizer,
    decode=_decode,
    training=TrainingRecipe(defaults=recipe.DEFAULTS, loss_options=recipe.LOSS_OPTIONS, criterion=recipe.criterion,
                            parameter_groups=recipe.parameter_groups, check=recipe.check,
                            find_unused_parameters=True),
    save=_save,
    demo_weights="lavt_tiny_grefshapes.pth",
    no_target_head=False,
)
