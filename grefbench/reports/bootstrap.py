"""Paired bootstrap over images: confidence intervals for metric differences between two models.

Sentences of one image are correlated (same scene, often the same objects), so the unit resampled
is the image. Each image's sentences are summed once into a MetricState; a resample is a vector of
image multiplicities, so its state is a matrix product of those sums, and its metrics come from
MetricState.compute, the one metrics implementation. Both models get the same resamples (paired).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from grefbench.metrics.evaluator import (
    _IOU_SCALE_BITS,
    METRIC_NAMES,
    MetricState,
    apply_rules,
)

DEFAULT_RESAMPLES = 1000
CONFIDENCE = 0.95
BOOTSTRAP_METRICS = tuple(name for name in METRIC_NAMES if name != "num_expressions")
_COUNT_FIELDS = ("count", "intersection", "union", "tp", "fn", "fp", "tn")


@dataclass
class ImageStates:
    """Per-image MetricState sums of one model, as arrays (rows follow `image_ids`)."""

    image_ids: np.ndarray
    counts: np.ndarray  # int64 [images, len(_COUNT_FIELDS) + thresholds]
    iou_sums: np.ndarray  # float64 [images]: sum of per-sentence IoU in the image


def image_states(image_ids: np.ndarray, intersection, union, gt_no_target, pred_no_target) -> ImageStates:
    """Group per-sentence results by image into MetricState sums (one MetricState per image)."""
    outcomes = apply_rules(intersection, union, gt_no_target, pred_no_target)
    image_ids = np.asarray(image_ids, dtype=np.int64)
    order = np.argsort(image_ids, kind="stable")
    sorted_ids = image_ids[order]
    unique, starts = np.unique(sorted_ids, return_index=True)
    stops = np.append(starts[1:], sorted_ids.size)
    rows, iou_sums = [], np.zeros(unique.size, dtype=np.float64)
    for i, (start, stop) in enumerate(zip(starts.tolist(), stops.tolist())):
        state = MetricState()
        state.add(outcomes, order[start:stop])
        rows.append([getattr(state, name) for name in _COUNT_FIELDS] + state.precision_hits)
        iou_sums[i] = float(Fraction(state.iou_sum, 1 << _IOU_SCALE_BITS))
    return ImageStates(unique, np.asarray(rows, dtype=np.int64).reshape(unique.size, -1), iou_sums)


def _state(counts: np.ndarray, iou_sum: float) -> MetricState:
    values = dict(zip(_COUNT_FIELDS, (int(v) for v in counts[: len(_COUNT_FIELDS)])))
    hits = [int(v) for v in counts[len(_COUNT_FIELDS):]]
    exact_iou = int(Fraction(iou_sum) * (1 << _IOU_SCALE_BITS))
    return MetricState(**values, iou_sum=exact_iou, precision_hits=hits)


def _metric_rows(weights: np.ndarray, states: ImageStates) -> np.ndarray:
    """Metrics [resamples, metrics] (NaN where undefined) for image multiplicities [resamples, images]."""
    counts = weights @ states.counts
    ious = weights.astype(np.float64) @ states.iou_sums
    table = np.full((weights.shape[0], len(BOOTSTRAP_METRICS)), np.nan)
    for r in range(weights.shape[0]):
        computed = _state(counts[r], ious[r]).compute()
        table[r] = [np.nan if computed[m] is None else computed[m] for m in BOOTSTRAP_METRICS]
    return table


def resample_weights(images: int, resamples: int, seed: int) -> np.ndarray:
    """Multiplicity of each image in each resample (images drawn with replacement), int64 [resamples, images]."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, images, size=(resamples, images))
    flat = (np.arange(resamples, dtype=np.int64)[:, None] * images + draws).ravel()
    return np.bincount(flat, minlength=resamples * images).reshape(resamples, images)


@dataclass
class PairedBootstrap:
    """Observed metrics of A and B, B - A, and its percentile confidence interval per metric."""

    metrics: dict[str, dict[str, Any]]
    images: int
    resamples: int
    seed: int
    confidence: float

    def rows(self) -> list[dict[str, Any]]:
        return [{"metric": name, **values} for name, values in self.metrics.items()]


def paired_bootstrap(a: ImageStates, b: ImageStates, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> PairedBootstrap:
    """B - A per metric with a paired percentile bootstrap over images (same resamples for both)."""
    if not np.array_equal(a.image_ids, b.image_ids):
        raise ValueError("the two models were scored on different images")
    weights = resample_weights(a.image_ids.size, resamples, seed)
    ones = np.ones((1, a.image_ids.size), dtype=np.int64)
    observed_a, observed_b = _metric_rows(ones, a)[0], _metric_rows(ones, b)[0]
    deltas = _metric_rows(weights, b) - _metric_rows(weights, a)
    tail = (1 - confidence) / 2 * 100
    metrics: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(BOOTSTRAP_METRICS):
        column = deltas[:, j]
        finite = column[np.isfinite(column)]
        low, high = (np.percentile(finite, [tail, 100 - tail]).tolist() if finite.size else (None, None))
        delta = observed_b[j] - observed_a[j]
        metrics[name] = {
            "a": None if np.isnan(observed_a[j]) else float(observed_a[j]),
            "b": None if np.isnan(observed_b[j]) else float(observed_b[j]),
            "delta": None if np.isnan(delta) else float(delta),
            "low": low,
            "high": high,
            "defined_resamples": int(finite.size),
        }
    return PairedBootstrap(metrics, int(a.image_ids.size), resamples, seed, confidence)


def _describe(name: str, values: dict[str, Any]) -> str:
    return f"{name} {values['delta']:+.2f} [{values['low']:+.2f}, {values['high']:+.2f}]"


def verdict(result: PairedBootstrap, a_name: str, b_name: str, headline: tuple[str, ...] = ("gIoU", "cIoU")) -> str:
    """One line: who is better on the headline metrics, judged by whether each interval excludes 0."""
    usable = {m: result.metrics[m] for m in headline if result.metrics[m]["low"] is not None
              and result.metrics[m]["delta"] is not None}
    basis = (f"({int(result.confidence * 100)}% paired bootstrap over {result.images} images, "
             f"{result.resamples} resamples, seed {result.seed})")
    if not usable:
        return f"No verdict: {', '.join(headline)} are undefined on this split {basis}"
    details = "; ".join(_describe(m, v) for m, v in usable.items())
    better_b = [m for m, v in usable.items() if v["low"] > 0]
    better_a = [m for m, v in usable.items() if v["high"] < 0]
    if better_b and not better_a:
        lead = f"{b_name} is better than {a_name} on {' and '.join(better_b)}"
    elif better_a and not better_b:
        lead = f"{a_name} is better than {b_name} on {' and '.join(better_a)}"
    elif better_a and better_b:
        lead = f"Mixed: {b_name} better on {', '.join(better_b)}, {a_name} better on {', '.join(better_a)}"
    else:
        lead = f"No significant difference between {a_name} and {b_name}"
    return f"{lead}: B - A {details} {basis}"
