"""Models for GRES: a registry of builders (`load_model`, `list_models`) and checkpoint writing.

Importing this package is cheap: torch and transformers are imported when a model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grefbench.models.registry import (
    MODELS,
    ModelSpec,
    get_model_spec,
    list_models,
    load_model,
)


DEMO_WEIGHTS = "rela_tiny_grefshapes.pth"


def demo_weights() -> Path:
    """The shipped demo model: ReLA `rela_tiny` trained on gRefShapes (see the README for its recipe)."""
    from importlib import resources

    from grefbench.errors import CheckpointError

    # Located like the shipped gRefShapes (grefbench.data.synth.resources): through the package.
    path = Path(str(resources.files("grefbench").joinpath("resources", "weights", DEMO_WEIGHTS)))
    if not path.is_file():
        raise CheckpointError(f"the demo weights are missing from {path} (a broken install?)")
    return path


def save_checkpoint(model: Any, path: Any) -> None:
    """Write a model's weights in the official `{"model": state_dict}` format (atomic); `load_model` reads it."""
    from grefbench.models.rela.checkpoint import save_checkpoint as save

    save(model, path)


__all__ = ["MODELS", "ModelSpec", "demo_weights", "get_model_spec", "list_models", "load_model", "save_checkpoint"]
