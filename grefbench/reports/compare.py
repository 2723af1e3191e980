"""Model A versus model B on one split: metric deltas with paired bootstrap intervals, wins per class.

A sentence is a win for B when B's per-sentence IoU (the quantity gIoU averages: 1 for a correct
no-target call) is higher than A's, a loss when lower, a tie when equal. Wins are counted per
failure class of A, so a row reads "of the sentences A got <class>, B improved this many".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grefbench.data.split import load_split
from grefbench.errors import UsageError
from grefbench.io.predictions import read_predictions
from grefbench.reports.analysis import Analysis, analyze_predictions
from grefbench.reports.bootstrap import (
    DEFAULT_RESAMPLES,
    PairedBootstrap,
    image_states,
    paired_bootstrap,
    verdict,
)
from grefbench.reports.failure_classes import FAILURE_CLASSES

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Comparison:
    """Everything `grefbench compare` shows."""

    a: Analysis
    b: Analysis
    bootstrap: PairedBootstrap
    verdict: str
    paired: pd.DataFrame
    win_loss: pd.DataFrame
    transitions: pd.DataFrame

    @property
    def names(self) -> tuple[str, str]:
        return self.a.predictions.model["name"], self.b.predictions.model["name"]

    def largest_disagreements(self, count: int = 8) -> pd.DataFrame:
        """The sentences where the two per-sentence IoUs differ most (ties broken by sent_id)."""
        ranked = self.paired.assign(magnitude=self.paired["iou_delta"].abs())
        ranked = ranked[ranked["magnitude"] > 0].sort_values(["magnitude", "sent_id"], ascending=[False, True])
        return ranked.head(count)


def _states(analysis: Analysis):
    frame = analysis.frame
    return image_states(frame["image_id"].to_numpy(), frame["intersection"].to_numpy(), frame["union"].to_numpy(),
                        frame["gt_no_target"].to_numpy(), frame["pred_no_target"].to_numpy())


def compare_analyses(a: Analysis, b: Analysis, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Comparison:
    """Compare two analyses of the same dataset, split and protocol."""
    import pandas as pd

    for field in ("dataset", "split", "protocol"):
        first, second = getattr(a.predictions, field), getattr(b.predictions, field)
        if first != second:
            raise UsageError(f"cannot compare {a.predictions.path} and {b.predictions.path}: {field} "
                             f"{first!r} differs from {second!r}")
    if resamples < 1:
        raise UsageError(f"--resamples must be at least 1, got {resamples}")
    result = paired_bootstrap(_states(a), _states(b), resamples=resamples, seed=seed)
    name_a, name_b = a.predictions.model["name"], b.predictions.model["name"]
    if name_a == name_b:
        name_a, name_b = f"A ({name_a})", f"B ({name_b})"
    fa, fb = a.frame, b.frame
    paired = pd.DataFrame({
        "sent_id": fa["sent_id"], "image_id": fa["image_id"], "sentence": fa["sentence"],
        "target_kind": fa["target_kind"], "iou_a": fa["iou"], "iou_b": fb["iou"],
        "iou_delta": fb["iou"].to_numpy() - fa["iou"].to_numpy(),
        "class_a": fa["failure_class"], "class_b": fb["failure_class"],
    })
    delta = paired["iou_delta"].to_numpy()
    rows = []
    for name in FAILURE_CLASSES:
        selected = (paired["class_a"] == name).to_numpy()
        rows.append({"class_a": name, "sentences": int(selected.sum()), "wins_b": int((delta[selected] > 0).sum()),
                     "losses_b": int((delta[selected] < 0).sum()), "ties": int((delta[selected] == 0).sum())})
    rows.append({"class_a": "all", "sentences": int(delta.size), "wins_b": int((delta > 0).sum()),
                 "losses_b": int((delta < 0).sum()), "ties": int((delta == 0).sum())})
    transitions = pd.crosstab(paired["class_a"], paired["class_b"], dropna=False).reindex(
        index=list(FAILURE_CLASSES), columns=list(FAILURE_CLASSES), fill_value=0)
    return Comparison(a, b, result, verdict(result, name_a, name_b), paired, pd.DataFrame(rows), transitions)


def compare_files(path_a: str | Path, path_b: str | Path, data_root: str | Path, *, dataset: str | None = None,
                  split: str | None = None, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                  cache_dir: Path | None = None) -> Comparison:
    """Read, validate, analyze and compare two prediction files on one split."""
    first, second = read_predictions(path_a), read_predictions(path_b)
    loaded = load_split(data_root, dataset or first.dataset, split or first.split)
    a = analyze_predictions(first, loaded, cache_dir=cache_dir)
    b = analyze_predictions(second, loaded, cache_dir=cache_dir)
    return compare_analyses(a, b, resamples=resamples, seed=seed)


def delta_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The delta table as plain rows (for CSV, JSON and templates)."""
    return comparison.bootstrap.rows()
