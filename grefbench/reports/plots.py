"""Plots as inline SVG strings (matplotlib, Agg backend), deterministic so rebuilt pages do not churn.

Text stays text in the SVG (svg.fonttype "none"), matplotlib escapes it, and ids are salted with a
fixed string so identical inputs give identical bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

_SVG_START = re.compile(r"<svg\b")
_INK = "#333333"
_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "grefbench", "svg.fonttype": "none", "font.size": 9,
                         "axes.edgecolor": _INK, "axes.labelcolor": _INK, "xtick.color": _INK, "ytick.color": _INK})
    figure, axes = plt.subplots(figsize=(width, height))
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _to_svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.tight_layout()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    start = _SVG_START.search(text)
    return text[start.start():] if start else text


def class_distribution(labels: Sequence[str], counts: Sequence[int], title: str) -> str:
    """Horizontal bars: sentences per failure class."""
    figure, axes = _figure(5.6, 0.3 * len(labels) + 0.9)
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, counts, color=_COLOURS[0])
    axes.set_yticks(positions, labels)
    total = max(sum(counts), 1)
    for y, count in zip(positions, counts):
        axes.text(count, y, f" {count} ({count * 100 / total:.1f}%)", va="center", fontsize=8, color=_INK)
    axes.set_xlim(0, max(max(counts, default=0), 1) * 1.3)
    axes.set_xlabel("sentences")
    axes.set_title(title, fontsize=10)
    return _to_svg(figure)


def iou_histogram(ious: Sequence[float], title: str) -> str:
    """Per-sentence IoU of the target sentences (no-target calls on them count as 0)."""
    figure, axes = _figure(5.6, 2.6)
    axes.hist(list(ious), bins=20, range=(0, 1), color=_COLOURS[2], edgecolor="white")
    for threshold in (0.5, 0.7, 0.9):
        axes.axvline(threshold, color=_INK, linewidth=0.8, linestyle=":")
    axes.set_xlabel("IoU")
    axes.set_ylabel("sentences")
    axes.set_title(title, fontsize=10)
    return _to_svg(figure)


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[Any]], title: str, ylabel: str = "%") -> str:
    """Side-by-side bars per group for a few metrics (None values leave a gap)."""
    figure, axes = _figure(max(4.0, 0.55 * len(groups) * max(len(series), 1) + 1.5), 2.8)
    width = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        heights = [0 if v is None else v for v in values]
        axes.bar(xs, heights, width=width, label=name, color=_COLOURS[k % len(_COLOURS)])
    axes.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 5 else 0,
                    ha="right" if len(groups) > 5 else "center")
    axes.set_ylim(0, 100)
    axes.set_ylabel(ylabel)
    axes.legend(frameon=False, fontsize=8, ncols=len(series))
    axes.set_title(title, fontsize=10)
    return _to_svg(figure)


def delta_intervals(metrics: Sequence[str], deltas: Sequence[float | None], lows: Sequence[float | None],
                    highs: Sequence[float | None], title: str) -> str:
    """B - A per metric with its confidence interval, against the zero line."""
    figure, axes = _figure(5.6, 0.35 * len(metrics) + 1.0)
    positions = list(range(len(metrics)))[::-1]
    for y, delta, low, high in zip(positions, deltas, lows, highs):
        if delta is None or low is None or high is None:
            continue
        colour = _COLOURS[0] if low > 0 else _COLOURS[1] if high < 0 else "#777777"
        axes.errorbar([delta], [y], xerr=[[delta - low], [high - delta]], fmt="o", color=colour, capsize=3)
    axes.axvline(0, color=_INK, linewidth=0.8)
    axes.set_yticks(positions, metrics)
    axes.set_xlabel("B - A (percentage points)")
    axes.set_title(title, fontsize=10)
    return _to_svg(figure)
