"""Submission folders: the checked-in ones validate; every kind of bad input gets a clear message."""

from pathlib import Path

import pytest

from grefbench.errors import SubmissionError
from grefbench.reports.submissions import (
    discover_submissions,
    load_submission,
    safe_link,
    validate_submission,
)
from tests.reports.predictors import write_perturbed

REPOSITORY = Path(__file__).resolve().parents[2]
METADATA = "name: Demo\nbackbone: none\nprotocol: rela480\ndate: 2025-01-02\ncode: https://example.org/demo\n"
REPORTED = """source: {repository: owner/name, path: README.md}
results:
  - {dataset: grefcoco, split: val, protocol: rela480, cIoU: 50.5, gIoU: 51}
"""


def _folder(root: Path, name: str = "demo", metadata: str | None = METADATA, reported: str | None = REPORTED) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    if metadata is not None:
        (folder / "submission.yaml").write_text(metadata)
    if reported is not None:
        (folder / "reported.yaml").write_text(reported)
    return folder


def test_checked_in_submissions_validate():
    folders = discover_submissions(REPOSITORY / "submissions")
    assert {f.name for f in folders} >= {"rela-swin-b", "gsva-7b", "cohd-swin-b", "deris-l"}
    for folder in folders:
        submission, checked = validate_submission(folder)
        assert submission.reported or submission.predictions
        assert checked


def test_a_valid_folder_with_predictions(tmp_path, shapes_val):
    folder = _folder(tmp_path, reported=None)
    write_perturbed(folder / "predictions" / "grefshapes" / "val.json.gz", shapes_val)
    submission, checked = validate_submission(folder)
    assert submission.metadata == {"name": "Demo", "backbone": "none", "protocol": "rela480", "date": "2025-01-02",
                                   "code": "https://example.org/demo"}
    assert "coverage of grefshapes val" in checked[0]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: _folder(root, metadata=None), r"submission .*demo: has no submission.yaml"),
        (lambda root: _folder(root, metadata="name: x\nmodel_name: y\n"),
         r"demo/submission.yaml: unknown key 'model_name'.*Allowed: name, backbone"),
        (lambda root: _folder(root, metadata="backbone: x\n"), r"demo/submission.yaml: the model 'name' is required"),
        (lambda root: _folder(root, metadata="name: [1, 2\n"), r"demo/submission.yaml: is not valid YAML at line"),
        (lambda root: _folder(root, metadata="- a list\n"), r"submission.yaml: must be a mapping"),
        (lambda root: _folder(root, metadata="name: x\ndate: yesterday\n"), r"'date' must be YYYY-MM-DD"),
        (lambda root: _folder(root, metadata="name: x\nprotocol: 512px\n"), r"'protocol' is '512px'"),
        (lambda root: _folder(root, reported=None), r"has neither prediction files"),
        (lambda root: _folder(root, reported=REPORTED.replace("cIoU: 50.5", "cIoU: 150")),
         r"demo/reported.yaml: results\[0\]: 'cIoU' is 150, out of range"),
        (lambda root: _folder(root, reported=REPORTED.replace("cIoU: 50.5", "cIoU: '50'")), r"must be a number"),
        (lambda root: _folder(root, reported=REPORTED.replace("cIoU: 50.5", "mIoU: 50.5")),
         r"results\[0\]: grefcoco does not report 'mIoU' \(its metrics: cIoU, gIoU"),
        (lambda root: _folder(root, reported=REPORTED.replace("cIoU: 50.5", "mAP: 50.5")),
         r"unknown key 'mAP' in results\[0\]"),
        (lambda root: _folder(root, reported=REPORTED.replace("dataset: grefcoco, split: val, protocol: rela480, cIoU: 50.5, gIoU: 51",
                                                                "dataset: refzom, split: test, protocol: refzom480, cIoU: 50.5")),
         r"results\[0\]: refzom does not report 'cIoU' \(its metrics: oIoU, mIoU, Acc"),
        (lambda root: _folder(root, reported=REPORTED.replace("dataset: grefcoco, split: val, protocol: rela480, cIoU: 50.5, gIoU: 51",
                                                                "dataset: rrefcoco, split: val, protocol: refzom480, r: 50.5")),
         r"results\[0\]: protocol 'refzom480' does not belong to rrefcoco"),
        (lambda root: _folder(root, reported=REPORTED.replace("protocol: rela480", "protocol: rrefcoco480")),
         r"results\[0\]: protocol 'rrefcoco480' does not belong to grefcoco"),
        (lambda root: _folder(root, reported=REPORTED.replace("{repository: owner/name, path: README.md}", "{note: x}")),
         r"must cite an arXiv id"),
        (lambda root: _folder(root, reported=REPORTED.replace("path: README.md", "path: README.md, arxiv: '12'")),
         r"source.arxiv '12' is not an arXiv id"),
        (lambda root: _folder(root, reported=REPORTED.replace("split: val", "split: test")), r"grefcoco has no split 'test'"),
        (lambda root: _folder(root, reported=REPORTED + "extra: 1\n"), r"unknown key 'extra'"),
        (lambda root: _folder(root, name="bad name"), r"folder names may hold letters"),
    ],
)
def test_bad_folders_get_a_clear_message(tmp_path, build, message):
    folder = build(tmp_path)
    with pytest.raises(SubmissionError, match=message):
        validate_submission(folder)


