"""Which metrics each dataset reports, and which ones rank it: gRefCOCO's, Ref-ZOM's or R-RefCOCO's."""

from __future__ import annotations

from grefbench.metrics import refzom, rrefcoco
from grefbench.metrics.evaluator import METRIC_NAMES

GRES_METRICS = tuple(name for name in METRIC_NAMES if name != "num_expressions")
_BY_FAMILY = {"refer": GRES_METRICS, "refzom": refzom.METRIC_NAMES, "rrefcoco": rrefcoco.METRIC_NAMES}
_HEADLINE = {"refer": ("gIoU", "cIoU"), "refzom": ("oIoU", "mIoU"), "rrefcoco": ("mIoU", "rIoU")}
# Every metric name any benchmark reports, in a stable order.
ALL_METRICS = tuple(dict.fromkeys(name for names in _BY_FAMILY.values() for name in names))


def _family(dataset: str) -> str:
    from grefbench.data.catalog import DATASETS

    spec = DATASETS.get(dataset)
    return spec.family if spec is not None else "refer"


def metric_names(dataset: str) -> tuple[str, ...]:
    """The metrics `dataset` is scored with, in display order."""
    return _BY_FAMILY[_family(dataset)]


def headline_metrics(dataset: str) -> tuple[str, str]:
    """The two metrics a table of `dataset` is ranked by."""
    return _HEADLINE[_family(dataset)]
