"""Per-expression failure analysis: a failure class and descriptive columns per sentence, metric breakdowns.

Every metric in a breakdown is a GresEvaluator over that subset of sentences, fed the per-sentence
I and U of the scorer (the official rules are idempotent on their own output), so the numbers are
the ones `grefbench score` would print for that subset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.data.groundtruth import GroundTruth, load_ground_truth
from grefbench.data.protocols import get_protocol
from grefbench.data.split import ReferSplit, load_split
from grefbench.io import rle
from grefbench.io.predictions import (
    PredictionFile,
    check_against_split,
    read_predictions,
)
from grefbench.metrics.evaluator import METRIC_NAMES, TN, GresEvaluator
from grefbench.reports import cues
from grefbench.reports.failure_classes import DEFINITIONS, FAILURE_CLASSES, classify
from grefbench.reports.instances import instance_coverage
from grefbench.scoring import ScoreResult, score_predictions

if TYPE_CHECKING:
    import pandas as pd

# Bump when a column or rule changes, so cached analyses (leaderboard state) are recomputed.
ANALYSIS_VERSION = 1

# COCO's object-size ranges, in pixels at the image's original size.
SMALL_AREA = 32 * 32
LARGE_AREA = 96 * 96
SIZE_LABELS = ("small", "medium", "large", "(no target)")
N_TARGET_LABELS = ("0 (no target)", "1", "2", "3", "4+")
NO_TARGET_LABEL = "(no target)"
SEVERAL_CATEGORIES = "(several categories)"

BREAKDOWN_TITLES = {
    "target_kind": "Target kind",
    "n_targets": "Number of targets",
    "length": "Expression length (words)",
    "cue": "Linguistic cue",
    "target_size": "Target size (COCO ranges, original-resolution pixels)",
    "category": "Category of the targets",
}


@dataclass
class Analysis:
    """A scored prediction file with per-sentence failure classes, descriptive columns and breakdowns."""

    result: ScoreResult
    frame: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame]
    truth: GroundTruth
    order: np.ndarray  # split record index -> prediction index in the file

    @property
    def split(self) -> ReferSplit:
        return self.result.split

    @property
    def predictions(self) -> PredictionFile:
        return self.result.predictions

    def class_counts(self) -> pd.DataFrame:
        """Sentences per failure class, with their share in percent and a definition."""
        import pandas as pd

        counts = self.frame["failure_class"].value_counts().reindex(FAILURE_CLASSES, fill_value=0)
        total = max(int(counts.sum()), 1)
        return pd.DataFrame({"failure_class": list(FAILURE_CLASSES), "count": counts.to_numpy(),
                             "percent": counts.to_numpy() * 100.0 / total,
                             "definition": [DEFINITIONS[c] for c in FAILURE_CLASSES]})

    def pred_mask(self, row: int) -> dict | None:
        """The submitted mask of the sentence at split position `row` (None when omitted)."""
        return self.predictions.masks[int(self.order[row])]

    def gt_mask(self, row: int) -> dict:
        return self.truth.rles[self.split.records[row].ref_id]


def metrics_of(frame: pd.DataFrame, selection: np.ndarray | None = None) -> dict[str, Any]:
    """The GRES metrics of the selected rows of a per-sentence frame (one GresEvaluator)."""
    rows = frame if selection is None else frame[selection]
    evaluator = GresEvaluator()
    if len(rows):
        evaluator.update(rows["intersection"].to_numpy(), rows["union"].to_numpy(), rows["gt_no_target"].to_numpy(),
                         rows["pred_no_target"].to_numpy(), rows["n_targets"].to_numpy())
    metrics = evaluator.compute()
    metrics.pop("counts")
    return metrics


def grouped_metrics(frame: pd.DataFrame, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row of metrics per named selection (selections may overlap); empty selections are left out."""
    import pandas as pd

    rows = []
    for label, selection in groups.items():
        if selection.any():
            rows.append({"group": label, **metrics_of(frame, selection)})
    return pd.DataFrame(rows, columns=["group", *METRIC_NAMES])


