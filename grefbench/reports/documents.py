"""Plain JSON documents of an analysis and a comparison: what the HTML, the terminal and the caches show.

One document feeds every display, so the HTML page, the terminal summary and the leaderboard's
cached entry cannot disagree. Undefined metrics are None (never NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grefbench.metrics.evaluator import FP, TN
from grefbench.reports import gallery, plots
from grefbench.reports.analysis import ANALYSIS_VERSION, BREAKDOWN_TITLES, Analysis
from grefbench.reports.compare import Comparison
from grefbench.reports.failure_classes import DEFINITIONS, FAILURE_CLASSES

ANALYSIS_FORMAT = "grefbench-analysis/1"
COMPARISON_FORMAT = "grefbench-comparison/1"


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN -> None, numpy scalars -> Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame) -> list[dict[str, Any]]:
    return clean(frame.to_dict("records"))


def _breakdown_plot(rows: list[dict[str, Any]], title: str) -> str:
    groups = [str(r["group"]) for r in rows]
    return plots.grouped_bars(groups, {"gIoU": [r["gIoU"] for r in rows], "cIoU": [r["cIoU"] for r in rows]}, title)


def analysis_document(analysis: Analysis, *, gallery_per_class: int = 4, with_plots: bool = True) -> dict[str, Any]:
    """Metrics, failure classes, breakdowns, plots and gallery of one analysis (the terminal needs neither
    plots nor gallery: `with_plots=False`, `gallery_per_class=0`)."""
    result = analysis.result
    predictions = analysis.predictions
    classes = analysis.class_counts()
    breakdowns = {key: {"title": BREAKDOWN_TITLES[key], "rows": _records(table)}
                  for key, table in analysis.breakdowns.items()}
    frame = analysis.frame
    codes = frame["outcome"].cat.codes.to_numpy()
    target_ious = frame["iou"].to_numpy()[(codes == TN) | (codes == FP)]
    model_name = predictions.model["name"]
    figures = {} if not with_plots else {
        "classes": plots.class_distribution(list(FAILURE_CLASSES), classes["count"].tolist(), "Failure classes"),
        "iou": plots.iou_histogram(target_ious.tolist(), "IoU of target expressions"),
        **{key: _breakdown_plot(breakdowns[key]["rows"], BREAKDOWN_TITLES[key])
           for key in ("n_targets", "length", "cue", "target_size")},
    }
    return clean({
        "format": ANALYSIS_FORMAT,
        "analysis_version": ANALYSIS_VERSION,
        "dataset": analysis.split.dataset,
        "split": analysis.split.split,
        "protocol": predictions.protocol,
        "model": {"name": model_name, **{k: v for k, v in predictions.model.items() if k != "name"}},
        "metrics": result.metrics,
        "counts": result.counts,
        "breakdown": result.breakdown,
        "classes": _records(classes),
        "breakdowns": breakdowns,
        "plots": figures,
        "gallery": gallery.class_gallery(analysis, gallery_per_class) if gallery_per_class > 0 else {},
        "provenance": result.provenance,
    })


def comparison_document(comparison: Comparison, *, gallery_size: int = 8) -> dict[str, Any]:
    """Deltas with intervals, verdict, wins per class and the largest disagreements of a comparison."""
    a, b = comparison.a, comparison.b
    name_a, name_b = comparison.names
    rows = comparison.bootstrap.rows()
    items = []
    if gallery_size > 0:
        for sent_id in comparison.largest_disagreements(gallery_size)["sent_id"].tolist():
            row = a.split.position[int(sent_id)]
            item = gallery.gallery_item(a, row, others=[(b, "B")])
            item.update(iou_a=float(a.frame["iou"].iat[row]), iou_b=float(b.frame["iou"].iat[row]),
                        class_a=str(a.frame["failure_class"].iat[row]), class_b=str(b.frame["failure_class"].iat[row]))
            items.append(item)
    figure = plots.delta_intervals([r["metric"] for r in rows], [r["delta"] for r in rows], [r["low"] for r in rows],
                                   [r["high"] for r in rows], "B - A with 95% paired bootstrap intervals")
    return clean({
        "format": COMPARISON_FORMAT,
        "dataset": a.split.dataset,
        "split": a.split.split,
        "protocol": a.predictions.protocol,
        "a": {"name": name_a, "file": str(a.predictions.path)},
        "b": {"name": name_b, "file": str(b.predictions.path)},
        "verdict": comparison.verdict,
        "bootstrap": {"images": comparison.bootstrap.images, "resamples": comparison.bootstrap.resamples,
                      "seed": comparison.bootstrap.seed, "confidence": comparison.bootstrap.confidence},
        "deltas": rows,
        "win_loss": _records(comparison.win_loss),
        "transitions": {"classes": list(FAILURE_CLASSES), "counts": comparison.transitions.to_numpy().tolist()},
        "definitions": DEFINITIONS,
        "plot": figure,
        "gallery": items,
        "provenance": a.result.provenance,
    })
