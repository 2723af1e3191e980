"""The model registry: one builder per model name, `load_model` and `list_models`.

Builders import their model code when called, so importing the registry (and listing models)
loads neither torch modules of the models nor transformers.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable

from grefbench.errors import UsageError
from grefbench.models.rela.presets import PRESETS as RELA_PRESETS  # plain data, no torch


def _build_rela(**options: Any) -> Any:
    from grefbench.models.rela.build import build_rela

    return build_rela(**options)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its builder, a one-line summary and the config presets it accepts."""

    name: str
    summary: str
    presets: tuple[str, ...]
    build: Callable[..., Any]


MODELS: dict[str, ModelSpec] = {
    "rela": ModelSpec(
        name="rela",
        summary="ReLA (henghuiding/ReLA, CVPR 2023) with official checkpoints: ResNet-50, Swin-T, Swin-B",
        presets=tuple(RELA_PRESETS),
        build=_build_rela,
    ),
}


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(MODELS)


def get_model_spec(name: str) -> ModelSpec:
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
    text encoder's shape is read from the checkpoint).
    """
    spec = get_model_spec(name)
    return spec.build(config=config, weights=weights, text_config=text_config, device=device)
