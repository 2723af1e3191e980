"""Reading, strict loading and writing of ReLA checkpoints in the official `model_final.pth` format.

A checkpoint is `{"model": state_dict}` (detectron2's format; grefbench adds `"text_config"` and
`"grefbench_config"` so its own checkpoints rebuild without arguments). Loading is strict: every
key of the checkpoint is consumed and every parameter of the model is set, with matching shapes.
Two official quirks are kept:

- `text_encoder.embeddings.position_ids` (a buffer older transformers saved) is accepted and ignored;
- `sem_seg_head.predictor.lang_weight` is consumed but NOT loaded by default: the official decoder
  never loads it, so the published numbers use its initial value 0.0
  (`load_lang_weight=True` loads it instead).
"""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

import torch
from torch import nn

from grefbench.errors import CheckpointError
from grefbench.io.atomic import atomic_path
from grefbench.models.checkpoints import check_state_dict, load_torch_file
from grefbench.models.rela.presets import PRESET_TITLES

POSITION_IDS_KEY = "text_encoder.embeddings.position_ids"
LANG_WEIGHT_KEY = "sem_seg_head.predictor.lang_weight"


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file safely (`weights_only=True`) into `{"model": state_dict, ...}`.

    A bare state dict (all tensors) is accepted and wrapped. Unreadable, corrupt or
    unexpected content raises CheckpointError naming the file.
    """
    path = os.fspath(path)
    content = load_torch_file(path)  # a refused global is named, never torch's advice to load unsafely
    if isinstance(content, Mapping) and "model" in content:
        state_dict = content["model"]
    elif isinstance(content, Mapping) and content and all(isinstance(v, torch.Tensor) for v in content.values()):
        state_dict, content = content, {"model": content}
    else:
        raise CheckpointError(f"checkpoint {path} has no \"model\" state dict (expected detectron2's model_final.pth)")
    if not isinstance(state_dict, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()
    ):
        raise CheckpointError(f"checkpoint {path}: \"model\" is not a state dict of named tensors")
    result = dict(content)
    result["model"] = dict(state_dict)
    return result


def describe_state_dict(state_dict: Mapping[str, torch.Tensor]) -> tuple[str | None, str]:
    """Guess which official model a state dict belongs to: (preset name or None, description)."""
    if "backbone.stem.conv1.weight" in state_dict:
        blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r"backbone\.res4\.(\d+)\.", k))}
        depth = {6: 50, 23: 101, 36: 152}.get(len(blocks))
        name = "rela_r50" if depth == 50 else None
        return name, f"ResNet-{depth or '?'} backbone ({len(blocks)} res4 blocks)"
    if "backbone.patch_embed.proj.weight" in state_dict:
        embed_dim = state_dict["backbone.patch_embed.proj.weight"].shape[0]
        stages: dict[int, set[int]] = {}
        for key in state_dict:
            if m := re.match(r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.", key):
                stages.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
        depths = [len(stages[i]) for i in sorted(stages)]
        name = {(96, (2, 2, 6, 2)): "rela_swin_t", (128, (2, 2, 18, 2)): "rela_swin_b"}.get((embed_dim, tuple(depths)))
        return name, f"Swin backbone (embed_dim {embed_dim}, depths {depths})"
    return None, "no recognisable ReLA backbone (no backbone.stem.* or backbone.patch_embed.* keys)"


def _mismatch_hint(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> str:
    """A sentence saying which model the checkpoint looks like when it is not the configured one ("" if it is)."""
    found, description = describe_state_dict(state_dict)
    expected, _ = describe_state_dict(model.state_dict())
    if found == expected:
        return ""
    config_name = getattr(getattr(model, "config", None), "name", "") or "the given config"
    if found is None:
        return f"this is not a checkpoint of a known ReLA preset ({description}) and config {config_name} was given. "
    return (f"this looks like a {PRESET_TITLES[found]} checkpoint ({description}) but config {config_name} "
            f"was given; pass config {found}. ")


def load_state_dict_strict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str = "checkpoint",
    load_lang_weight: bool = False,
) -> None:
    """Load `state_dict` into `model`, refusing any missing, unexpected or mis-shaped key (CheckpointError)."""
    state_dict = dict(state_dict)
    state_dict.pop(POSITION_IDS_KEY, None)
    expected = model.state_dict()
    if not load_lang_weight and LANG_WEIGHT_KEY in expected:
        # Consumed, but the model keeps its own value (the official behaviour).
        state_dict[LANG_WEIGHT_KEY] = expected[LANG_WEIGHT_KEY]
    check_state_dict(expected, state_dict, source=source, hint=lambda: _mismatch_hint(state_dict, model))
    model.load_state_dict(state_dict, strict=True)


def save_checkpoint(model: nn.Module, path: str | os.PathLike, *, include_text_encoder: bool = True) -> None:
    """Write `model` as `{"model": state_dict, "text_config": ..., "grefbench_config": ...}` atomically.

    With `include_text_encoder=False` (only for a model whose text encoder came, unchanged, from a
    packaged source) the `text_encoder.*` tensors are left out and the source is named instead.
    """
    from grefbench.models.rela.config import config_to_dict
    from grefbench.models.text.bert import text_config_dict

    state_dict = {key: tensor.detach().cpu() for key, tensor in model.state_dict().items()}
    content: dict[str, Any] = {"model": state_dict}
    source = getattr(model, "text_encoder_source", None)
    if not include_text_encoder:
        if source is None:
            raise ValueError("the text encoder can only be left out when it comes from a packaged source")
        content["model"] = {k: v for k, v in state_dict.items() if not k.startswith("text_encoder.")}
        content["text_encoder_source"] = source
    if getattr(model, "text_config", None) is not None:
        content["text_config"] = text_config_dict(model.text_config)
    if getattr(model, "config", None) is not None:
        content["grefbench_config"] = config_to_dict(model.config)
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
