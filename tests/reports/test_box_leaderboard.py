"""GREC in submissions and the leaderboard: box files as verified rows, reported GREC results, GREC tables."""

import json

import pytest

from grefbench.baselines.trivial import write_trivial_boxes
from grefbench.errors import SubmissionError
from grefbench.grec_scoring import score_box_file
from grefbench.metrics.grec import PRECISION_NAME
from grefbench.reports.leaderboard import build_leaderboard
from grefbench.reports.submissions import load_submission, validate_submission

REPORTED_GREC = """source: {repository: owner/name, path: README.md, quote: "| Model | 40.00 | 60.00 |"}
results:
  - {dataset: grefshapes, split: val, task: grec, "Pr@(F1=1,IoU>=0.5)": 40.0, N-acc: 60.0}
"""


@pytest.fixture
def submissions(tmp_path, shapes_val):
    root = tmp_path / "submissions"
    boxes = root / "every-box"
    write_trivial_boxes(shapes_val, boxes / "boxes" / "grefshapes" / "val.json.gz")
    (boxes / "submission.yaml").write_text("name: Every box\nbackbone: none\n")
    paper = root / "paper-grec"
    paper.mkdir()
    (paper / "submission.yaml").write_text("name: Paper GREC model\n")
    (paper / "reported.yaml").write_text(REPORTED_GREC)
    return root


def test_grec_tables_hold_verified_and_reported_rows(submissions, tmp_path, shapes_root):
    report = build_leaderboard(submissions, tmp_path / "site", gallery_per_class=0)
    assert report.reported_rows == 1
    results = json.loads((tmp_path / "site" / "results.json").read_text())
    assert results["tables"] == []
    (table,) = results["grec_tables"]
    assert table["title"] == "GREC · grefshapes · val"
    expected = score_box_file(submissions / "every-box" / "boxes" / "grefshapes" / "val.json.gz", shapes_root).metrics
    rows = {row["name"]: row for row in table["rows"]}
    assert rows["Every box"]["metrics"] == expected and rows["Every box"]["status"] == "verified"
    assert rows["Paper GREC model"]["metrics"][PRECISION_NAME] == 40.0
    assert [row["name"] for row in table["rows"]] == ["Paper GREC model", "Every box"]  # best Pr first
    index = (tmp_path / "site" / "index.html").read_text()
    assert "GREC · grefshapes · val" in index and "Pr@(F1=1,IoU&gt;=0.5)" in index
    assert "GREC (boxes)" in (tmp_path / "site" / "submissions" / "every-box.html").read_text()
    paper = (tmp_path / "site" / "submissions" / "paper-grec.html").read_text()
    assert "Published numbers" in paper and "| Model | 40.00 | 60.00 |" in paper and "GREC (boxes)" in paper


def test_box_files_validate_and_bad_ones_are_named(submissions, shapes_val):
    _, checked = validate_submission(submissions / "every-box")
    assert any("box predictions (GREC)" in line and "coverage" in line for line in checked)
    moved = submissions / "every-box" / "boxes" / "grefshapes" / "testA.json.gz"
    (submissions / "every-box" / "boxes" / "grefshapes" / "val.json.gz").rename(moved)
    with pytest.raises(SubmissionError, match=r"boxes/grefshapes/testA.json.gz: is a box file for grefshapes val"):
        validate_submission(submissions / "every-box")


@pytest.mark.parametrize("result, message", [
    ('{dataset: grefshapes, split: val, task: grec, cIoU: 40.0}', "'cIoU' is not a GREC metric"),
    ('{dataset: grefshapes, split: val, task: grec}', "has no metric"),
    ('{dataset: grefshapes, split: val, task: boxes, N-acc: 1}', "'task' is 'boxes'"),
    ('{dataset: grefshapes, split: val, protocol: rela480, "Pr@(F1=1,IoU>=0.5)": 4}', "is not a GRES metric"),
])
def test_reported_grec_results_are_checked(tmp_path, result, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "submission.yaml").write_text("name: Bad\n")
    (folder / "reported.yaml").write_text(f"source: {{repository: owner/name, path: README.md}}\nresults:\n  - {result}\n")
    with pytest.raises(SubmissionError, match=message):
        load_submission(folder)
