"""The reference ReLA model (henghuiding/ReLA) in pure PyTorch, compatible with its official checkpoints.

Entry points: `grefbench.models.load_model("rela", config=..., weights=...)` (see `build.py`),
`load_config` (config.py), `ReferringTokenizer` (text.py), `load_image` (preprocess.py),
`ReferringCriterion` (criterion.py), `save_checkpoint` (checkpoint.py). Submodules are imported
on use, so importing this package does not import torch or transformers.
"""
