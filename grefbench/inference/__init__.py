"""Running a model over a dataset split: inputs, post-processing, resumable shards, distribution.

`run_eval` is what `grefbench eval` calls.
"""
