"""The model registry: names, "did you mean", and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grefbench.errors import UsageError
from grefbench.models import MODELS, get_model_spec, list_models, load_model


def test_families_are_registered_with_their_presets():
    assert list_models() == sorted(MODELS) == ["lavt", "rela"]
    assert get_model_spec("rela").presets == ("rela_r50", "rela_swin_t", "rela_swin_b", "rela_tiny")
    assert get_model_spec("lavt").presets == ("lavt_swin_b", "lavt_tiny")


def test_unknown_names_suggest_close_ones():
    with pytest.raises(UsageError, match=r"Unknown model 'relaa'\. Did you mean: rela\? Available: lavt, rela"):
        load_model("relaa")
    with pytest.raises(UsageError) as error:
        load_model("unet")
    assert "Did you mean" not in str(error.value) and "Available: lavt, rela" in str(error.value)


def test_rela_needs_a_config_or_weights():
    with pytest.raises(UsageError, match="needs a config"):
        load_model("rela")


def test_importing_the_models_package_imports_neither_torch_nor_transformers():
    code = ("import sys, grefbench.models, grefbench.models.rela, grefbench.models.lavt; "
            "grefbench.models.list_models(); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
