"""Box file A versus box file B (GREC): metric deltas with paired bootstrap intervals over images, wins per class.

As for masks (`reports/bootstrap.py`): images are resampled (their sentences are correlated), both
models get the same resamples, intervals are percentiles. Each image's sentences are summed once
into GrecState counts; a resample's counts are a matrix product, its metrics the GrecState ratios.
A sentence is a win for B when B's per-sentence F1 is higher than A's.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.errors import UsageError
from grefbench.metrics.grec import GREC_OUTCOME_NAMES, PRECISION_NAME, GrecState
from grefbench.reports.bootstrap import CONFIDENCE, DEFAULT_RESAMPLES, PairedBootstrap, resample_weights, verdict
from grefbench.reports.box_analysis import BoxAnalysis

if TYPE_CHECKING:
    import pandas as pd

BOX_BOOTSTRAP_METRICS = (PRECISION_NAME, "N-acc", "T-acc")
_FIELDS = tuple(f.name for f in fields(GrecState))


def image_counts(analysis: BoxAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """(image ids, GrecState sums per image [images, fields]) of one analysis."""
    frame = analysis.frame
    image_ids, inverse = np.unique(frame["image_id"].to_numpy(), return_inverse=True)
    no_target = frame["gt_no_target"].to_numpy(dtype=bool)
    kept = frame["kept_boxes"].to_numpy()
    columns = {"count": np.ones(len(frame)), "correct": frame["correct"].to_numpy(), "no_target": no_target,
               "no_target_correct": no_target & (kept == 0), "target": ~no_target,
               "target_kept": ~no_target & (kept > 0), "tp": frame["TP"].to_numpy(), "fp": frame["FP"].to_numpy(),
               "fn": frame["FN"].to_numpy()}
    counts = np.zeros((image_ids.size, len(_FIELDS)), dtype=np.int64)
    for j, name in enumerate(_FIELDS):
        np.add.at(counts[:, j], inverse, np.asarray(columns[name], dtype=np.int64))
    return image_ids, counts


def _metric_rows(counts: np.ndarray) -> np.ndarray:
    """[resamples, 3] metrics (NaN where undefined) from summed counts [resamples, fields]; GrecState's ratios."""
    column = {name: counts[:, j].astype(np.float64) for j, name in enumerate(_FIELDS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        table = np.stack([column["correct"] / column["count"], column["no_target_correct"] / column["no_target"],
                          column["target_kept"] / column["target"]], axis=1) * 100
    return np.where(np.isfinite(table), table, np.nan)


def paired_box_bootstrap(a: BoxAnalysis, b: BoxAnalysis, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                         confidence: float = CONFIDENCE) -> PairedBootstrap:
    """B - A per GREC metric with a paired percentile bootstrap over images."""
    ids_a, counts_a = image_counts(a)
    ids_b, counts_b = image_counts(b)
    if not np.array_equal(ids_a, ids_b):
        raise ValueError("the two models were scored on different images")
    observed_a = GrecState(**dict(zip(_FIELDS, map(int, counts_a.sum(0))))).compute()
    observed_b = GrecState(**dict(zip(_FIELDS, map(int, counts_b.sum(0))))).compute()
    weights = resample_weights(ids_a.size, resamples, seed)
    deltas = _metric_rows(weights @ counts_b) - _metric_rows(weights @ counts_a)
    tail = (1 - confidence) / 2 * 100
    metrics: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(BOX_BOOTSTRAP_METRICS):
        finite = deltas[:, j][np.isfinite(deltas[:, j])]
        low, high = np.percentile(finite, [tail, 100 - tail]).tolist() if finite.size else (None, None)
        first, second = observed_a[name], observed_b[name]
        metrics[name] = {"a": first, "b": second,
                         "delta": None if first is None or second is None else second - first,
                         "low": low, "high": high, "defined_resamples": int(finite.size)}
    return PairedBootstrap(metrics, int(ids_a.size), resamples, seed, confidence)


@dataclass
class BoxComparison:
    """Everything `grefbench compare` shows for two box files."""

    a: BoxAnalysis
    b: BoxAnalysis
    bootstrap: PairedBootstrap
    verdict: str
    paired: pd.DataFrame
    win_loss: pd.DataFrame
    transitions: pd.DataFrame

    @property
    def names(self) -> tuple[str, str]:
        return self.a.predictions.model["name"], self.b.predictions.model["name"]

    def largest_disagreements(self, count: int = 8) -> pd.DataFrame:
        """The sentences where the two per-sentence F1 differ most (ties broken by sent_id)."""
        ranked = self.paired.assign(magnitude=self.paired["f1_delta"].abs())
        ranked = ranked[ranked["magnitude"] > 0].sort_values(["magnitude", "sent_id"], ascending=[False, True])
        return ranked.head(count)


def compare_box_analyses(a: BoxAnalysis, b: BoxAnalysis, *, resamples: int = DEFAULT_RESAMPLES,
                         seed: int = 0) -> BoxComparison:
    """Compare two box analyses of the same dataset and split, scored with the same options."""
    import pandas as pd

    for field in ("dataset", "split"):
        first, second = getattr(a.predictions, field), getattr(b.predictions, field)
        if first != second:
            raise UsageError(f"cannot compare {a.predictions.path} and {b.predictions.path}: {field} "
                             f"{first!r} differs from {second!r}")
    if resamples < 1:
        raise UsageError(f"--resamples must be at least 1, got {resamples}")
    result = paired_box_bootstrap(a, b, resamples=resamples, seed=seed)
    name_a, name_b = a.predictions.model["name"], b.predictions.model["name"]
    if name_a == name_b:
        name_a, name_b = f"A ({name_a})", f"B ({name_b})"
    fa, fb = a.frame, b.frame
    paired = pd.DataFrame({
        "sent_id": fa["sent_id"], "image_id": fa["image_id"], "sentence": fa["sentence"],
        "target_kind": fa["target_kind"], "f1_a": fa["F1"], "f1_b": fb["F1"],
        "f1_delta": fb["F1"].to_numpy() - fa["F1"].to_numpy(),
        "class_a": fa["failure_class"], "class_b": fb["failure_class"],
    })
    delta = paired["f1_delta"].to_numpy()
    rows = []
    for name in GREC_OUTCOME_NAMES:
        selected = (paired["class_a"] == name).to_numpy()
        rows.append({"class_a": name, "sentences": int(selected.sum()), "wins_b": int((delta[selected] > 0).sum()),
                     "losses_b": int((delta[selected] < 0).sum()), "ties": int((delta[selected] == 0).sum())})
    rows.append({"class_a": "all", "sentences": int(delta.size), "wins_b": int((delta > 0).sum()),
                 "losses_b": int((delta < 0).sum()), "ties": int((delta == 0).sum())})
    transitions = pd.crosstab(paired["class_a"], paired["class_b"], dropna=False).reindex(
        index=list(GREC_OUTCOME_NAMES), columns=list(GREC_OUTCOME_NAMES), fill_value=0)
    line = verdict(result, name_a, name_b, headline=(PRECISION_NAME,))
    return BoxComparison(a, b, result, line, paired, pd.DataFrame(rows), transitions)
