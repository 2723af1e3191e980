"""Analysis and paired comparison of Ref-ZOM / R-RefCOCO* scores, in each benchmark's own metrics.

Failure classes are per sentence and use each benchmark's grouping: a no-target sentence (Ref-ZOM
zero, R-RefCOCO negative) is `correct empty` or `hallucinated`; a target sentence is `missed`
(empty mask), `wrong region` (no overlap), `partial` (IoU < 0.5) or `hit` (IoU >= 0.5).
The comparison resamples images (a ref, with all its sentences, goes with its image) and
recomputes each metric from per-image sums; observed values equal the scorer's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from grefbench.reports.bootstrap import CONFIDENCE, DEFAULT_RESAMPLES, resample_weights

if TYPE_CHECKING:
    import pandas as pd

    from grefbench.zero_target_scoring import ZeroTargetScore

FAILURE_CLASSES = ("correct empty", "hallucinated", "missed", "wrong region", "partial", "hit")
_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


def classify(frame: pd.DataFrame) -> np.ndarray:
    """The failure class of every row of a per-sentence table."""
    no_target = frame["group"].isin(["zero", "negative"]).to_numpy()
    pred = frame["pred_area"].to_numpy()
    inter = frame["intersection"].to_numpy()
    iou = np.nan_to_num(frame["iou"].to_numpy(dtype=np.float64))
    target_class = np.where(pred == 0, "missed", np.where(inter == 0, "wrong region",
                                                          np.where(iou < 0.5, "partial", "hit")))
    return np.where(no_target, np.where(pred == 0, "correct empty", "hallucinated"), target_class)


def analysis_frames(result: ZeroTargetScore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-sentence table with failure classes, counts of each class per group)."""
    frame = result.per_sentence()
    frame["failure_class"] = classify(frame)
    counts = frame.groupby(["group", "failure_class"], sort=False).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[c for c in FAILURE_CLASSES if c in counts.columns])
    return frame, counts.reset_index()


def _refzom_sums(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    zero = (frame["group"] == "zero").to_numpy()
    iou = np.nan_to_num(frame["iou"].to_numpy(dtype=np.float64))
    target = ~zero
    columns = [zero, zero & (frame["pred_area"].to_numpy() == 0), target,
               np.where(target, frame["intersection"], 0), np.where(target, frame["union"], 0), np.where(target, iou, 0),
               *(target & (iou >= t) for t in _THRESHOLDS)]
    values = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1)
    return frame["image_id"].to_numpy(), values


def _refzom_metrics(s: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"oIoU": s[:, 3] * 100 / s[:, 4], "mIoU": s[:, 5] / s[:, 2] * 100, "Acc": s[:, 1] / s[:, 0] * 100}
        for j, t in enumerate(_THRESHOLDS):
            out[f"Pr@{t}"] = s[:, 6 + j] * 100 / s[:, 2]
    return out


