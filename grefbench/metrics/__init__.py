"""GRES metrics (cIoU, gIoU, N-acc, T-acc, Pr@0.7/0.8/0.9) with the official ReLA semantics."""

from grefbench.metrics.evaluator import (
    METRIC_NAMES,
    OUTCOME_NAMES,
    PR_THRESHOLDS,
    TARGET_KINDS,
    GresEvaluator,
    MetricState,
    SentenceOutcomes,
    apply_rules,
    compute_metrics,
    dense_intersection_union,
)

__all__ = [
    "METRIC_NAMES", "OUTCOME_NAMES", "PR_THRESHOLDS", "TARGET_KINDS", "GresEvaluator", "MetricState",
    "SentenceOutcomes", "apply_rules", "compute_metrics", "dense_intersection_union",
]
