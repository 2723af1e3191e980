"""Shared fixtures: the shipped gRefShapes val split and prediction files with known mistakes."""

from __future__ import annotations

import pytest

from grefbench.data import load_split
from grefbench.data.catalog import default_root
from tests.reports.predictors import write_perturbed


@pytest.fixture(scope="session")
def shapes_root():
    return default_root("grefshapes")


@pytest.fixture(scope="session")
def shapes_val(shapes_root):
    return load_split(shapes_root, "grefshapes", "val")


@pytest.fixture(scope="session")
def prediction_files(tmp_path_factory, shapes_val):
    """Two rela480 prediction files on gRefShapes val: a weaker model A and a stronger model B."""
    folder = tmp_path_factory.mktemp("predictions")
    weaker = write_perturbed(folder / "a.json.gz", shapes_val, seed=0, quality=0.5, name="model A")
    stronger = write_perturbed(folder / "b.json.gz", shapes_val, seed=1, quality=0.75, name="model B")
    return weaker, stronger


@pytest.fixture(scope="session")
def analysis_a(prediction_files, shapes_val):
    from grefbench.io.predictions import read_predictions
    from grefbench.reports.analysis import analyze_predictions

    return analyze_predictions(read_predictions(prediction_files[0]), shapes_val)
