"""analyze / compare on Ref-ZOM and R-RefCOCO: failure classes per group, paired bootstrap over images."""

import json

import pandas as pd
import pytest

from grefbench.reports.zero_target import analysis_frames, classify, paired_bootstrap
from grefbench.scoring import score_file
from tests.test_cli_zero_target import RR_SENTENCES, ZOM_SENTENCES, _masks, run
from tests.zero_target_builders import document, tiny_refzom, tiny_rrefcoco


def test_classify_by_hand():
    frame = pd.DataFrame({"group": ["zero", "negative", "one", "many", "positive", "positive"],
                          "pred_area": [0, 5, 0, 10, 10, 10], "intersection": [0, 0, 0, 0, 4, 6],
                          "iou": [float("nan"), float("nan"), 0.0, 0.0, 0.4, 0.6]})
    assert classify(frame).tolist() == ["correct empty", "hallucinated", "missed", "wrong region", "partial", "hit"]


@pytest.fixture(params=["refzom", "rrefcoco"])
def scored(request, tmp_path):
    if request.param == "refzom":
        root, split, protocol, sentences = tiny_refzom(tmp_path / "d"), "test", "refzom480", ZOM_SENTENCES
    else:
        root, split, protocol, sentences = tiny_rrefcoco(tmp_path / "d"), "val", "rrefcoco480", RR_SENTENCES
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"{seed}.json"
        doc = document(request.param, split, protocol, _masks(sentences, seed))
        doc["model"]["name"] = f"model{seed}"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return root, paths


def test_bootstrap_observed_equals_scorer(scored):
    root, paths = scored
    a, b = (score_file(p, root) for p in paths)
    result = paired_bootstrap(a, b, resamples=50, seed=3)
    for name in a.metric_names:
        assert result[name]["a"] == pytest.approx(a.metrics[name], abs=1e-9)
        assert result[name]["b"] == pytest.approx(b.metrics[name], abs=1e-9)
    frame, counts = analysis_frames(a)
    assert len(frame) == len(a.split.records) and counts["group"].tolist()


def test_analyze_and_compare_commands(scored, tmp_path, capsys):
    root, (first, second) = scored
    code, out, err = run(["analyze", str(first), "--data-root", str(root), "--csv", str(tmp_path / "a.csv")], capsys)
    assert code == 0, err
    assert "failure classes" in out and (tmp_path / "a-breakdowns.csv").exists()
    code, out, err = run(["compare", str(first), str(second), "--data-root", str(root), "--resamples", "50",
                          "--csv", str(tmp_path / "c.csv")], capsys)
    assert code == 0, err
    assert "paired bootstrap over 3 images" in out and (tmp_path / "c.csv").exists()
    code, _, err = run(["analyze", str(first), "--data-root", str(root), "--html", str(tmp_path / "a.html")], capsys)
    assert code == 2 and "--html is not available" in err and not (tmp_path / "a.html").exists()
