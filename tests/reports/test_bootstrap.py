"""Paired bootstrap over images: resampled states equal explicit resampling, determinism, intervals."""

import numpy as np
import pytest

from grefbench.metrics import compute_metrics
from grefbench.reports.bootstrap import (
    BOOTSTRAP_METRICS,
    _metric_rows,
    image_states,
    paired_bootstrap,
    resample_weights,
    verdict,
)


def _sentences(seed, n_images=30, quality=0.6):
    rng = np.random.default_rng(seed)
    image_ids = np.repeat(np.arange(n_images) * 7 + 3, rng.integers(1, 6, n_images))
    n = image_ids.size
    gt_nt = rng.random(n) < 0.2
    pred_nt = np.where(rng.random(n) < quality, gt_nt, ~gt_nt)
    gt_area = rng.integers(10, 500, n)
    intersection = (gt_area * rng.random(n) * quality).astype(np.int64)
    union = gt_area + rng.integers(0, 200, n)
    intersection[gt_nt] = 0
    return image_ids, intersection, union, gt_nt, pred_nt


def test_weights_resample_whole_images():
    weights = resample_weights(25, 40, seed=3)
    assert weights.shape == (40, 25) and (weights.sum(axis=1) == 25).all() and weights.min() >= 0
    assert np.array_equal(weights, resample_weights(25, 40, seed=3))
    assert not np.array_equal(weights, resample_weights(25, 40, seed=4))


def test_a_resample_equals_scoring_the_resampled_sentences():
    image_ids, intersection, union, gt_nt, pred_nt = _sentences(0)
    states = image_states(image_ids, intersection, union, gt_nt, pred_nt)
    weights = resample_weights(states.image_ids.size, 5, seed=1)
    table = _metric_rows(weights, states)
    for r in range(weights.shape[0]):
        rows = np.concatenate([np.repeat(np.flatnonzero(image_ids == image), count)
                               for image, count in zip(states.image_ids, weights[r]) if count])
        expected = compute_metrics(intersection[rows], union[rows], gt_nt[rows], pred_nt[rows])
        for j, name in enumerate(BOOTSTRAP_METRICS):
            if expected[name] is None:
                assert np.isnan(table[r, j])
            else:
                assert table[r, j] == pytest.approx(expected[name], abs=1e-9), name


def test_observed_metrics_and_intervals():
    a = image_states(*_sentences(0, quality=0.5))
    b_data = _sentences(0, quality=0.5)
    b_data = (b_data[0], b_data[1] + (b_data[2] - b_data[1]) // 2, *b_data[2:])  # B overlaps more: better
    b = image_states(*b_data)
    result = paired_bootstrap(a, b, resamples=300, seed=0)
    expected = compute_metrics(*_sentences(0, quality=0.5)[1:])
    assert result.metrics["gIoU"]["a"] == pytest.approx(expected["gIoU"])
    for name in ("cIoU", "gIoU"):
        values = result.metrics[name]
        assert values["low"] <= values["delta"] <= values["high"]
        assert values["low"] > 0
    line = verdict(result, "A", "B")
    assert line.startswith("B is better than A on gIoU and cIoU") and "300 resamples" in line
    same = paired_bootstrap(a, a, resamples=50, seed=0)
    assert all(v["delta"] in (0, None) and v["low"] in (0, None) and v["high"] in (0, None) for v in same.metrics.values())
    assert verdict(same, "A", "A2").startswith("No significant difference")
    assert paired_bootstrap(a, b, resamples=300, seed=0).metrics == result.metrics


def test_different_images_are_refused():
    a = image_states(*_sentences(0))
    b = image_states(*_sentences(1, n_images=31))
    with pytest.raises(ValueError, match="different images"):
        paired_bootstrap(a, b, resamples=10)
