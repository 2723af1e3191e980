"""ReLA as a registered model family: how eval and training build, feed, decode and train it."""

from __future__ import annotations

from typing import Any, Mapping

from grefbench.models.family import Decoded, ModelFamily, TrainingRecipe, wordpiece_tokenizer
from grefbench.models.rela import recipe
from grefbench.models.rela.presets import PRESETS


def _build(**options: Any) -> Any:
    from grefbench.models.rela.build import build_rela

    return build_rela(**options)


def _transform(model) -> Any:
    from grefbench.models.transforms import SquareResize

    return SquareResize(int(model.config.image_size), exif_transpose=True)


def _decode(outputs: Mapping[str, Any]) -> Decoded:
    """As the official evaluator: the mask is `ref_seg.argmax(1)`, "no target" `nt_label.argmax(1) == 1`."""
    no_target = outputs["nt_label"]
    return Decoded(maps=outputs["ref_seg"], no_target=no_target[:, 1] > no_target[:, 0],
                   no_target_score=no_target[:, 1])


def _save(model, path, *, include_text_encoder: bool = True) -> None:
    from grefbench.models.rela.checkpoint import save_checkpoint

    save_checkpoint(model, path, include_text_encoder=include_text_encoder)


RELA = ModelFamily(
    name="rela",
    summary="ReLA (henghuiding/ReLA, CVPR 2023) with official checkpoints: ResNet-50, Swin-T, Swin-B",
    presets=tuple(PRESETS),
    build=_build,
    build_for_training=recipe.build_for_training,
    transform=_transform,
    tokenizer=wordpiece_tokenizer,
    decode=_decode,
    training=TrainingRecipe(defaults=recipe.DEFAULTS, loss_options=recipe.LOSS_OPTIONS, criterion=recipe.criterion,
                            parameter_groups=recipe.parameter_groups, check=recipe.check,
                            needs_categories=recipe.needs_categories),
    save=_save,
    demo_weights="rela_tiny_grefshapes.pth",
    no_target_head=True,
    shares_images=lambda model: not model.image_encoder_reads_words,
)