def _rrefcoco_sums(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    positive = (frame["group"] == "positive").to_numpy()
    running = np.nan_to_num(frame["iou_running_sum"].to_numpy(dtype=np.float32))
    rows = []
    image_ids = []
    for _, ref in frame.groupby("ref_id", sort=False):
        index = ref.index.to_numpy()
        pos, neg = index[positive[index]], index[~positive[index]]
        inter = float(np.float32(frame["intersection"].to_numpy()[pos].sum()))
        union = float(np.float32(frame["union"].to_numpy()[pos].sum()))
        fp_area = frame["pred_area"].to_numpy()[neg]
        has_pos, has_neg = pos.size > 0, neg.size > 0
        ref_miou = float(np.float32(running[pos[-1]] / np.float32(pos.size))) if has_pos else 0.0
        r = float(np.float32(np.float32((fp_area == 0).sum()) / np.float32(neg.size))) if has_neg else 0.0
        denominator = np.float32(union + float(fp_area[fp_area > 0].sum()))
        riou = float(np.float32(np.float32(inter) / denominator)) if denominator > 0 else 0.0
        hits = [float((running[pos] >= np.float32(t)).sum()) for t in _THRESHOLDS]
        rows.append([has_pos, ref_miou, has_neg, r, denominator > 0, riou, inter, union, pos.size, *hits])
        image_ids.append(int(ref["image_id"].iloc[0]))
    return np.asarray(image_ids, dtype=np.int64), np.asarray(rows, dtype=np.float64).reshape(-1, 9 + len(_THRESHOLDS))


def _rrefcoco_metrics(s: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {"mIoU": 100 * (s[:, 1] / s[:, 0]), "oIoU": 100 * s[:, 6] / s[:, 7],
               "rIoU": 100 * (s[:, 5] / s[:, 4]), "r": 100 * (s[:, 3] / s[:, 2])}
        for j, t in enumerate(_THRESHOLDS):
            out[f"Pr@{t}"] = s[:, 9 + j] * 100.0 / s[:, 8]
    return out


def image_sums(result: ZeroTargetScore) -> tuple[np.ndarray, np.ndarray, Any]:
    """(sorted image ids, per-image sums [images, k], the function turning summed rows into metrics)."""
    frame = result.per_sentence()
    if result.split.spec.family == "refzom":
        ids, values, metrics = *_refzom_sums(frame), _refzom_metrics
    else:
        ids, values, metrics = *_rrefcoco_sums(frame), _rrefcoco_metrics
    images, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros((images.size, values.shape[1]))
    np.add.at(sums, inverse, values)
    return images, sums, metrics


def paired_bootstrap(a: ZeroTargetScore, b: ZeroTargetScore, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> dict[str, dict[str, Any]]:
    """B - A per metric with a paired percentile bootstrap over images (the same resamples for both)."""
    images_a, sums_a, metrics = image_sums(a)
    images_b, sums_b, _ = image_sums(b)
    if not np.array_equal(images_a, images_b):
        raise ValueError("the two models were scored on different images")
    weights = resample_weights(images_a.size, resamples, seed).astype(np.float64)
    observed_a, observed_b = metrics(sums_a.sum(0)[None]), metrics(sums_b.sum(0)[None])
    drawn_a, drawn_b = metrics(weights @ sums_a), metrics(weights @ sums_b)
    tail = (1 - confidence) / 2 * 100
    out: dict[str, dict[str, Any]] = {}
    for name in a.metric_names:
        delta = drawn_b[name] - drawn_a[name]
        finite = delta[np.isfinite(delta)]
        low, high = np.percentile(finite, [tail, 100 - tail]).tolist() if finite.size else (None, None)
        value_a, value_b = float(observed_a[name][0]), float(observed_b[name][0])
        out[name] = {"a": None if np.isnan(value_a) else value_a, "b": None if np.isnan(value_b) else value_b,
                     "delta": None if np.isnan(value_b - value_a) else value_b - value_a,
                     "low": low, "high": high, "defined_resamples": int(finite.size)}
    return out


def _score(path, data_root, dataset: str, split: str | None):
    from grefbench.data.catalog import resolve_root
    from grefbench.data.rrefcoco import load_zero_target_split
    from grefbench.io.predictions import read_predictions
    from grefbench.zero_target_scoring import score_zero_target

    parsed = read_predictions(path)
    loaded = load_zero_target_split(resolve_root(dataset, data_root), dataset, split or parsed.split)
    return score_zero_target(parsed, loaded)


def _refuse_html(html_out) -> None:
    from grefbench.errors import UsageError

    if html_out is not None:
        raise UsageError("--html is not available for Ref-ZOM / R-RefCOCO yet; use --csv")


def analyze_command(path, data_root, dataset: str, split: str | None, html_out, csv_out, quiet: bool) -> None:
    """`grefbench analyze` on a zero-target benchmark: metrics, failure classes per group, CSVs."""
    from grefbench import console
    from grefbench.io.tables import write_table
    from grefbench.zero_target_scoring import metrics_table

    _refuse_html(html_out)
    result = _score(path, data_root, dataset, split)
    frame, counts = analysis_frames(result)
    if csv_out is not None:
        write_table(csv_out, frame, result.provenance)
        write_table(csv_out.with_name(f"{csv_out.stem}-breakdowns.csv"), counts, result.provenance)
    if not quiet:
        from rich.table import Table

        console.stdout.print(metrics_table(result))
        table = Table(title="failure classes per group", title_justify="left")
        for column in counts.columns:
            table.add_column(str(column))
        for row in counts.itertuples(index=False):
            table.add_row(*(str(v) for v in row))
        console.stdout.print(table)


def compare_command(first, second, data_root, dataset: str, split: str | None, resamples: int, seed: int,
                    html_out, csv_out, quiet: bool) -> None:
    """`grefbench compare` on a zero-target benchmark: B - A with paired bootstrap intervals over images."""
    from grefbench import console
    from grefbench.io.tables import write_table
    from grefbench.reports.bootstrap import PairedBootstrap, verdict

    _refuse_html(html_out)
    a, b = _score(first, data_root, dataset, split), _score(second, data_root, dataset, split)
    metrics = paired_bootstrap(a, b, resamples=resamples, seed=seed)
    images = len({r.image_id for r in a.split.records})
    summary = PairedBootstrap(metrics, images, resamples, seed, CONFIDENCE)
    headline = ("oIoU", "mIoU") if a.split.spec.family == "refzom" else ("mIoU", "rIoU")
    line = verdict(summary, a.predictions.model["name"], b.predictions.model["name"], headline)
    if csv_out is not None:
        import pandas as pd

        paired = a.per_sentence().merge(b.per_sentence()[["sent_id", "intersection", "union", "pred_area", "iou"]],
                                        on="sent_id", suffixes=("_a", "_b"))
        write_table(csv_out, pd.DataFrame(paired), {**a.provenance, "predictions_file_b": str(second)})
    if not quiet:
        from rich.table import Table

        table = Table(title=f"{dataset} · B - A", title_justify="left")
        for column in ("metric", "A", "B", "B - A", "95% interval"):
            table.add_column(column, justify="right")
        for name, v in metrics.items():
            interval = "—" if v["low"] is None else f"[{v['low']:+.2f}, {v['high']:+.2f}]"
            cells = ["—" if v[k] is None else f"{v[k]:.2f}" for k in ("a", "b")]
            table.add_row(name, *cells, "—" if v["delta"] is None else f"{v['delta']:+.2f}", interval)
        console.stdout.print(table)
    console.stdout.print(line, markup=False, highlight=False)
