"""Failure classes: the rules on hand-made cases, per-instance coverage on a real-format fixture,
and the analysis of a whole split (classes, breakdowns) against the scorer."""

import numpy as np
import pytest

from grefbench.data import load_split
from grefbench.data.groundtruth import instance_rle, load_ground_truth
from grefbench.data.protocols import NATIVE
from grefbench.io import rle
from grefbench.io.predictions import write_predictions
from grefbench.metrics.evaluator import FN, FP, TN, TP
from grefbench.reports.analysis import analyze_file, metrics_of
from grefbench.reports.failure_classes import FAILURE_CLASSES, classify
from grefbench.reports.instances import instance_coverage
from grefbench.scoring import score_file
from tests.builders import tiny_grefcoco

# outcome, iou, intersection, gt_area, pred_area, target_instances, covered_targets, extra_instances -> class
CASES = [
    ((TP, 1.0, 0, 0, 0, 0, 0, 0), "correct"),
    ((FN, 0.0, 0, 0, 50, 0, 0, 0), "missed no-target"),
    ((FN, 0.0, 0, 0, 0, 0, 0, 0), "missed no-target"),  # an empty mask not flagged no-target is still a mask
    ((FP, 0.0, 0, 100, 100, 1, 0, 0), "false no-target"),
    ((TN, 0.95, 95, 100, 95, 1, 1, 0), "correct"),
    ((TN, 0.9, 90, 100, 90, 1, 1, 0), "correct"),
    ((TN, 0.05, 5, 100, 5, 1, 0, 0), "wrong object"),
    ((TN, 0.0, 0, 100, 0, 1, 0, 0), "wrong object"),
    ((TN, 0.5, 50, 100, 50, 2, 1, 0), "partial multi-target"),
    ((TN, 0.5, 50, 100, 50, 1, 0, 0), "boundary"),  # one target: never "partial multi-target"
    ((TN, 0.6, 100, 100, 166, 1, 1, 1), "over-segmentation"),  # an extra instance, even at IoU 0.6
    ((TN, 0.3, 100, 100, 333, 1, 1, 0), "over-segmentation"),  # background spill
    ((TN, 0.7, 100, 100, 142, 1, 1, 0), "boundary"),  # spill, but IoU >= 0.5
    ((TN, 0.3, 30, 100, 30, 1, 0, 0), "under-segmentation"),
    ((TN, 0.89, 89, 100, 89, 3, 3, 0), "boundary"),
    ((TN, 0.4, 60, 100, 110, 3, 3, 1), "over-segmentation"),
    ((TN, 0.4, 60, 100, 110, 3, 1, 1), "partial multi-target"),  # partial wins over over-segmentation
]


def test_rules_in_priority_order():
    columns = [np.array(column) for column in zip(*(case for case, _ in CASES))]
    codes = classify(*columns)
    assert [FAILURE_CLASSES[c] for c in codes] == [name for _, name in CASES]


def test_every_sentence_gets_exactly_one_known_class():
    rng = np.random.default_rng(0)
    n = 2000
    outcome = rng.integers(0, 4, n)
    gt_area = rng.integers(1, 1000, n)
    intersection = (gt_area * rng.random(n)).astype(int)
    pred_area = intersection + rng.integers(0, 1000, n)
    iou = intersection / (gt_area + pred_area - intersection)
    targets = rng.integers(1, 4, n)
    codes = classify(outcome, iou, intersection, gt_area, pred_area, targets, rng.integers(0, 4, n) % (targets + 1),
                     rng.integers(0, 2, n))
    assert codes.min() >= 0 and codes.max() < len(FAILURE_CLASSES)


@pytest.fixture
def tiny(tmp_path):
    root = tiny_grefcoco(tmp_path / "data")
    return root, load_split(root, "grefcoco", "val")


def _instance(split, ann_id):
    record = next(r for r in split.records if r.image_id == split.annotations[ann_id]["image_id"])
    return instance_rle(split.annotations[ann_id], record.height, record.width, NATIVE)


