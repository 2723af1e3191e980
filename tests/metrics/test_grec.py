"""GREC metric semantics: hand-computed cases for every rule, and parity with an independent reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grefbench.metrics.box_iou import pairwise_box_iou, xywh_to_xyxy
from grefbench.metrics.grec import (
    EXTRA_BOXES,
    FALSE_NO_TARGET,
    MISLOCALISED,
    MISSED_NO_TARGET,
    MISSING_BOXES,
    GrecEvaluator,
    compute_grec_metrics,
    match_sentences,
)
from tests.grec_reference import reference_metrics, sentence_counts

PR = "Pr@(F1=1,IoU>=0.5)"


def one(pred, scores, gt, **options):
    """Outcomes of a single sentence given as lists of xywh boxes."""
    return match_sentences(np.array(pred, float).reshape(-1, 4), np.array(scores, float), [len(pred)],
                           np.array(gt, float).reshape(-1, 4), [len(gt)], [not gt], **options)


def test_score_threshold_keeps_exactly_0_7():
    kept = one([[0, 0, 4, 4]], [0.7], [[0, 0, 4, 4]])
    assert kept.kept[0] == 1 and kept.correct[0]
    dropped = one([[0, 0, 4, 4]], [0.6999999], [[0, 0, 4, 4]])
    assert dropped.kept[0] == 0 and not dropped.correct[0] and dropped.outcome[0] == FALSE_NO_TARGET
    assert dropped.f1[0] == 0.0 and dropped.fn[0] == 1
    assert one([[0, 0, 4, 4]], [0.5], [[0, 0, 4, 4]], score_threshold=0.5).correct[0]


def test_overlap_of_exactly_0_5_matches():
    # [0,0,2,1] against [0,0,1,1]: I = 1, U = 2, and the enclosing box is the union: IoU = GIoU = 0.5.
    assert pairwise_box_iou(xywh_to_xyxy([[0, 0, 2, 1]]), xywh_to_xyxy([[0, 0, 1, 1]]))[0, 0] == 0.5
    assert one([[0, 0, 2, 1]], [1.0], [[0, 0, 1, 1]]).tp[0] == 1
    # A hair wider: IoU = 1 / 2.01 < 0.5, no match.
    assert one([[0, 0, 2.01, 1]], [1.0], [[0, 0, 1, 1]]).tp[0] == 0


def test_generalized_and_plain_iou_fall_on_either_side_of_0_5():
    # [0,0,10,10] and [1.8,1.8,10,10]: I = 8.2^2 = 67.24, U = 132.76, IoU = 0.5065;
    # enclosing 11.8^2 = 139.24, GIoU = 0.5065 - 6.48 / 139.24 = 0.4600.
    pred, gt = [[1.8, 1.8, 10, 10]], [[0, 0, 10, 10]]
    giou = pairwise_box_iou(xywh_to_xyxy(pred), xywh_to_xyxy(gt))[0, 0]
    iou = pairwise_box_iou(xywh_to_xyxy(pred), xywh_to_xyxy(gt), "iou")[0, 0]
    assert iou == pytest.approx(67.24 / 132.76, abs=1e-6) and giou == pytest.approx(67.24 / 132.76 - 6.48 / 139.24, abs=1e-6)
    assert not one(pred, [1.0], gt).correct[0]  # official: generalized IoU
    assert one(pred, [1.0], gt, box_iou="iou").correct[0]


def test_duplicate_box_is_one_match_and_one_false_positive():
    outcome = one([[0, 0, 4, 4], [0, 0, 4, 4]], [0.9, 0.9], [[0, 0, 4, 4]])
    assert (outcome.kept[0], outcome.tp[0], outcome.fp[0], outcome.fn[0]) == (2, 1, 1, 0)
    assert outcome.f1[0] == pytest.approx(2 / 3) and not outcome.correct[0] and outcome.outcome[0] == EXTRA_BOXES


def test_greedy_takes_the_largest_overlap_first_even_when_a_full_assignment_exists():
    # Height 1 everywhere, so overlaps are 1-D: P1=[4,14] G1=[3,13] 9/11; P1-G2=[7,17] 7/13; P2=[0,10]-G1 7/13;
    # P2-G2 3/17. Greedy takes P1-G1, then P2-G2 is below 0.5: one match, though P1-G2 + P2-G1 would be two.
    pred = [[4, 0, 10, 1], [0, 0, 10, 1]]
    gt = [[3, 0, 10, 1], [7, 0, 10, 1]]
    outcome = one(pred, [0.9, 0.8], gt)
    assert (outcome.tp[0], outcome.fp[0], outcome.fn[0]) == (1, 1, 1)
    assert outcome.f1[0] == 0.5 and outcome.outcome[0] == MISLOCALISED


def test_missing_boxes_and_low_scores():
    outcome = one([[3, 0, 10, 1], [7, 0, 10, 1]], [0.9, 0.3], [[3, 0, 10, 1], [7, 0, 10, 1]])
    assert (outcome.kept[0], outcome.tp[0], outcome.fn[0]) == (1, 1, 1) and outcome.outcome[0] == MISSING_BOXES


def test_no_target_sentences():
    low = one([[0, 0, 5, 5], [1, 1, 3, 3]], [0.69, 0.1], [])
    assert low.correct[0] and low.kept[0] == 0 and low.f1[0] == 1.0
    high = one([[0, 0, 5, 5]], [0.95], [])
    assert not high.correct[0] and high.outcome[0] == MISSED_NO_TARGET and high.f1[0] == 0.0
    metrics = compute_grec_metrics([[[0, 0, 5, 5]], [[0, 0, 5, 5]], []], [[0.69], [0.95], []], [[], [], []])
    assert metrics["N-acc"] == pytest.approx(200 / 3) and metrics["T-acc"] is None
    assert metrics[PR] == pytest.approx(200 / 3)


def test_metrics_by_hand():
    # 1 correct single; 1 target with nothing kept; 1 no-target correct; 1 no-target with a box kept.
    metrics = compute_grec_metrics(
        [[[0, 0, 4, 4]], [[0, 0, 4, 4]], [], [[9, 9, 1, 1]]],
        [[0.8], [0.2], [], [0.99]],
        [[[0, 0, 4, 4]], [[0, 0, 4, 4], [5, 5, 2, 2]], [], []],
    )
    assert metrics[PR] == 50.0 and metrics["N-acc"] == 50.0 and metrics["T-acc"] == 50.0
    assert metrics["num_expressions"] == 4
    assert metrics["counts"] == {"correct": 2, "no_target": 2, "no_target_correct": 1, "target": 2,
                                 "target_kept": 1, "tp": 1, "fp": 1, "fn": 2}
    assert metrics["breakdown"]["multi"]["T-acc"] == 0.0 and metrics["breakdown"]["single"][PR] == 100.0


def test_empty_input_gives_undefined_metrics():
    metrics = compute_grec_metrics([], [], [])
    assert metrics[PR] is None and metrics["N-acc"] is None and metrics["T-acc"] is None


def test_merge_equals_one_pass():
    rng = np.random.default_rng(0)
    sentences = [_random_sentence(rng) for _ in range(60)]
    whole = GrecEvaluator()
    _update(whole, sentences)
    first, second = GrecEvaluator(), GrecEvaluator()
    _update(first, sentences[:25])
    _update(second, sentences[25:])
    assert first.merge(second).compute() == whole.compute()
    assert first.breakdown() == whole.breakdown()


def _random_sentence(rng):
    gt = [[*rng.integers(0, 8, 2), *rng.integers(1, 6, 2)] for _ in range(int(rng.integers(0, 4)))]
    pred = [[*rng.integers(0, 8, 2), *rng.integers(0, 6, 2)] for _ in range(int(rng.integers(0, 5)))]
    return pred, rng.choice([0.2, 0.7, 0.9], len(pred)).tolist(), gt


def _update(evaluator, sentences):
    pred = np.array([b for p, _, _ in sentences for b in p], float).reshape(-1, 4)
    scores = np.array([s for _, s, _ in sentences for s in s], float)
    gt = np.array([b for _, _, g in sentences for b in g], float).reshape(-1, 4)
    evaluator.update(pred, scores, [len(p) for p, _, _ in sentences], gt, [len(g) for _, _, g in sentences],
                     [not g for _, _, g in sentences])


coordinate = st.integers(0, 12).map(float) | st.floats(0, 12, allow_nan=False, width=32)
size = st.integers(0, 6).map(float) | st.floats(0, 6, allow_nan=False, width=32)
box = st.lists(coordinate, min_size=2, max_size=2).flatmap(
    lambda xy: st.lists(size, min_size=2, max_size=2).map(lambda wh: xy + wh))
positive_box = st.tuples(coordinate, coordinate, st.integers(1, 6).map(float), st.integers(1, 6).map(float)).map(list)
sentence = st.tuples(
    st.lists(st.tuples(box, st.sampled_from([0.0, 0.3, 0.69999, 0.7, 0.70001, 0.9, 1.0])), max_size=5),
    st.lists(positive_box, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(sentence, max_size=12), st.booleans())
def test_matches_the_independent_reference(sentences, generalized):
    pred = [[b for b, _ in p] for p, _ in sentences]
    scores = [[s for _, s in p] for p, _ in sentences]
    gt = [g for _, g in sentences]
    kind = "giou" if generalized else "iou"
    ours = compute_grec_metrics(pred, scores, gt, box_iou=kind)
    theirs = reference_metrics(pred, scores, gt, generalized=generalized)
    for name, value in theirs.items():
        assert ours[name] == (None if value is None else pytest.approx(value, abs=1e-9)), name
    outcomes = match_sentences(np.array([b for p in pred for b in p], float).reshape(-1, 4),
                               np.array([s for row in scores for s in row], float), [len(p) for p in pred],
                               np.array([b for g in gt for b in g], float).reshape(-1, 4), [len(g) for g in gt],
                               [not g for g in gt], box_iou=kind)
    for i, (p, s, g) in enumerate(zip(pred, scores, gt)):
        kept, tp, f1, correct = sentence_counts(p, s, g, generalized=generalized)
        assert (outcomes.kept[i], outcomes.tp[i], bool(outcomes.correct[i])) == (kept, tp, correct)
        assert outcomes.f1[i] == pytest.approx(f1)
