"""The model-family contract: everything eval and training need from a family, as data in the registry.

A family (ReLA, LAVT, ...) registers one `ModelFamily`. The runner, the trainer, shards, torchrun
and resume read it and never ask which family they run (as timm reads a model's pretrained_cfg).
Each callable imports its model code when called, so the registry stays cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass
class Decoded:
    """A batch of raw model outputs as score maps and (where the family has a head) no-target decisions.

    `maps` [B, C, h, w] at the model input's resolution: with C == 2 a pixel is foreground where
    channel 1 > channel 0 (an argmax whose tie picks background); with C == 1 where it is above
    `threshold`. `no_target` [B] bool is None for families without a no-target head: an empty
    predicted mask then means "no target" (see `inference/masks.py`).
    """

    maps: Any
    no_target: Any = None
    no_target_score: Any = None
    threshold: float | None = None


@dataclass(frozen=True)
class ModelFamily:
    """A registered model family.

    - `build(config=, weights=, text_config=, device=)`: an eval-mode model (what `load_model` returns).
    - `build_for_training(options, device)`: the model `grefbench train` starts from.
    - `transform(model)`: the image preprocessing (`grefbench.models.transforms`), which also maps
      score maps back to an image's own size for `--protocol native`.
    - `tokenizer(model, vocab)`: sentences to (ids, mask) int64 [B, L].
    - `decode(outputs)`: eval-mode outputs to a `Decoded`.
    - `training`: the family's training recipe (`TrainingRecipe`).
    - `save(model, path, include_text_encoder=)`: a checkpoint `build(weights=path)` reads.
    - `demo_weights`: the file name of the shipped demo under grefbench/resources/weights, if any.
    - `no_target_head`: False where "no target" is an empty mask (then `--min-area` applies).
    - `shares_images(model)`: True where the image encoder reads no words; the model then has
      `encode_images(images)` (once per distinct image) and `decode_sentences(encoded, image_index,
      lang_tokens, lang_mask)` (per sentence), whose outputs equal `forward`'s.
    """

    name: str
    summary: str
    presets: tuple[str, ...]
    build: Callable[..., Any]
    build_for_training: Callable[[Any, str], Any]
    transform: Callable[[Any], Any]
    tokenizer: Callable[[Any, Any], Any]
    decode: Callable[[Mapping[str, Any]], Decoded]
    training: "TrainingRecipe"
    save: Callable[..., None]
    demo_weights: str | None = None
    no_target_head: bool = True
    shares_images: Callable[[Any], bool] = lambda model: False


@dataclass(frozen=True)
class TrainingRecipe:
    """What a family's training needs beyond the shared loop: defaults, loss, parameter groups, checks.

    - `defaults`: values of the shared options the family's official recipe sets (lr, weight decay,
      warm-up, decay, clip, ...) when the user gives none.
    - `loss_options`: the family's own loss options and their defaults (e.g. ReLA's dice weight);
      an option of another family given to this one is refused.
    - `criterion(model, options)`: a callable (outputs, batch, device) -> scalar loss.
    - `parameter_groups(model, options)`: AdamW groups, each with "params", "weight_decay" and "base_lr".
    - `check(model, options, split)`: refuses option combinations the family cannot train.
    - `needs_categories(options)`: whether training samples must carry per-pixel category maps.
    - `find_unused_parameters`: DDP must look for parameters without a gradient (LAVT's last
      `res_gate`, whose result the official model discards).
    """

    defaults: Mapping[str, Any]
    loss_options: Mapping[str, Any]
    criterion: Callable[[Any, Any], Callable[..., Any]]
    parameter_groups: Callable[[Any, Any], list]
    check: Callable[[Any, Any, Any], None] = lambda model, options, split: None
    needs_categories: Callable[[Any], bool] = lambda options: False
    find_unused_parameters: bool = False


def wordpiece_tokenizer(model: Any, vocab: Any) -> Any:
    """BERT WordPiece ids cut to the model's `config.max_tokens` (ReLA's and LAVT's, which ReLA copied)."""
    from grefbench.models.text.bert import ReferringTokenizer

    return ReferringTokenizer(vocab, max_tokens=int(model.config.max_tokens))


def family_of(model: Any) -> ModelFamily:
    """The registered family of a model (its class names it in `family_name`, as HF configs name a model_type)."""
    from grefbench.errors import UsageError
    from grefbench.models.registry import get_model_spec

    name = getattr(model, "family_name", None)
    if name is None:
        raise UsageError(f"{type(model).__name__} names no model family (class attribute family_name)")
    return get_model_spec(name)


def save_checkpoint(model: Any, path: Any, *, include_text_encoder: bool = True) -> None:
    """Write a model's weights in its family's checkpoint format (atomic); `load_model` reads it back."""
    family_of(model).save(model, path, include_text_encoder=include_text_encoder)