def test_instance_coverage_counts_targets_and_extra_instances(tiny):
    _, split = tiny
    truth = load_ground_truth(split, "native", use_cache=False)
    position = split.position
    # sentence 1010 "both of them" -> targets 11 and 12 on image 1 (13 is crowd, 14 another object)
    both, single = position[1010], position[1000]
    preds = {
        "one of two": _instance(split, 11),
        "both plus 14": rle.union([_instance(split, 11), _instance(split, 12), _instance(split, 14)]),
    }
    rows = [both, both, single]
    masks = [preds["one of two"], preds["both plus 14"], _instance(split, 14)]
    gts = [truth.rles[split.records[r].ref_id] for r in rows]
    gt_areas = [truth.areas[split.records[r].ref_id] for r in rows]
    intersections = rle.intersection_areas(masks, gts)
    for i, row in enumerate(rows):
        coverage = instance_coverage(split, NATIVE, [row], [masks[i]], [gts[i]], [gt_areas[i]], [intersections[i]])
        found = (coverage.target_instances[row], coverage.covered_targets[row], coverage.extra_instances[row])
        assert found == [(2, 1, 0), (2, 2, 1), (1, 0, 1)][i], i
        assert coverage.target_instances.sum() == found[0]  # other sentences stay zero


def test_a_non_target_inside_the_target_is_not_extra(tiny):
    _, split = tiny
    truth = load_ground_truth(split, "native", use_cache=False)
    row = split.position[1010]  # targets 11 and 12; crowd 13 is not an instance; 14 is outside
    gt = truth.rles[split.records[row].ref_id]
    coverage = instance_coverage(split, NATIVE, [row], [gt], [gt], [truth.areas[split.records[row].ref_id]],
                                 rle.intersection_areas([gt], [gt]))
    assert (coverage.covered_targets[row], coverage.extra_instances[row]) == (2, 0)


def test_analysis_classes_of_hand_made_predictions(tiny, tmp_path):
    root, split = tiny
    truth = load_ground_truth(split, "native", use_cache=False)
    gt = {r.sent_id: truth.rles[r.ref_id] for r in split.records}
    entries = {
        1000: {"no_target": False, "mask": gt[1000]},                      # correct
        1001: {"no_target": False, "mask": _instance(split, 14)},          # wrong object
        1010: {"no_target": False, "mask": _instance(split, 11)},          # partial multi-target
        1020: {"no_target": False, "mask": _instance(split, 12)},          # missed no-target
        1030: {"no_target": True},                                         # false no-target
        1040: {"no_target": False, "mask": rle.union([gt[1040], _instance(split, 11)])},  # over-segmentation
    }
    for record in split.records:
        entries.setdefault(record.sent_id, {"no_target": False, "mask": gt[record.sent_id]})
    path = write_predictions(tmp_path / "p.json", dataset="grefcoco", split="val", protocol="native",
                             model={"name": "hand"}, entries=[{"sent_id": s, **e} for s, e in entries.items()])
    analysis = analyze_file(path, root)
    classes = dict(zip(analysis.frame["sent_id"], analysis.frame["failure_class"].astype(str)))
    assert classes[1000] == "correct" and classes[1001] == "wrong object"
    assert classes[1010] == "partial multi-target" and classes[1020] == "missed no-target"
    assert classes[1030] == "false no-target" and classes[1040] == "over-segmentation"


def test_breakdowns_are_the_scorers_metrics_on_subsets(analysis_a, prediction_files, shapes_root):
    scored = score_file(prediction_files[0], shapes_root, "grefshapes", "val")
    frame = analysis_a.frame
    assert metrics_of(frame) == {k: v for k, v in scored.metrics.items()}
    kinds = analysis_a.breakdowns["target_kind"].set_index("group")
    for kind, values in scored.breakdown.items():
        for name in ("cIoU", "gIoU", "N-acc", "T-acc", "Pr@0.7", "num_expressions"):
            expected, found = values[name], kinds.loc[kind, name]
            assert (expected is None and np.isnan(found)) or found == pytest.approx(expected, abs=1e-12), (kind, name)
    # Partitions add up to every sentence.
    for key in ("n_targets", "length", "target_size", "category", "target_kind"):
        assert analysis_a.breakdowns[key]["num_expressions"].sum() == len(frame), key
    counts = analysis_a.class_counts()
    assert counts["count"].sum() == len(frame) and counts["percent"].sum() == pytest.approx(100)
    assert set(frame["failure_class"].astype(str)) <= set(FAILURE_CLASSES)
    # The perturbed predictor makes every kind of mistake at least once.
    assert (counts.set_index("failure_class")["count"].drop("under-segmentation") > 0).all()
