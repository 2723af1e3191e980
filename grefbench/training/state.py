"""Resumable training state: model, optimizer, scaler, step and RNG states in one atomic file.

Read back with `torch.load(weights_only=True)`: everything in it is tensors and plain data.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grefbench.errors import CheckpointError
from grefbench.io.atomic import atomic_path


def save_state(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, step: int,
               settings: dict[str, Any]) -> None:
    """Write the full training state atomically."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "step": step,
        "settings": settings,
        "rng": {
            "torch": torch.get_rng_state(),
            "numpy": np.random.get_state()[1].tolist(),
            "numpy_position": int(np.random.get_state()[2]),
            "python": list(random.getstate()[1]),
        },
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state(path: Path) -> dict[str, Any]:
    """Read a training state written by `save_state`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means a damaged file
        raise CheckpointError(f"training state {path} cannot be read ({error}); remove it to start over") from None


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng"]["torch"])
    numpy_state = np.random.get_state()
    np.random.set_state((numpy_state[0], np.array(state["rng"]["numpy"], dtype=np.uint32),
                         state["rng"]["numpy_position"], 0, 0.0))
    random.setstate((3, tuple(state["rng"]["python"]), None))
