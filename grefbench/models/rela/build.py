"""Building a ReLA model from a config and optional official weights (the registry's "rela" builder)."""

from __future__ import annotations

import os
from typing import Any, Mapping

import torch

from grefbench.errors import CheckpointError, UsageError
from grefbench.models.rela.checkpoint import (
    describe_state_dict,
    load_state_dict_strict,
    read_checkpoint,
)
from grefbench.models.rela.config import ReLAConfig, config_from_dict, load_config
from grefbench.models.rela.presets import PRESETS
from grefbench.models.text.bert import (
    make_text_config,
    read_text_config,
    text_config_for,
    text_config_from_state_dict,
)
from grefbench.models.text.pretrained import SOURCES, pretrained_text


def build_rela(
    *,
    config: "str | os.PathLike | ReLAConfig | None" = None,
    weights: str | os.PathLike | None = None,
    text_config: "str | os.PathLike | Mapping[str, Any] | None" = None,
    device: str | torch.device = "cpu",
    load_lang_weight: bool = False,
    text_weights: str | None = None,
) -> torch.nn.Module:
    """An eval-mode ReLA: `config` a preset / yaml / ReLAConfig, `weights` an official `model_final.pth`.

    Without `config`, a grefbench checkpoint's stored config is used, or the preset an official
    checkpoint's backbone identifies. The text encoder's shape comes from `text_config` (a BERT
    config.json or dict), else the checkpoint (stored config, or inferred from its tensors with
    heads = width / 64), else REFERRING.BERT_TYPE. Loading is strict (see `checkpoint.py`).

    `text_weights` names a pretrained text encoder that ships with a package (see
    `text_weights.py`) to start from; a checkpoint saved without its text encoder names its
    source itself, and the tensors come from there.
    """
    from grefbench.models.rela.model import ReLA

    checkpoint = read_checkpoint(weights) if weights is not None else None
    source = f"checkpoint {os.fspath(weights)}" if weights is not None else ""
    if config is not None:
        resolved = load_config(config)
    elif checkpoint is not None and isinstance(checkpoint.get("grefbench_config"), Mapping):
        resolved = config_from_dict(checkpoint["grefbench_config"], origin=source)
    elif checkpoint is not None:
        preset, description = describe_state_dict(checkpoint["model"])
        if preset is None:
            raise CheckpointError(
                f"{source}: cannot tell which ReLA config it needs ({description}); pass config "
                f"(one of {', '.join(PRESETS)} or an official yaml)"
            )
        resolved = load_config(preset)
    else:
        raise UsageError(f"model 'rela' needs a config (one of {', '.join(PRESETS)} or a yaml path) or weights")

    source_name = text_weights or (checkpoint or {}).get("text_encoder_source")
    if source_name is None and checkpoint is None and text_config is None and resolved.bert_type in SOURCES:
        source_name = resolved.bert_type  # e.g. rela_tiny: REFERRING.BERT_TYPE "minilm-l6"
    text_state: dict[str, torch.Tensor] = {}
    if source_name is not None:
        text, text_state = pretrained_text(str(source_name))
        if text_config is not None:
            raise UsageError("give either a text config or pretrained text weights, not both")
    elif text_config is not None:
        text = read_text_config(text_config)
    elif checkpoint is not None and isinstance(checkpoint.get("text_config"), Mapping):
        text = make_text_config(checkpoint["text_config"])
    elif checkpoint is not None:
        text = text_config_from_state_dict(checkpoint["model"])
    else:
        text = text_config_for(resolved.bert_type)

    model = ReLA(resolved, text)
    model.text_encoder_source = source_name
    if checkpoint is not None:
        state = checkpoint["model"]
        if checkpoint.get("text_encoder_source") is not None:
            overlap = [k for k in state if k.startswith("text_encoder.")]
            if overlap:
                raise CheckpointError(f"{source} names a text-encoder source but also holds {overlap[0]}")
            state = {**state, **text_state}
        load_state_dict_strict(model, state, source=source, load_lang_weight=load_lang_weight)
    elif text_state:
        model.load_state_dict({**model.state_dict(), **text_state}, strict=True)
    return model.to(_device(device)).eval()


def _device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise UsageError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N)") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {device!r} asked for but CUDA is not available here")
    return resolved
