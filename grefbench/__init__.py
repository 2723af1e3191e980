"""grefbench: benchmark and evaluation toolkit for Generalized Referring Expression Segmentation.

Heavy dependencies (torch, transformers, pandas) are imported lazily by the modules that need
them, so `import grefbench` and `grefbench score` start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
