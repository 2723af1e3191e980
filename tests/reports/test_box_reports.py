"""`analyze` and `compare` on GREC box files: failure classes, breakdowns, paired bootstrap, gallery, outputs."""

import json

import pytest

from grefbench.cli import main
from grefbench.data import load_split
from grefbench.data.gt_boxes import ground_truth_boxes
from grefbench.io.boxes import parse_boxes
from grefbench.metrics.grec import PRECISION_NAME
from grefbench.reports.box_analysis import analyze_boxes, box_metrics_of
from grefbench.reports.box_compare import compare_box_analyses
from tests.builders import tiny_grefcoco


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


def _document(split, name, drop_second_target=False, extra_box=False):
    truth = ground_truth_boxes(split)
    entries = []
    for i, record in enumerate(split.records):
        boxes = truth.of(i).tolist()
        if drop_second_target and len(boxes) > 1:
            boxes = boxes[:1]
        if extra_box and record.sent_id == 1000:
            boxes = boxes + [[30.0, 30.0, 5.0, 5.0]]
        entries.append({"sent_id": record.sent_id, "boxes": boxes, "scores": [0.9] * len(boxes)})
    return {"format": "grefbench-boxes/1", "dataset": "grefcoco", "split": "val", "model": {"name": name},
            "predictions": entries}


def test_failure_classes_and_breakdowns(root, tmp_path):
    split = load_split(root, "grefcoco", "val")
    document = _document(split, "a", drop_second_target=True, extra_box=True)
    analysis = analyze_boxes(parse_boxes(tmp_path / "a.json", document), split)
    classes = dict(zip(analysis.frame["sent_id"], analysis.frame["failure_class"].astype(str)))
    assert classes[1000] == "extra boxes" and classes[1010] == "missing boxes" and classes[1020] == "correct"
    counts = analysis.class_counts().set_index("failure_class")["count"]
    assert counts["missing boxes"] == 3 and counts["extra boxes"] == 1 and counts["correct"] == 4
    assert box_metrics_of(analysis.frame) == {k: v for k, v in analysis.result.metrics.items()}
    kinds = analysis.breakdowns["target_kind"].set_index("group")
    assert kinds.loc["multi", PRECISION_NAME] == 0.0 and kinds.loc["no-target", "N-acc"] == 100.0


def test_paired_bootstrap_observed_values_are_the_scores(root, tmp_path):
    split = load_split(root, "grefcoco", "val")
    a = analyze_boxes(parse_boxes(tmp_path / "a.json", _document(split, "a", drop_second_target=True)), split)
    b = analyze_boxes(parse_boxes(tmp_path / "b.json", _document(split, "b")), split)
    comparison = compare_box_analyses(a, b, resamples=200, seed=1)
    precision = comparison.bootstrap.metrics[PRECISION_NAME]
    assert precision["a"] == a.result.metrics[PRECISION_NAME] and precision["b"] == 100.0
    assert precision["delta"] == pytest.approx(100.0 - a.result.metrics[PRECISION_NAME])
    assert precision["low"] <= precision["delta"] <= precision["high"]
    wins = comparison.win_loss.set_index("class_a")
    assert wins.loc["missing boxes", "wins_b"] == 3 and wins.loc["all", "losses_b"] == 0
    assert comparison.largest_disagreements(2)["f1_delta"].tolist() == pytest.approx([1 / 3, 1 / 3])


def test_analyze_and_compare_commands_write_outputs(root, tmp_path, capsys):
    split = load_split(root, "grefcoco", "val")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(_document(split, "a", drop_second_target=True)))
    second.write_text(json.dumps(_document(split, "b", extra_box=True)))
    main(["analyze", str(first), "--data-root", str(root), "--html", str(tmp_path / "a.html"),
          "--csv", str(tmp_path / "a.csv")])
    out = " ".join(capsys.readouterr().out.split())
    assert "missing boxes" in out and PRECISION_NAME in out
    page = (tmp_path / "a.html").read_text()
    assert "GREC" in page and "data:image/jpeg;base64," in page and "Content-Security-Policy" in page
    assert "kept_boxes" in (tmp_path / "a.csv").read_text() and (tmp_path / "a-breakdowns.csv").exists()
    main(["compare", str(first), str(second), "--data-root", str(root), "--resamples", "100",
          "--html", str(tmp_path / "c.html"), "--csv", str(tmp_path / "c.csv")])
    out = " ".join(capsys.readouterr().out.split())
    assert "B - A" in out and "95% paired bootstrap" in out
    assert "Largest disagreements" in (tmp_path / "c.html").read_text()
    assert "f1_delta" in (tmp_path / "c.csv").read_text()


def test_compare_refuses_a_box_file_against_a_mask_file(root, tmp_path, capsys):
    split = load_split(root, "grefcoco", "val")
    boxes = tmp_path / "a.json"
    boxes.write_text(json.dumps(_document(split, "a")))
    masks = tmp_path / "m.json"
    masks.write_text(json.dumps({"format": "grefbench-predictions/1"}))
    with pytest.raises(SystemExit) as exit:
        main(["compare", str(boxes), str(masks), "--data-root", str(root)])
    assert exit.value.code == 2
    assert "derive boxes from the mask file" in " ".join(capsys.readouterr().err.split())