def test_unexpected_files_are_named(tmp_path):
    folder = _folder(tmp_path)
    (folder / "metadata.yml").write_text("name: x\n")
    with pytest.raises(SubmissionError, match=r"demo/metadata.yml: unexpected file"):
        load_submission(folder)


def test_prediction_file_for_another_split(tmp_path, shapes_val):
    folder = _folder(tmp_path, reported=None)
    write_perturbed(folder / "predictions" / "grefshapes" / "testA.json.gz", shapes_val)  # holds val
    with pytest.raises(SubmissionError, match=r"demo/predictions/grefshapes/testA.json.gz: is a prediction file for "
                                              r"split 'val' \(its 'split' field\), but its name says 'testA'"):
        validate_submission(folder)


def test_prediction_file_names_are_checked(tmp_path, shapes_val):
    folder = _folder(tmp_path, reported=None)
    target = folder / "predictions" / "grefshapes" / "validation.json"
    write_perturbed(target, shapes_val)
    with pytest.raises(SubmissionError, match=r"grefshapes has no split 'validation'. Available: train, val"):
        load_submission(folder)
    target.unlink()
    (folder / "predictions" / "grefshape").mkdir()
    with pytest.raises(SubmissionError, match=r"predictions/grefshape: unknown dataset 'grefshape'"):
        load_submission(folder)


def test_prediction_file_protocol_must_match_the_metadata(tmp_path, shapes_val):
    folder = _folder(tmp_path, metadata=METADATA.replace("rela480", "native"), reported=None)
    write_perturbed(folder / "predictions" / "grefshapes" / "val.json.gz", shapes_val)
    with pytest.raises(SubmissionError, match=r"protocol 'rela480' differs from 'native' in submission.yaml"):
        validate_submission(folder)


def test_a_broken_prediction_file_names_the_folder_and_file(tmp_path):
    folder = _folder(tmp_path, reported=None)
    (folder / "predictions" / "grefshapes").mkdir(parents=True)
    (folder / "predictions" / "grefshapes" / "val.json").write_text('{"format": "grefbench-predictions/1"')
    with pytest.raises(SubmissionError, match=r"demo/predictions/grefshapes/val.json: truncated JSON"):
        validate_submission(folder)


def test_non_http_links_are_dropped_on_load_and_refused_by_validate(tmp_path):
    folder = _folder(tmp_path, metadata="name: x\npaper: javascript:alert(1)\ncode: ftp://example.org/c\n")
    submission = load_submission(folder)
    assert "paper" not in submission.metadata and "code" not in submission.metadata
    assert len(submission.warnings) == 2
    with pytest.raises(SubmissionError, match=r"'paper' link 'javascript:alert\(1\)' is not an http\(s\) URL; only"):
        validate_submission(folder)


@pytest.mark.parametrize(
    ("value", "kept"),
    [("https://a.org/x?y=1", True), ("http://a.org", True), ("HTTPS://A.ORG", True), ("javascript:alert(1)", False),
     ("data:text/html,x", False), ("//a.org", False), ("https://a.org/x y", False), ("https://", False),
     ("file:///etc/passwd", False), (" https://a.org", False), (None, False), (3, False)],
)
def test_safe_link(value, kept):
    assert safe_link(value) == (value if kept else None)
