"""Hand-computed cases for every Ref-ZOM and R-RefCOCO metric rule."""

import numpy as np
import pytest

from grefbench.metrics.refzom import refzom_metrics
from grefbench.metrics.rrefcoco import rrefcoco_metrics


def test_refzom_groups_never_mix():
    # zero: one empty prediction, one with 5 pixels; one: I/U 50/100; many: 90/100.
    m = refzom_metrics(["zero", "zero", "one", "many"], [0, 0, 50, 90], [0, 5, 100, 100], [0, 5, 60, 95])
    assert m["Acc"] == 50.0
    assert m["oIoU"] == 70.0 and m["mIoU"] == 70.0
    assert m["Pr@0.5"] == 100.0 and m["Pr@0.6"] == 50.0 and m["Pr@0.9"] == 50.0
    assert m["counts"] == {"sentences": 4, "zero": 2, "one": 1, "many": 1}


def test_refzom_empty_vs_empty_scores_zero():
    m = refzom_metrics(["one", "one"], [0, 10], [0, 10], [0, 10])
    assert m["mIoU"] == 50.0  # (0 + 1) / 2
    assert m["oIoU"] == 100.0 and m["Pr@0.9"] == 50.0
    assert m["Acc"] is None  # no zero-target sentence (official: nan)


def test_refzom_without_target_sentences():
    m = refzom_metrics(["zero"], [0], [3], [3])
    assert m["Acc"] == 0.0
    assert m["oIoU"] is None and m["mIoU"] is None and m["Pr@0.5"] is None  # official: ZeroDivisionError


def test_rrefcoco_pr_compares_the_running_float32_sum():
    # One ref, two positives of IoU 0.3 each: the accumulator is 0.3 then 0.6 (float32).
    m, sentences = rrefcoco_metrics([1, 1], [True, True], [3, 3], [10, 10], [3, 3])
    assert sentences.running_sum.tolist() == [np.float32(0.3), np.float32(0.3) + np.float32(0.3)]
    assert m["Pr@0.5"] == 50.0 and m["Pr@0.6"] == 50.0 and m["Pr@0.7"] == 0.0  # per-sentence IoU would give 0
    assert m["mIoU"] == pytest.approx(100 * float(np.float32(0.6) / np.float32(2)))


def test_rrefcoco_threshold_is_float32():
    # 7/10 in float32 is 0.699999988 < 0.7 (float64), but equals float32(0.7): counted.
    m, _ = rrefcoco_metrics([1], [True], [7], [10], [7])
    assert m["Pr@0.7"] == 100.0 and m["Pr@0.8"] == 0.0


def test_rrefcoco_means_over_refs():
    # ref 1: positives 50/100 and 100/100, negatives: one empty, one with 20 pixels.
    # ref 2: positive 25/100, no negative (left out of r).
    ref_ids = [1, 1, 1, 1, 2]
    positive = [True, False, True, False, True]
    intersection = [50, 0, 100, 0, 25]
    union = [100, 0, 100, 20, 100]
    pred_area = [60, 0, 100, 20, 30]
    m, _ = rrefcoco_metrics(ref_ids, positive, intersection, union, pred_area)
    assert m["mIoU"] == pytest.approx(50.0)  # mean of 0.75 and 0.25 (the sentence mean would be 58.3)
    assert m["oIoU"] == pytest.approx(100 * 175 / 300)  # positives only
    assert m["r"] == 50.0  # ref 1 only
    expected_riou = (float(np.float32(150) / np.float32(220)) + 0.25) / 2
    assert m["rIoU"] == pytest.approx(100 * expected_riou)
    assert m["counts"]["refs_in_r"] == 1 and m["counts"]["refs_in_mIoU"] == 2


def test_rrefcoco_refs_without_positives_or_negatives():
    # ref 1 has only negatives (one false positive): out of mIoU, rIoU = 0 / 20 = 0, r = 0.
    # ref 2 has only negatives, all empty: out of mIoU and of rIoU (0/0), r = 1.
    m, _ = rrefcoco_metrics([1, 2], [False, False], [0, 0], [20, 0], [20, 0])
    assert m["mIoU"] is None and m["oIoU"] is None and m["Pr@0.5"] is None
    assert m["r"] == 50.0 and m["rIoU"] == 0.0
    assert m["counts"]["refs_in_rIoU"] == 1


def test_rrefcoco_empty_union_positive_scores_zero():
    m, sentences = rrefcoco_metrics([1, 1], [True, True], [0, 10], [0, 10], [0, 10])
    assert sentences.iou.tolist() == [0.0, 1.0]
    assert m["mIoU"] == 50.0 and m["Pr@0.9"] == 50.0
