"""Shared fixtures: the shipped gRefShapes val split and prediction files with known mistakes."""

from __future__ import annotations

import pytest

from grefbench.data import load_split
from grefbench.data.catalog import default_root
from tests.reports.predictors import write_perturbed

REPORTED = """source: {repository: owner/name, path: README.md, commit: 0123456789abcdef0123456789abcdef01234567}
results:
  - {dataset: grefshapes, split: val, protocol: rela480, cIoU: 12.5, gIoU: 13.25}
  - {dataset: grefcoco, split: val, protocol: unspecified, cIoU: 50, gIoU: 51, note: from Table 1}
"""


@pytest.fixture
def submissions(tmp_path, shapes_val):
    """A submissions folder: one verified (gRefShapes val), one reported, one with hostile metadata."""
    root = tmp_path / "submissions"
    verified = root / "verified-model"
    write_perturbed(verified / "predictions" / "grefshapes" / "val.json.gz", shapes_val, quality=0.8)
    (verified / "submission.yaml").write_text("name: Verified model\nbackbone: Swin-B\nprotocol: rela480\n")
    reported = root / "paper-model"
    reported.mkdir(parents=True)
    (reported / "submission.yaml").write_text("name: Paper model\npaper: https://arxiv.org/abs/2306.00968\n")
    (reported / "reported.yaml").write_text(REPORTED)
    hostile = root / "hostile"
    hostile.mkdir()
    (hostile / "submission.yaml").write_text(
        "name: <script>alert(1)</script>\ncode: javascript:alert(2)\npaper: https://example.org/p\n"
        "notes: '<img src=x onerror=alert(3)>'\n")
    (hostile / "reported.yaml").write_text(REPORTED.replace("cIoU: 12.5", "cIoU: 99"))
    return root


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
