"""Failure analysis of a GREC box file: a failure class per sentence and the same breakdowns as for masks.

The failure class of a sentence is its GREC outcome (`grefbench.metrics.grec`): correct, missed
no-target, false no-target, missing boxes, extra boxes, mislocalised. Every metric of a breakdown
comes from a GrecState over that subset's per-sentence results, so it is what `grefbench score`
would print for the subset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.data.gt_boxes import GroundTruthBoxes, ground_truth_boxes
from grefbench.data.split import ReferSplit
from grefbench.grec_scoring import GrecScoreResult, score_boxes
from grefbench.io.boxes import BoxFile, check_boxes_against_split
from grefbench.metrics.grec import GREC_METRIC_NAMES, GREC_OUTCOME_NAMES, GrecState
from grefbench.reports import cues
from grefbench.reports.analysis import (
    BREAKDOWN_TITLES,
    N_TARGET_LABELS,
    NO_TARGET_LABEL,
    SEVERAL_CATEGORIES,
    _category_label,
    _labelled_groups,
    _size_label,
)

if TYPE_CHECKING:
    import pandas as pd

BOX_DEFINITIONS = {
    "correct": "nothing kept for a no-target expression, or every kept box matched and every target found (F1 = 1)",
    "missed no-target": "a box kept (score >= threshold) where the expression refers to nothing",
    "false no-target": "no box kept although the expression has a target",
    "missing boxes": "every kept box matched, but some targets not found (FP = 0, FN > 0)",
    "extra boxes": "every target found, but some kept boxes match nothing (FP > 0, FN = 0)",
    "mislocalised": "some kept boxes match nothing and some targets are not found (FP > 0, FN > 0)",
}


@dataclass
class BoxAnalysis:
    """A scored box file with per-sentence failure classes, descriptive columns and breakdowns."""

    result: GrecScoreResult
    frame: pd.DataFrame
    breakdowns: dict[str, pd.DataFrame]
    truth: GroundTruthBoxes
    order: np.ndarray  # split record index -> entry index in the file

    @property
    def split(self) -> ReferSplit:
        return self.result.split

    @property
    def predictions(self) -> BoxFile:
        return self.result.predictions

    def class_counts(self) -> pd.DataFrame:
        """Sentences per failure class, with their share in percent and a definition."""
        import pandas as pd

        counts = self.frame["failure_class"].value_counts().reindex(GREC_OUTCOME_NAMES, fill_value=0)
        total = max(int(counts.sum()), 1)
        return pd.DataFrame({"failure_class": list(GREC_OUTCOME_NAMES), "count": counts.to_numpy(),
                             "percent": counts.to_numpy() * 100.0 / total,
                             "definition": [BOX_DEFINITIONS[c] for c in GREC_OUTCOME_NAMES]})

    def pred_boxes(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The submitted xywh boxes and scores of the sentence at split position `row`."""
        entry = int(self.order[row])
        offsets = self.predictions.offsets
        return (self.predictions.boxes[offsets[entry]:offsets[entry + 1]],
                self.predictions.scores[offsets[entry]:offsets[entry + 1]])


def state_of(frame: pd.DataFrame) -> GrecState:
    """The GREC sums of the rows of a per-sentence box frame."""
    no_target = frame["gt_no_target"].to_numpy(dtype=bool)
    kept = frame["kept_boxes"].to_numpy()
    return GrecState(count=len(frame), correct=int(frame["correct"].sum()), no_target=int(no_target.sum()),
                     no_target_correct=int((no_target & (kept == 0)).sum()), target=int((~no_target).sum()),
                     target_kept=int((~no_target & (kept > 0)).sum()), tp=int(frame["TP"].sum()),
                     fp=int(frame["FP"].sum()), fn=int(frame["FN"].sum()))


def box_metrics_of(frame: pd.DataFrame, selection: np.ndarray | None = None) -> dict[str, Any]:
    """The GREC metrics of the selected rows of a per-sentence box frame."""
    metrics = state_of(frame if selection is None else frame[selection]).compute()
    metrics.pop("counts")
    return metrics


