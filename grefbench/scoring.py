"""Scoring a prediction file against a dataset split: the library function behind `grefbench score`.

I and U are computed on the RLE runs with pycocotools (no dense masks), in blocks, so memory
does not grow with the number of sentences beyond the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from grefbench import parallel
from grefbench.data.groundtruth import GroundTruth, load_ground_truth
from grefbench.data.protocols import PROTOCOLS
from grefbench.data.split import ReferSplit, load_split
from grefbench.errors import GrefbenchError
from grefbench.io import rle
from grefbench.io.predictions import PredictionFile, check_against_split
from grefbench.metrics.evaluator import (
    OUTCOME_NAMES,
    TARGET_KINDS,
    GresEvaluator,
    target_kind,
)
from grefbench.provenance import provenance

if TYPE_CHECKING:
    import pandas as pd

_BLOCK = 4096
# Below this many sentences a second process costs more than it saves.
_PARALLEL_MIN_SENTENCES = 4000


@dataclass
class ScoreResult:
    """Metrics, per-kind breakdown and provenance of one scored prediction file."""

    metrics: dict[str, Any]
    breakdown: dict[str, dict[str, Any]]
    counts: dict[str, int]
    provenance: dict[str, Any]
    split: ReferSplit
    predictions: PredictionFile
    evaluator: GresEvaluator = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The document written by `--json`."""
        return {"metrics": self.metrics, "counts": self.counts, "breakdown": self.breakdown, "provenance": self.provenance}

    def per_sentence(self) -> pd.DataFrame:
        """One row per sentence (requires scoring with keep_per_sentence=True)."""
        return per_sentence_frame(self.split, self.evaluator, self.predictions)


