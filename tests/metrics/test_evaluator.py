"""Metric semantics, hand-computed per outcome, and exact merging of shards."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grefbench.metrics import GresEvaluator, MetricState, apply_rules, compute_metrics
from grefbench.metrics.evaluator import FN, FP, TN, TP
from tests import official_reference


def test_each_outcome_by_hand():
    # TP; FN with a 50-pixel prediction; FP whose mask overlaps (I=30, U=100); TN with I=40, U=80.
    metrics = compute_metrics([0, 0, 30, 40], [0, 50, 100, 80], [True, True, False, False],
                              [True, False, True, False], [0, 0, 1, 2])
    assert metrics["cIoU"] == pytest.approx(100 * 40 / (50 + 100 + 80))
    assert metrics["gIoU"] == pytest.approx(100 * (1 + 0 + 0 + 0.5) / 4)
    assert metrics["N-acc"] == 50.0 and metrics["T-acc"] == 50.0
    assert metrics["Pr@0.7"] == 0.0
    assert metrics["num_expressions"] == 4
    assert metrics["counts"] == {"TP": 1, "FN": 1, "FP": 1, "TN": 1, "intersection": 40, "union": 230}
    breakdown = metrics["breakdown"]
    assert breakdown["no-target"]["N-acc"] == 50.0 and breakdown["no-target"]["T-acc"] is None
    assert breakdown["single"]["T-acc"] == 0.0 and breakdown["multi"]["cIoU"] == 50.0


def test_false_positive_keeps_the_union_of_the_submitted_mask():
    # The official evaluator sets I = 0 for a wrong no-target call but keeps U = |pred ∪ gt|.
    outcomes = apply_rules([30], [100], [False], [True])
    assert outcomes.outcome[0] == FP
    assert (outcomes.intersection[0], outcomes.union[0], outcomes.iou[0]) == (0, 100, 0.0)


def test_missed_no_target_adds_the_predicted_area():
    outcomes = apply_rules([0], [57], [True], [False])
    assert outcomes.outcome[0] == FN and outcomes.union[0] == 57 and outcomes.iou[0] == 0.0


def test_true_positive_counts_one_and_nothing_cumulative():
    outcomes = apply_rules([0], [12], [True], [True])
    assert outcomes.outcome[0] == TP and outcomes.union[0] == 0 and outcomes.iou[0] == 1.0


def test_empty_union_target_scores_zero():
    outcomes = apply_rules([0], [0], [False], [False])
    assert outcomes.outcome[0] == TN and outcomes.iou[0] == 0.0


def test_undefined_metrics_are_none():
    only_targets = compute_metrics([5], [10], [False], [False])
    assert only_targets["N-acc"] is None and only_targets["T-acc"] == 100.0
    only_no_target = compute_metrics([0], [0], [True], [True])
    assert only_no_target["cIoU"] is None and only_no_target["T-acc"] is None
    assert only_no_target["Pr@0.7"] is None and only_no_target["gIoU"] == 100.0
    assert GresEvaluator().compute()["gIoU"] is None


def test_precision_thresholds_are_inclusive():
    metrics = compute_metrics([7, 8, 9], [10, 10, 10], [False] * 3, [False] * 3)
    assert metrics["Pr@0.7"] == 100.0
    assert metrics["Pr@0.8"] == pytest.approx(200 / 3)
    assert metrics["Pr@0.9"] == pytest.approx(100 / 3)


samples = st.lists(
    st.tuples(st.integers(0, 50), st.integers(0, 50), st.booleans(), st.booleans(), st.integers(0, 3)),
    min_size=1, max_size=60,
)


def _arrays(rows):
    inter = [min(i, u) for i, u, _, _, _ in rows]
    union = [max(i, u) for i, u, _, _, _ in rows]
    gt_nt = [g for _, _, g, _, _ in rows]
    pred_nt = [p for _, _, _, p, _ in rows]
    n_targets = [0 if g else max(n, 1) for _, _, g, _, n in rows]
    return inter, union, gt_nt, pred_nt, n_targets


@settings(max_examples=80)
@given(samples, st.integers(1, 5), st.randoms())
def test_sharded_merge_equals_one_pass(rows, shards, rng):
    arrays = _arrays(rows)
    whole = GresEvaluator()
    whole.update(*arrays)
    order = list(range(len(rows)))
    rng.shuffle(order)
    parts = [GresEvaluator() for _ in range(shards)]
    for k, part in enumerate(parts):
        chosen = order[k::shards]
        if chosen:
            part.update(*(np.asarray(a)[chosen] for a in arrays))
    merged = GresEvaluator()
    for part in parts:
        restored = GresEvaluator()
        restored.load_state_dict(part.state_dict())  # what crosses process boundaries
        merged.merge(restored)
    assert merged.compute() == whole.compute()
    assert merged.breakdown() == whole.breakdown()


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1)),
                min_size=1, max_size=25))
def test_dense_masks_match_the_official_loop(rows):
    samples = []
    evaluator = GresEvaluator()
    for size, gt_nt, pred_nt, seed in rows:
        rng = np.random.default_rng(seed)
        pred = rng.random((size, size + 1)) < rng.random()
        gt = np.zeros_like(pred) if gt_nt else rng.random(pred.shape) < rng.random()
        samples.append({"pred_mask": pred, "gt_mask": gt, "gt_nt": gt_nt, "pred_nt": pred_nt})
        evaluator.update_masks(pred[None], gt[None], [pred_nt], [gt_nt])
    expected = official_reference.evaluate(samples)
    got = evaluator.compute()
    for name, value in expected.items():
        if value is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name


def test_update_masks_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    pred = torch.tensor([[[1, 1], [0, 0]]], dtype=torch.bool)
    gt = torch.tensor([[[1, 0], [1, 0]]], dtype=torch.uint8)
    evaluator = GresEvaluator()
    evaluator.update_masks(pred, gt, torch.tensor([False]), torch.tensor([False]))
    assert evaluator.compute()["cIoU"] == pytest.approx(100 / 3)


def test_state_round_trip_is_plain_data():
    state = MetricState()
    evaluator = GresEvaluator()
    evaluator.update([1], [2], [False], [False])
    state.merge(evaluator.overall)
    copy = MetricState.from_dict(state.to_dict())
    assert copy.compute() == state.compute()
