"""Reports: the submission folders, the static leaderboard, per-expression analysis and model comparison.

Every number shown comes from `grefbench.metrics` (a breakdown is a GresEvaluator over a subset;
a bootstrap resample is a MetricState summed over resampled images).
"""