def _grouped(frame: pd.DataFrame, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    import pandas as pd

    rows = [{"group": label, **box_metrics_of(frame, selection)} for label, selection in groups.items() if selection.any()]
    return pd.DataFrame(rows, columns=["group", *GREC_METRIC_NAMES])


def box_breakdowns(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """GREC metric tables by target kind, number of targets, length, cue, target size and category."""
    cue_groups = {name: frame[name].to_numpy() for name in cues.CUE_NAMES}
    cue_groups["(no cue)"] = ~np.logical_or.reduce([frame[name].to_numpy() for name in cues.CUE_NAMES])
    categories = frame["category"].value_counts()
    category_order = [c for c in categories.index if c not in (NO_TARGET_LABEL, SEVERAL_CATEGORIES)]
    category_order += [SEVERAL_CATEGORIES, NO_TARGET_LABEL]
    return {
        "target_kind": _grouped(frame, _labelled_groups(frame["target_kind"], ("no-target", "single", "multi"))),
        "n_targets": _grouped(frame, _labelled_groups(frame["n_targets_group"], N_TARGET_LABELS)),
        "length": _grouped(frame, _labelled_groups(frame["length"], cues.length_labels())),
        "cue": _grouped(frame, cue_groups),
        "target_size": _grouped(frame, _labelled_groups(frame["target_size"], ("small", "medium", "large",
                                                                                NO_TARGET_LABEL))),
        "category": _grouped(frame, _labelled_groups(frame["category"], category_order)),
    }


BOX_BREAKDOWN_TITLES = {**BREAKDOWN_TITLES, "target_size": "Target size (COCO ranges, summed area of the target boxes)"}


def analyze_boxes(boxes: BoxFile, split: ReferSplit, *, score_threshold: float = 0.7, box_iou: str = "giou",
                  progress: Callable[[int], None] | None = None) -> BoxAnalysis:
    """Score `boxes` on `split` and classify every sentence (validated against the split first)."""
    import pandas as pd

    result = score_boxes(boxes, split, score_threshold=score_threshold, box_iou=box_iou, keep_per_sentence=True)
    order = check_boxes_against_split(boxes, split)
    truth = ground_truth_boxes(split)
    frame = result.per_sentence()
    records = split.records
    sentences = [r.sentence for r in records]
    words = np.fromiter((cues.word_count(s) for s in sentences), dtype=np.int64, count=len(records))
    box_area = truth.boxes[:, 2] * truth.boxes[:, 3]
    target_area = np.add.reduceat(np.r_[box_area, 0.0], truth.offsets[:-1]) * (truth.counts > 0)
    frame["failure_class"] = pd.Categorical(frame["outcome"].astype(str), categories=list(GREC_OUTCOME_NAMES))
    frame["words"] = words
    frame["length"] = [cues.length_bucket(w) for w in words.tolist()]
    for name, column in cues.cue_matrix(sentences).items():
        frame[name] = column
    frame["n_targets_group"] = [N_TARGET_LABELS[min(n, 4)] for n in frame["n_targets"].tolist()]
    frame["target_box_area"] = target_area
    frame["target_size"] = [_size_label(a, r.no_target) for a, r in zip(target_area.tolist(), records)]
    frame["category"] = [_category_label(split, r.category_ids, r.no_target) for r in records]
    if progress is not None:
        progress(len(records))
    return BoxAnalysis(result, frame, box_breakdowns(frame), truth, order)


def box_breakdown_frame(analysis: BoxAnalysis) -> pd.DataFrame:
    """Every breakdown in one long table: breakdown, group, then the metrics (for CSV)."""
    import pandas as pd

    parts = [table.assign(breakdown=key)[["breakdown", "group", *GREC_METRIC_NAMES]]
             for key, table in analysis.breakdowns.items()]
    classes = analysis.class_counts()
    parts.append(pd.DataFrame({"breakdown": "failure_class", "group": classes["failure_class"],
                               "num_expressions": classes["count"]}))
    return pd.concat(parts, ignore_index=True)
