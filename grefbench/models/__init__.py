"""Models for GRES: a registry of model families (`load_model`, `list_models`, `demo_weights`).

Importing this package is cheap: torch and transformers are imported when a model is built.
"""

from __future__ import annotations

from grefbench.models.family import Decoded, ModelFamily, TrainingRecipe, family_of, save_checkpoint
from grefbench.models.registry import MODELS, demo_weights, get_model_spec, list_models, load_model

__all__ = ["MODELS", "Decoded", "ModelFamily", "TrainingRecipe", "demo_weights", "family_of", "get_model_spec",
           "list_models", "load_model", "save_checkpoint"]
