"""Training options take the family's official defaults, and a loss option of another family is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from grefbench.errors import UsageError
from grefbench.models import MODELS
from grefbench.training.loop import TrainOptions


def _options(**values) -> TrainOptions:
    return TrainOptions(data_root=Path("."), dataset="grefshapes", out=Path("out"), config="x", **values)


def test_unset_values_come_from_the_family_recipe():
    for family in MODELS.values():
        resolved = _options(model=family.name).with_family_defaults(family)
        for key, value in {**family.training.defaults, **family.training.loss_options}.items():
            assert getattr(resolved, key) == value, (family.name, key)


def test_given_values_win_over_the_recipe():
    family = MODELS["rela"]
    resolved = _options(lr=3e-4, warmup=0, dice_weight=1.0).with_family_defaults(family)
    assert (resolved.lr, resolved.warmup, resolved.dice_weight, resolved.no_target_weight) == (3e-4, 0, 1.0, 0.1)


def test_a_loss_option_the_family_lacks_is_refused():
    for family in MODELS.values():
        for key in ("dice_weight", "category_weight", "no_target_weight"):
            if key in family.training.loss_options:
                continue
            with pytest.raises(UsageError, match=f"--{key.replace('_', '-')} is not an option of {family.name}"):
                _options(model=family.name, **{key: 1.0}).with_family_defaults(family)