def _labelled_groups(values: pd.Series, order: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    array = values.astype(str).to_numpy()
    return {label: array == label for label in order}


def breakdowns(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Metric tables by target kind, number of targets, length, cue, target size and category."""
    cue_groups = {name: frame[name].to_numpy() for name in cues.CUE_NAMES}
    cue_groups["(no cue)"] = ~np.logical_or.reduce([frame[name].to_numpy() for name in cues.CUE_NAMES])
    categories = frame["category"].value_counts()
    category_order = [c for c in categories.index if c not in (NO_TARGET_LABEL, SEVERAL_CATEGORIES)]
    category_order += [SEVERAL_CATEGORIES, NO_TARGET_LABEL]
    return {
        "target_kind": grouped_metrics(frame, _labelled_groups(frame["target_kind"], ("no-target", "single", "multi"))),
        "n_targets": grouped_metrics(frame, _labelled_groups(frame["n_targets_group"], N_TARGET_LABELS)),
        "length": grouped_metrics(frame, _labelled_groups(frame["length"], cues.length_labels())),
        "cue": grouped_metrics(frame, cue_groups),
        "target_size": grouped_metrics(frame, _labelled_groups(frame["target_size"], SIZE_LABELS)),
        "category": grouped_metrics(frame, _labelled_groups(frame["category"], category_order)),
    }


def _category_label(split: ReferSplit, category_ids: tuple[int, ...], no_target: bool) -> str:
    if no_target:
        return NO_TARGET_LABEL
    names = {split.categories.get(c, str(c)) for c in category_ids}
    if len(names) == 1:
        return names.pop()
    return SEVERAL_CATEGORIES if names else NO_TARGET_LABEL


def _size_label(area: int, no_target: bool) -> str:
    if no_target:
        return NO_TARGET_LABEL
    return "small" if area < SMALL_AREA else "medium" if area < LARGE_AREA else "large"


def analyze_predictions(
    predictions: PredictionFile,
    split: ReferSplit,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Analysis:
    """Score `predictions` on `split` and classify every sentence (validated against the split first)."""
    import pandas as pd

    result = score_predictions(predictions, split, keep_per_sentence=True, cache_dir=cache_dir)
    order = check_against_split(predictions, split)
    protocol = get_protocol(predictions.protocol)
    truth = load_ground_truth(split, protocol, cache_dir=cache_dir)
    native = truth if protocol.name == "native" else load_ground_truth(split, "native", cache_dir=cache_dir)
    frame = result.per_sentence()
    records = split.records
    assert frame["sent_id"].tolist() == [r.sent_id for r in records], "per-sentence rows follow the split"

    masks = [predictions.masks[i] for i in order.tolist()]
    present = [i for i, m in enumerate(masks) if m is not None]
    pred_area = np.zeros(len(records), dtype=np.int64)
    if present:
        pred_area[present] = rle.area([masks[i] for i in present])
    gt_area = np.fromiter((truth.areas[r.ref_id] for r in records), dtype=np.int64, count=len(records))
    outcome_codes = frame["outcome"].cat.codes.to_numpy()
    intersection = frame["intersection"].to_numpy()

    scored_rows = np.flatnonzero(outcome_codes == TN).tolist()
    coverage = instance_coverage(
        split, protocol, scored_rows, [masks[r] for r in scored_rows], [truth.rles[records[r].ref_id] for r in scored_rows],
        gt_area[scored_rows], intersection[scored_rows], progress=progress,
    )
    codes = classify(outcome_codes, frame["iou"].to_numpy(), intersection, gt_area, pred_area,
                     coverage.target_instances, coverage.covered_targets, coverage.extra_instances)

    sentences = [r.sentence for r in records]
    words = np.fromiter((cues.word_count(s) for s in sentences), dtype=np.int64, count=len(records))
    native_area = np.fromiter((native.areas[r.ref_id] for r in records), dtype=np.int64, count=len(records))
    n_targets = frame["n_targets"].to_numpy()
    frame["pred_area"] = pred_area
    frame["gt_area"] = gt_area
    frame["target_instances"] = coverage.target_instances
    frame["covered_targets"] = coverage.covered_targets
    frame["extra_instances"] = coverage.extra_instances
    frame["failure_class"] = pd.Categorical.from_codes(codes, FAILURE_CLASSES)
    frame["words"] = words
    frame["length"] = [cues.length_bucket(w) for w in words.tolist()]
    for name, column in cues.cue_matrix(sentences).items():
        frame[name] = column
    frame["n_targets_group"] = [N_TARGET_LABELS[min(n, 4)] for n in n_targets.tolist()]
    frame["target_area_native"] = native_area
    frame["target_size"] = [_size_label(a, r.no_target) for a, r in zip(native_area.tolist(), records)]
    frame["category"] = [_category_label(split, r.category_ids, r.no_target) for r in records]
    return Analysis(result, frame, breakdowns(frame), truth, order)


def analyze_file(predictions_path: str | Path, data_root: str | Path, dataset: str | None = None,
                 split: str | None = None, **options: Any) -> Analysis:
    """Read a prediction file, load its split (defaults: the file's dataset and split) and analyze it."""
    parsed = read_predictions(predictions_path)
    loaded = load_split(data_root, dataset or parsed.dataset, split or parsed.split)
    return analyze_predictions(parsed, loaded, **options)


def breakdown_frame(analysis: Analysis) -> pd.DataFrame:
    """Every breakdown in one long table: breakdown, group, then the metrics (for CSV)."""
    import pandas as pd

    parts = [table.assign(breakdown=key)[["breakdown", "group", *METRIC_NAMES]]
             for key, table in analysis.breakdowns.items()]
    classes = analysis.class_counts()
    parts.append(pd.DataFrame({"breakdown": "failure_class", "group": classes["failure_class"],
                               "num_expressions": classes["count"]}))
    return pd.concat(parts, ignore_index=True)
