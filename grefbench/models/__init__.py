"""Models for GRES: a registry of builders (`load_model`, `list_models`) and checkpoint writing.

Importing this package is cheap: torch and transformers are imported when a model is built.
"""

from __future__ import annotations

from typing import Any

from grefbench.models.registry import (
    MODELS,
    ModelSpec,
    get_model_spec,
    list_models,
    load_model,
)


def save_checkpoint(model: Any, path: Any) -> None:
    """Write a model's weights in the official `{"model": state_dict}` format (atomic); `load_model` reads it."""
    from grefbench.models.rela.checkpoint import save_checkpoint as save

    save(model, path)


__all__ = ["MODELS", "ModelSpec", "get_model_spec", "list_models", "load_model", "save_checkpoint"]
