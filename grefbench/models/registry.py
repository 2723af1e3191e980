"""The model registry: one `ModelFamily` per name, `load_model`, `list_models` and the demo weights.

Family entries import their model code when called, so importing the registry (and listing
models) loads neither the models' torch modules nor transformers.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from grefbench.errors import CheckpointError, UsageError
from grefbench.models.family import ModelFamily
from grefbench.models.lavt.family import LAVT
from grefbench.models.rela.family import RELA

MODELS: dict[str, ModelFamily] = {family.name: family for family in (RELA, LAVT)}


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelFamily:
    """The registry entry of `name`; an unknown name is a UsageError suggesting close names."""
    if name in MODELS:
        return MODELS[name]
    close = difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.6)
    suggestion = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UsageError(f"Unknown model {name!r}.{suggestion} Available: {', '.join(list_models())}")


def load_model(
    name: str,
    *,
    config: Any = None,
    weights: str | os.PathLike | None = None,
    text_config: Any = None,
    device: str = "cpu",
) -> Any:
    """Build model `name` in eval mode on `device`, from a config (preset, yaml path or config object) and weights.

    For "rela": `config` is `rela_r50`, `rela_swin_t`, `rela_swin_b`, an official yaml (with its
    `_BASE_` chain), a detectron2 `cfg.dump()` or a `ReLAConfig`; `weights` an official
    `model_final.pth`, loaded strictly; `text_config` an optional BERT config.json (otherwise the
    text encoder's shape is read from the checkpoint). Each family's page in docs/ has its own.
    """
    return get_model_spec(name).build(config=config, weights=weights, text_config=text_config, device=device)


def demo_weights(name: str = "rela") -> Path:
    """The shipped demo weights of family `name` (see the README for each recipe)."""
    from importlib import resources

    family = get_model_spec(name)
    if family.demo_weights is None:
        raise UsageError(f"model {name!r} has no shipped demo weights; pass --weights (and --config)")
    # Located like the shipped gRefShapes (grefbench.data.synth.resources): through the package.
    path = Path(str(resources.files("grefbench").joinpath("resources", "weights", family.demo_weights)))
    if not path.is_file():
        raise CheckpointError(f"the demo weights are missing from {path} (a broken install?)")
    return path
