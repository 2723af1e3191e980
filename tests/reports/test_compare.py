"""Model comparison: deltas, wins per class, refusals, the comparison document."""

import numpy as np
import pytest

from grefbench.errors import UsageError
from grefbench.io.predictions import read_predictions, write_predictions
from grefbench.reports.analysis import analyze_predictions
from grefbench.reports.compare import compare_analyses, compare_files
from grefbench.reports.documents import comparison_document
from grefbench.scoring import score_file


def test_compare_two_models(prediction_files, shapes_root, analysis_a, shapes_val):
    analysis_b = analyze_predictions(read_predictions(prediction_files[1]), shapes_val)
    comparison = compare_analyses(analysis_a, analysis_b, resamples=200, seed=0)
    scored_b = score_file(prediction_files[1], shapes_root, "grefshapes", "val")
    assert comparison.bootstrap.metrics["gIoU"]["b"] == pytest.approx(scored_b.metrics["gIoU"])
    assert comparison.verdict.startswith("model B is better than model A")
    table = comparison.win_loss.set_index("class_a")
    assert (table["wins_b"] + table["losses_b"] + table["ties"] == table["sentences"]).all()
    assert table.loc["all", "sentences"] == len(shapes_val)
    assert table.drop("all")["sentences"].sum() == len(shapes_val)
    exact = (analysis_a.frame["iou"] == 1.0).to_numpy()
    assert not (comparison.paired["iou_delta"].to_numpy()[exact] > 0).any()  # nothing beats an IoU of 1
    assert int(comparison.transitions.to_numpy().sum()) == len(shapes_val)
    top = comparison.largest_disagreements(5)
    assert len(top) == 5 and (np.diff(top["magnitude"].to_numpy()) <= 0).all()
    document = comparison_document(comparison, gallery_size=2)
    assert len(document["gallery"]) == 2 and document["gallery"][0]["image"].startswith("data:image/jpeg;base64,")
    assert document["verdict"] == comparison.verdict


def test_compare_refuses_files_of_different_protocols(prediction_files, shapes_val, tmp_path, shapes_root):
    native = write_predictions(tmp_path / "native.json", dataset="grefshapes", split="val", protocol="native",
                               model={"name": "n"}, entries=[{"sent_id": r.sent_id, "no_target": True}
                                                             for r in shapes_val.records])
    with pytest.raises(UsageError, match="protocol 'rela480' differs from 'native'"):
        compare_files(prediction_files[0], native, shapes_root, resamples=10)
