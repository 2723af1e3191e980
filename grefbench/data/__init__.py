"""Referring-expression datasets in the official REFER/gRefCOCO layouts, and their ground truth."""

from grefbench.data.catalog import DATASETS, DatasetSpec, get_dataset
from grefbench.data.split import ReferSplit, SentenceRecord, load_split

__all__ = ["DATASETS", "DatasetSpec", "get_dataset", "ReferSplit", "SentenceRecord", "load_split"]