def _split_metrics(computed: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    counts = computed.pop("counts")
    return computed, counts


def sentence_intersection_union(
    predictions: PredictionFile, order: np.ndarray, split: ReferSplit, truth: GroundTruth, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Raw |pred ∩ gt| and |pred ∪ gt| for records [start, stop) of the split (RLE, no decoding)."""
    records = split.records[start:stop]
    masks = [predictions.masks[i] for i in order[start:stop].tolist()]
    gt_rles = [truth.rles[r.ref_id] for r in records]
    gt_area = np.fromiter((truth.areas[r.ref_id] for r in records), dtype=np.int64, count=len(records))
    present = [i for i, m in enumerate(masks) if m is not None]
    pred_area = np.zeros(len(records), dtype=np.int64)
    intersection = np.zeros(len(records), dtype=np.int64)
    if present:
        pred_area[present] = rle.area([masks[i] for i in present])
        overlap = [i for i in present if pred_area[i] and gt_area[i]]
        if overlap:
            intersection[overlap] = rle.intersection_areas([masks[i] for i in overlap], [gt_rles[i] for i in overlap])
    return intersection, pred_area + gt_area - intersection


def _intersection_union(predictions: PredictionFile, order: np.ndarray, split: ReferSplit, truth: GroundTruth,
                        start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """`sentence_intersection_union` over [start, stop), block by block."""
    parts = [sentence_intersection_union(predictions, order, split, truth, begin, min(begin + _BLOCK, stop))
             for begin in range(start, stop, _BLOCK)]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate([i for i, _ in parts]), np.concatenate([u for _, u in parts])


def score_predictions(
    predictions: PredictionFile,
    split: ReferSplit,
    *,
    protocol: str | None = None,
    keep_per_sentence: bool = False,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
    truth: GroundTruth | None = None,
) -> ScoreResult:
    """Score a parsed prediction file against a loaded split (validated against it first).

    `jobs` > 1 rasterises a ground truth missing from the cache over that many processes and
    measures half of the sentences in a forked child; the numbers are the same.
    """
    order = check_against_split(predictions, split, protocol)
    protocol_name = predictions.protocol
    if truth is None or truth.protocol != protocol_name:
        truth = load_ground_truth(split, protocol_name, cache_dir=cache_dir, jobs=jobs)
    n = len(split.records)
    # With jobs, the second half of the sentences is measured in a forked child meanwhile.
    middle = n // 2 if jobs > 1 and n >= _PARALLEL_MIN_SENTENCES else n
    evaluator = GresEvaluator(keep_outcomes=keep_per_sentence)
    with parallel.started(_intersection_union, predictions, order, split, truth, middle, n,
                          fork=middle < n) as second_half:
        for begin, end, pending in ((0, middle, None), (middle, n, second_half)):
            measured = pending.result() if pending is not None else None
            for start in range(begin, end, _BLOCK):
                stop = min(start + _BLOCK, end)
                if measured is None:
                    intersection, union = sentence_intersection_union(predictions, order, split, truth, start, stop)
                else:
                    intersection, union = (values[start - begin:stop - begin] for values in measured)
                records = split.records[start:stop]
                evaluator.update(intersection, union, [r.no_target for r in records],
                                 predictions.no_target[order[start:stop]], [r.n_targets for r in records],
                                 [r.sent_id for r in records])
                if progress is not None:
                    progress(stop - start)
    metrics, counts = _split_metrics(evaluator.compute())
    breakdown = {}
    for kind, values in evaluator.breakdown().items():
        kind_metrics, kind_counts = _split_metrics(values)
        breakdown[kind] = {**kind_metrics, "counts": kind_counts}
    record = provenance(
        dataset=split.dataset,
        split=split.split,
        protocol=protocol_name,
        files=split.files,
        predictions_file=str(predictions.path),
        model=predictions.model,
    )
    return ScoreResult(metrics, breakdown, counts, record, split, predictions, evaluator)


def score_file(
    predictions_path: str | Path,
    data_root: str | Path | None,
    dataset: str | None = None,
    split: str | None = None,
    *,
    protocol: str | None = None,
    keep_per_sentence: bool = False,
    cache_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    jobs: int = 1,
) -> ScoreResult:
    """Read, validate and score a prediction file against `dataset`/`split` (default: the file's own).

    `data_root` None means the dataset's default root (the shipped gRefShapes). With `jobs` > 1
    the submission is validated in a forked child while this process indexes the dataset and
    rasterises the ground truth (itself over `jobs` processes); the result is the same.
    """
    from grefbench.data.catalog import resolve_root
    from grefbench.io.predictions import parse_predictions, read_document

    path, document = read_document(predictions_path)
    with parallel.started(parse_predictions, path, document, fork=jobs > 1) as pending:
        dataset = dataset or _declared(document, "dataset")
        split = split or _declared(document, "split")
        if dataset is None or split is None:
            pending.result()  # the file is malformed: its own error says how
        try:
            loaded = load_split(resolve_root(dataset, data_root), dataset, split)
            declared = protocol or _declared(document, "protocol")
            truth = None
            if jobs > 1 and declared in PROTOCOLS:  # while the submission is being validated
                truth = load_ground_truth(loaded, declared, cache_dir=cache_dir, jobs=jobs)
        except GrefbenchError:
            pending.result()  # a broken submission is reported before a dataset problem, as without jobs
            raise
        predictions = pending.result()
    del document  # the parsed file holds all that scoring needs: the JSON tree can go (memory per MB of input)
    return score_predictions(predictions, loaded, protocol=protocol, keep_per_sentence=keep_per_sentence,
                             cache_dir=cache_dir, progress=progress, jobs=jobs, truth=truth)


def _declared(document: Any, key: str) -> str | None:
    """A top-level string field of a not-yet-validated prediction document, if it is one."""
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def per_sentence_frame(split: ReferSplit, evaluator: GresEvaluator, predictions: PredictionFile | None = None) -> pd.DataFrame:
    """The per-sentence table: ids, sentence, GT/predicted no-target, I, U, IoU, outcome, target kind."""
    import pandas as pd

    sent_ids, outcomes = evaluator.outcomes()
    position = split.position
    records = [split.records[position[s]] for s in sent_ids.tolist()]
    gt_nt = np.array([r.no_target for r in records], dtype=bool)
    n_targets = np.array([r.n_targets for r in records], dtype=np.int64)
    pred_nt = (outcomes.outcome == 0) | (outcomes.outcome == 2)
    return pd.DataFrame(
        {
            "sent_id": sent_ids,
            "ref_id": np.array([r.ref_id for r in records], dtype=np.int64),
            "image_id": np.array([r.image_id for r in records], dtype=np.int64),
            "sentence": [r.sentence for r in records],
            "gt_no_target": gt_nt,
            "pred_no_target": pred_nt,
            "n_targets": n_targets,
            "target_kind": pd.Categorical.from_codes(target_kind(gt_nt, n_targets), TARGET_KINDS),
            "intersection": outcomes.intersection,
            "union": outcomes.union,
            "iou": outcomes.iou,
            "outcome": pd.Categorical.from_codes(outcomes.outcome, OUTCOME_NAMES),
        }
    )
