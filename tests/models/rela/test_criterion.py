"""The official ReLA loss, checked against a hand-written computation."""

from __future__ import annotations

import math

import pytest
import torch

from grefbench.models.rela.criterion import ReferringCriterion


def weighted_ce(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Class-weighted mean cross-entropy over all positions: sum(w_t * nll) / sum(w_t), weights (0.9, 1.1)."""
    weights = torch.tensor([0.9, 1.1], dtype=torch.float64)
    log_probs = logits.double().log_softmax(1)
    nll = -log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    w = weights[target]
    return float((w * nll).sum() / w.sum())


def test_loss_matches_a_hand_computation():
    torch.manual_seed(0)
    outputs = {
        "pred_masks": torch.randn(2, 2, 4, 4),
        "pred_logits": torch.randn(2, 4, 2),  # 4 queries: a 2x2 minimap
        "nt_label": torch.randn(2, 2),
    }
    gt = torch.zeros(2, 8, 8, dtype=torch.uint8)
    gt[0, :4, :4] = 1  # top-left quadrant: the minimap cell (0, 0) is fully inside
    gt[0, 4:, 4:6] = 1  # partly covers cell (1, 1): resized value < 1, truncated to 0
    no_target = torch.tensor([False, True])
    loss = ReferringCriterion(mask_weight=5.0)(outputs, gt, no_target)["loss_mask"]

    upsampled = torch.nn.functional.interpolate(outputs["pred_masks"], (8, 8), mode="bilinear", align_corners=False)
    mask_term = weighted_ce(upsampled, gt.long())
    minimap_target = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]])
    minimap_term = weighted_ce(outputs["pred_logits"].transpose(1, 2), minimap_target)
    no_target_term = weighted_ce(outputs["nt_label"], no_target.long())
    expected = 5.0 * (mask_term + 0.1 * minimap_term + 0.1 * no_target_term)
    assert math.isclose(float(loss), expected, rel_tol=1e-5)


def test_lists_of_masks_are_padded_like_the_official_nested_tensor():
    torch.manual_seed(1)
    outputs = {"pred_masks": torch.randn(2, 2, 3, 3), "pred_logits": torch.randn(2, 9, 2), "nt_label": torch.randn(2, 2)}
    small = torch.ones(1, 6, 6, dtype=torch.uint8)
    large = torch.zeros(9, 9, dtype=torch.uint8)
    padded = torch.zeros(2, 9, 9, dtype=torch.uint8)
    padded[0, :6, :6] = 1
    criterion = ReferringCriterion()
    from_list = criterion(outputs, [small, large], [False, False])["loss_mask"]
    from_tensor = criterion(outputs, padded, torch.tensor([False, False]))["loss_mask"]
    torch.testing.assert_close(from_list, from_tensor)


def test_non_square_query_counts_are_refused():
    outputs = {"pred_masks": torch.randn(1, 2, 4, 4), "pred_logits": torch.randn(1, 5, 2), "nt_label": torch.randn(1, 2)}
    with pytest.raises(ValueError, match="square"):
        ReferringCriterion()(outputs, torch.zeros(1, 8, 8), torch.tensor([True]))


def hand_dice(logits: torch.Tensor, target: torch.Tensor) -> float:
    """1 - (2 sum(p g) + 1) / (sum(p) + sum(g) + 1) per sample, p = softmax target channel, averaged."""
    values = []
    for sample_logits, sample_target in zip(logits.double(), target.double()):
        p = torch.exp(sample_logits[1]) / (torch.exp(sample_logits[0]) + torch.exp(sample_logits[1]))
        values.append(1 - (2 * float((p * sample_target).sum()) + 1) / (float(p.sum() + sample_target.sum()) + 1))
    return sum(values) / len(values)


def test_dice_term_is_off_by_default_and_added_before_the_mask_weight():
    torch.manual_seed(2)
    outputs = {"pred_masks": torch.randn(2, 2, 4, 4), "pred_logits": torch.randn(2, 4, 2), "nt_label": torch.randn(2, 2)}
    gt = torch.zeros(2, 8, 8, dtype=torch.uint8)
    gt[0, 2:6, 1:5] = 1  # sample 1 has no target: the +1 keeps its Dice defined
    no_target = torch.tensor([False, True])
    official = float(ReferringCriterion(mask_weight=5.0)(outputs, gt, no_target)["loss_mask"])
    with_dice = float(ReferringCriterion(mask_weight=5.0, dice_weight=2.0)(outputs, gt, no_target)["loss_mask"])
    upsampled = torch.nn.functional.interpolate(outputs["pred_masks"], (8, 8), mode="bilinear", align_corners=False)
    assert math.isclose(with_dice, official + 5.0 * 2.0 * hand_dice(upsampled, gt), rel_tol=1e-5)


def test_no_target_weight_scales_only_the_no_target_cross_entropy():
    torch.manual_seed(4)
    outputs = {"pred_masks": torch.randn(3, 2, 4, 4), "pred_logits": torch.randn(3, 4, 2), "nt_label": torch.randn(3, 2)}
    gt = torch.zeros(3, 8, 8, dtype=torch.uint8)
    gt[0, 1:5, 2:7] = 1
    gt[2, 4:8, 0:3] = 1
    no_target = torch.tensor([False, True, False])
    official = float(ReferringCriterion(mask_weight=5.0)(outputs, gt, no_target)["loss_mask"])
    stronger = float(ReferringCriterion(mask_weight=5.0, no_target_weight=1.5)(outputs, gt, no_target)["loss_mask"])
    # class-weighted CE by hand: weights 0.9 ("has a target") and 1.1 ("no target"), normalised by their sum
    log_p = outputs["nt_label"].double().log_softmax(-1)
    labels = no_target.long()
    weights = torch.tensor([0.9, 1.1], dtype=torch.float64)[labels]
    nt_ce = float(-(weights * log_p[torch.arange(3), labels]).sum() / weights.sum())
    assert math.isclose(stronger - official, 5.0 * (1.5 - 0.1) * nt_ce, rel_tol=1e-5)


def test_dice_is_near_zero_for_a_confident_exact_mask_and_near_one_for_a_disjoint_one():
    from grefbench.models.rela.criterion import dice_loss

    target = torch.zeros(1, 16, 16)
    target[0, 4:12, 4:12] = 1
    sign = 2 * target - 1
    exact = torch.stack([-20 * sign, 20 * sign], dim=1)  # channel 1 wins exactly on the target
    disjoint = torch.stack([20 * target + 20, -20 * target - 20], dim=1)  # target channel off everywhere...
    disjoint[:, :, 0, 0] = torch.tensor([-20.0, 20.0])  # ...but one pixel outside the target
    assert float(dice_loss(exact, target)) < 1e-3
    assert float(dice_loss(disjoint, target)) > 0.95


def test_category_term_is_an_unweighted_pixel_cross_entropy_added_before_the_mask_weight():
    torch.manual_seed(3)
    outputs = {"pred_masks": torch.randn(2, 2, 4, 4), "pred_logits": torch.randn(2, 4, 2), "nt_label": torch.randn(2, 2),
               "category_logits": torch.randn(2, 5, 4, 4)}
    gt = torch.zeros(2, 8, 8, dtype=torch.uint8)
    gt[0, 2:6, 1:5] = 1
    categories = torch.zeros(2, 8, 8, dtype=torch.int64)
    categories[0, 2:6, 1:5] = 3
    categories[1, 0:3, 4:8] = 4
    no_target = torch.tensor([False, True])
    official = float(ReferringCriterion(mask_weight=5.0)(outputs, gt, no_target)["loss_mask"])
    with_categories = float(ReferringCriterion(mask_weight=5.0, category_weight=0.5)(
        outputs, gt, no_target, categories)["loss_mask"])
    upsampled = torch.nn.functional.interpolate(outputs["category_logits"], (8, 8), mode="bilinear",
                                                align_corners=False).double()
    # Mean over every pixel of every sample of -log p(true category), by hand.
    log_probs = upsampled.log_softmax(1)
    nll = -sum(float(log_probs[b, categories[b, y, x], y, x]) for b in range(2) for y in range(8) for x in range(8))
    assert math.isclose(with_categories, official + 5.0 * 0.5 * nll / 128, rel_tol=1e-5)


def test_category_term_without_its_head_or_ground_truth_is_an_error():
    outputs = {"pred_masks": torch.zeros(1, 2, 4, 4), "pred_logits": torch.zeros(1, 4, 2), "nt_label": torch.zeros(1, 2)}
    gt = torch.zeros(1, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="category head"):
        ReferringCriterion(category_weight=1.0)(outputs, gt, torch.tensor([True]), torch.zeros(1, 8, 8))
