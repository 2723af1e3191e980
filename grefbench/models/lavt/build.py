"""Building a LAVT model from a preset / config and optional official weights (the registry's "lavt" builder)."""

from __future__ import annotations

import os
from typing import Any, Mapping

import torch

from grefbench.errors import CheckpointError, UsageError
from grefbench.models.lavt.checkpoint import (
    checkpoint_state,
    infer_config,
    load_lavt_state_strict,
    read_lavt_checkpoint,
)
from grefbench.models.lavt.config import LAVTConfig, config_from_dict, load_config
from grefbench.models.lavt.presets import PRESETS
from grefbench.models.rela.build import _device
from grefbench.models.text.bert import (
    TEXT_PREFIX,
    make_text_config,
    read_text_config,
    text_config_for,
    text_config_from_state_dict,
)
from grefbench.models.text.pretrained import SOURCES, pretrained_text


def build_lavt(
    *,
    config: "str | LAVTConfig | Mapping[str, Any] | None" = None,
    weights: str | os.PathLike | None = None,
    text_config: "str | os.PathLike | Mapping[str, Any] | None" = None,
    device: str | torch.device = "cpu",
    text_weights: str | None = None,
) -> torch.nn.Module:
    """An eval-mode LAVT: `config` a preset name / LAVTConfig, `weights` an official (or grefbench) checkpoint.

    Without `config`, a grefbench checkpoint's stored config is used, else the architecture is read
    from the checkpoint's tensors (and its `args` for the PWAM heads). The text encoder's shape
    comes from `text_config` (a BERT config.json or dict), else the checkpoint (stored config, or
    its BERT tensors with heads = width / 64), else `config.text_encoder`. `text_weights` names a
    packaged pretrained text encoder (`minilm-l6`) to start from; a checkpoint saved without its
    text encoder names its source itself. Loading is strict (see `checkpoint.py`).
    """
    from grefbench.models.lavt.model import LAVT

    checkpoint = read_lavt_checkpoint(weights) if weights is not None else None
    source = f"checkpoint {os.fspath(weights)}" if weights is not None else ""
    state = checkpoint_state(checkpoint, source=source) if checkpoint is not None else None
    if config is not None:
        resolved = load_config(config)
    elif checkpoint is not None and isinstance(checkpoint.get("grefbench_config"), Mapping):
        resolved = config_from_dict(checkpoint["grefbench_config"], origin=source)
    elif checkpoint is not None:
        resolved = load_config(infer_config(state, checkpoint.get("args"), source=source))
    else:
        raise UsageError(f"model 'lavt' needs a config (one of {', '.join(PRESETS)}) or weights")

    source_name = text_weights or (checkpoint or {}).get("text_encoder_source")
    if source_name is None and checkpoint is None and text_config is None and resolved.text_encoder in SOURCES:
        source_name = resolved.text_encoder  # e.g. lavt_tiny: the packaged MiniLM-L6
    text_state: dict[str, torch.Tensor] = {}
    if source_name is not None:
        if text_config is not None:
            raise UsageError("give either a text config or pretrained text weights, not both")
        text, text_state = pretrained_text(str(source_name))
    elif text_config is not None:
        text = read_text_config(text_config)
    elif checkpoint is not None and isinstance(checkpoint.get("text_config"), Mapping):
        text = make_text_config(checkpoint["text_config"])
    elif state is not None and any(k.startswith(TEXT_PREFIX) for k in state):
        text = text_config_from_state_dict(state)
    else:
        text = text_config_for(resolved.text_encoder)

    model = LAVT(resolved, text)
    model.text_encoder_source = source_name
    if state is not None:
        if checkpoint.get("text_encoder_source") is not None:
            inside = [k for k in state if k.startswith(TEXT_PREFIX)]
            if inside:
                raise CheckpointError(f"{source} names a text-encoder source but also holds {inside[0]}")
            state = {**state, **text_state}
        elif text_weights is not None:
            # Packaged text weights asked for explicitly replace the checkpoint's own.
            state = {**{k: v for k, v in state.items() if not k.startswith(TEXT_PREFIX)}, **text_state}
        load_lavt_state_strict(model, state, source=source)
    elif text_state:
        model.load_state_dict({**model.state_dict(), **text_state}, strict=True)
    return model.to(_device(device)).eval()
