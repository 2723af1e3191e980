"""The reports commands as a user runs them: outputs, terminal summary, and bad input."""

import pytest

from grefbench.io.tables import read_table_provenance
from tests.reports.cli_app import run


def test_analyze_writes_html_and_csv(prediction_files, tmp_path, capsys):
    html, csv = tmp_path / "report.html", tmp_path / "sentences.csv"
    assert run(["analyze", prediction_files[0], "--html", html, "--csv", csv, "--gallery", "1"]) == 0
    out = capsys.readouterr().out
    assert "failure classes" in out and "partial multi-target" in out and "Linguistic cue" in out
    import pandas as pd

    frame = pd.read_csv(csv, comment="#")
    assert len(frame) == 923 and {"failure_class", "counting", "target_size", "category", "iou"} <= set(frame.columns)
    breakdowns = pd.read_csv(tmp_path / "sentences-breakdowns.csv", comment="#")
    assert set(breakdowns["breakdown"]) == {"target_kind", "n_targets", "length", "cue", "target_size", "category",
                                            "failure_class"}
    assert read_table_provenance(csv)["protocol"] == "rela480"
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "Gallery" in page


def test_analyze_refuses_bad_input_without_writing(prediction_files, tmp_path, capsys):
    html = tmp_path / "report.html"
    assert run(["analyze", prediction_files[0], "--html", html, "--split", "testA"]) == 2
    assert "field 'split' is 'val' but split 'testA' is being scored" in capsys.readouterr().err
    assert run(["analyze", prediction_files[0], "--html", tmp_path / "report.txt"]) == 2
    assert "expected a .html file name" in capsys.readouterr().err
    assert run(["analyze", tmp_path / "missing.json"]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not html.exists()


def test_compare_prints_a_verdict(prediction_files, tmp_path, capsys):
    html, csv = tmp_path / "compare.html", tmp_path / "paired.csv"
    args = ["compare", *prediction_files, "--resamples", "200", "--html", html, "--csv", csv, "--gallery", "2"]
    assert run(args) == 0
    out = capsys.readouterr().out
    assert "model B is better than model A" in out and "B wins" in out
    assert "Largest disagreements" in html.read_text()
    assert run([*args[:-4], "--quiet"]) == 0
    assert capsys.readouterr().out.strip().startswith("model B is better than model A on gIoU and cIoU")


def test_validate_folder_messages(tmp_path, capsys):
    folder = tmp_path / "empty-submission"
    folder.mkdir()
    assert run(["validate", folder]) == 2
    assert f"submission {folder}: has no submission.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["rela-swin-b", "gsva-7b"])
def test_validate_checked_in_folder(name, capsys):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "submissions" / name
    assert run(["validate", folder]) == 0
    assert "reported.yaml: " in capsys.readouterr().out


def test_leaderboard_build_command(tmp_path, capsys):
    from pathlib import Path

    submissions = Path(__file__).resolve().parents[2] / "submissions"
    assert run(["leaderboard", "build", "--submissions", submissions, "--out", tmp_path / "site"]) == 0
    files = len(list(submissions.glob("*/predictions/*/*.json*")))  # the checked-in verified rows
    assert files >= 9 and f"{files} prediction files scored, 0 reused" in " ".join(capsys.readouterr().out.split())
    assert (tmp_path / "site" / "index.html").is_file()
