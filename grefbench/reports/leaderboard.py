"""`grefbench leaderboard build`: a static site from the submission folders.

    OUT/index.html                 one sortable table per dataset / split / protocol, and GREC tables per dataset / split
    OUT/submissions/<slug>.html    a page per submission: metadata, reported numbers, analysis per split
    OUT/results.json               every row of every table, as data
    OUT/state.json                 hashes of what each cached analysis was built from
    OUT/cache/<slug>/*.json        the analysis documents, reused while nothing they depend on changed

A prediction file is re-scored only when its bytes, the split's annotation files, the analysis
version, the grefbench version or the gallery size change. Every file is written atomically;
pages and caches of submissions that are gone are removed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grefbench
from grefbench.data.catalog import DATASETS
from grefbench.errors import UsageError
from grefbench.io.atomic import remove, same_file, write_text
from grefbench.io.tables import write_json
from grefbench.metrics.benchmarks import headline_metrics, metric_names
from grefbench.provenance import file_sha256
from grefbench.reports import html
from grefbench.reports.analysis import ANALYSIS_VERSION
from grefbench.reports.submissions import (
    METADATA_KEYS,
    REPORTED_GREC_METRICS,
    REPORTED_PROTOCOLS,
    SOURCE_KEYS,
    Submission,
    check_box_file,
    check_prediction_file,
    data_root_for,
    discover_submissions,
    load_submission,
)

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_FORMAT = "grefbench-leaderboard-state/1"
PAGES_DIR = "submissions"
CACHE_DIR = "cache"
PROTOCOL_ORDER = ("rela480", "native", "refzom480", "rrefcoco480", "unspecified")
assert set(PROTOCOL_ORDER) == set(REPORTED_PROTOCOLS)


@dataclass
class BuildReport:
    """What a build did."""

    out: Path
    submissions: int = 0
    scored: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    reported_rows: int = 0
    tables: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _read_state(path: Path) -> tuple[dict[str, Any], set[str]]:
    """The previous build's entries and the slugs whose pages it wrote (only those are ever removed)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, set()
    except (OSError, ValueError, RecursionError):
        logger.warning("%s is unreadable; every submission is re-scored", path)
        return {}, set()
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT or not isinstance(state.get("entries"), dict):
        return {}, set()
    pages = state.get("pages")
    slugs = {p for p in pages if isinstance(p, str)} if isinstance(pages, list) else set()
    slugs |= {key.split("/")[0] for key in state["entries"]}  # states written before "pages" existed
    return state["entries"], slugs


def check_folders(submissions_dir: Path, out: Path) -> None:
    """Refuse an --out that is, holds or sits in --submissions: each build would read its own pages."""
    inside = out.resolve().is_relative_to(submissions_dir.resolve())
    if same_file(submissions_dir, out) or inside or submissions_dir.resolve().is_relative_to(out.resolve()):
        raise UsageError(f"--out {out} and --submissions {submissions_dir} overlap; write the site to a folder "
                         "outside the submissions (e.g. --out leaderboard)")


def _duplicate_names(submissions: list[Submission]) -> list[str]:
    seen: dict[str, str] = {}
    warnings = []
    for submission in submissions:
        key = " ".join(submission.name.lower().split())
        if key in seen:
            warnings.append(f"submissions {seen[key]} and {submission.slug} are both named {submission.name!r}; "
                            "the leaderboard lists the model twice (merge them, or name them apart)")
        else:
            seen[key] = submission.slug
    return warnings


def _read_cached(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) and document.get("analysis_version") == ANALYSIS_VERSION else None


def _analyze_entry(submission: Submission, entry, split, gallery_per_class: int) -> dict[str, Any]:
    from grefbench.reports.analysis import analyze_predictions
    from grefbench.reports.documents import analysis_document

    parsed = check_prediction_file(submission, entry, split)
    document = analysis_document(analyze_predictions(parsed, split), gallery_per_class=gallery_per_class)
    # The page shows where the file sits in the submission, not the builder's absolute path.
    document["provenance"]["predictions_file"] = f"{submission.slug}/{entry.path.relative_to(submission.folder).as_posix()}"
    return document


def _verified_row(submission: Submission, document: dict[str, Any]) -> dict[str, Any]:
    return {"dataset": document["dataset"], "split": document["split"], "protocol": document["protocol"],
            "status": "verified", "metrics": document["metrics"], "source": None, "note": None}


def _reported_row(submission: Submission, result) -> dict[str, Any]:
    names = REPORTED_GREC_METRICS if result.task == "grec" else metric_names(result.dataset)
    metrics = {name: result.metrics.get(name) for name in names}
    metrics["num_expressions"] = None
    return {"dataset": result.dataset, "split": result.split, "protocol": result.protocol, "status": "reported",
            "metrics": metrics, "source": submission.source, "note": result.note, "task": result.task}


def _grec_verified_row(submission: Submission, entry, split) -> dict[str, Any]:
    """A GREC row scored here from a box file (fast: no cache needed)."""
    from grefbench.grec_scoring import score_boxes

    result = score_boxes(check_box_file(submission, entry, split), split)
    derived = result.predictions.derived_from_masks
    return {"dataset": entry.dataset, "split": entry.split, "protocol": "unspecified", "status": "verified",
            "metrics": result.metrics, "source": None, "task": "grec",
            "note": "boxes derived from masks" if derived else None}


def _grec_sort_key(row: dict[str, Any]) -> tuple:
    metrics = row["metrics"]
    precision, n_acc = metrics.get(REPORTED_GREC_METRICS[0]), metrics.get("N-acc")
    return (precision is None, -(precision or 0.0), n_acc is None, -(n_acc or 0.0), row["name"].lower())


def group_grec_tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GREC rows grouped into one table per dataset / split, in catalog order, best Pr@(F1=1,IoU>=0.5) first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["split"]), []).append(row)

    def order(key: tuple[str, str]) -> tuple:
        dataset, split = key
        splits = DATASETS[dataset].splits
        return list(DATASETS).index(dataset), splits.index(split) if split in splits else len(splits)

    return [{"dataset": d, "split": s, "title": f"GREC · {d} · {s}", "anchor": f"grec-{d}-{s}".replace("+", "plus"),
             "rows": sorted(groups[(d, s)], key=_grec_sort_key)} for d, s in sorted(groups, key=order)]


def _reported_metrics(rows: list[dict[str, Any]], slug: str) -> tuple[str, ...]:
    """The columns of a submission's reported table: the metrics of every dataset it reports on."""
    datasets = [r["dataset"] for r in rows if r["slug"] == slug and r["status"] == "reported"]
    return tuple(dict.fromkeys(name for d in datasets for name in metric_names(d)))


def _with_submission(row: dict[str, Any], submission: Submission) -> dict[str, Any]:
    meta = submission.metadata
    return {**row, "slug": submission.slug, "name": meta["name"], "backbone": meta.get("backbone"),
            "training_data": meta.get("training_data"), "date": meta.get("date"),
            "page": f"{PAGES_DIR}/{submission.slug}.html"}


def _sort_key(row: dict[str, Any]) -> tuple:
    metrics = row["metrics"]
    first, second = (metrics.get(name) for name in headline_metrics(row["dataset"]))
    return (first is None, -(first or 0.0), second is None, -(second or 0.0), row["name"].lower())


def group_tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows grouped into one table per dataset / split / protocol, in catalog order, best gIoU first."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["split"], row["protocol"]), []).append(row)

    def order(key: tuple[str, str, str]) -> tuple:
        dataset, split, protocol = key
        names = list(DATASETS)
        splits = DATASETS[dataset].splits
        return (names.index(dataset), splits.index(split) if split in splits else len(splits),
                PROTOCOL_ORDER.index(protocol))

    return [{"dataset": d, "split": s, "protocol": p, "title": f"{d} · {s} · protocol {p}", "metrics": metric_names(d),
             "anchor": f"{d}-{s}-{p}".replace("+", "plus"), "rows": sorted(groups[(d, s, p)], key=_sort_key)}
            for d, s, p in sorted(groups, key=order)]


def _remove_stale(out: Path, built_before: set[str], slugs: set[str]) -> None:
    """Remove the page and cache of each submission an earlier build made that is gone now (nothing else)."""
    for slug in sorted(built_before - slugs):
        page = out / PAGES_DIR / f"{slug}.html"
        if page.is_file():
            remove(page)
        cache = out / CACHE_DIR / slug
        if cache.is_dir() and not cache.is_symlink():
            remove(cache)


def build_leaderboard(
    submissions_dir: str | Path,
    out_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    gallery_per_class: int = 4,
    progress: Callable[[str], None] | None = None,
) -> BuildReport:
    """Build (or update) the static leaderboard site in `out_dir` from the folders in `submissions_dir`."""
    from grefbench.data.split import load_split

    started = time.perf_counter()
    out = Path(out_dir)
    check_folders(Path(submissions_dir), out)
    report = BuildReport(out)
    submissions = [load_submission(folder) for folder in discover_submissions(submissions_dir)]
    report.submissions = len(submissions)
    report.warnings = [w for s in submissions for w in s.warnings] + _duplicate_names(submissions)
    previous, built_before = _read_state(out / STATE_FILE)
    entries: dict[str, Any] = {}
    documents: dict[str, list[dict[str, Any]]] = {}
    rows: list[dict[str, Any]] = []
    grec_rows: list[dict[str, Any]] = []
    for submission in submissions:
        documents[submission.slug] = []
        for entry in submission.predictions:
            root = data_root_for(entry.dataset, data_root)
            if root is None:
                raise UsageError(f"submission {submission.folder}: scoring {entry.dataset} {entry.split} needs "
                                 f"--data-root (the folder that holds {DATASETS[entry.dataset].folder}/ and images/)")
            split = load_split(root, entry.dataset, entry.split)
            key = f"{submission.slug}/{entry.dataset}/{entry.split}"
            fingerprint = {
                "predictions_sha256": file_sha256(entry.path),
                "annotations": {Path(f.path).name: f.sha256 for f in split.files},
                "analysis_version": ANALYSIS_VERSION,
                "grefbench_version": grefbench.__version__,
                "gallery_per_class": gallery_per_class,
            }
            cache_file = Path(CACHE_DIR) / submission.slug / f"{entry.dataset}-{entry.split}.json"
            document = None
            if isinstance(previous.get(key), dict) and previous[key].get("fingerprint") == fingerprint:
                document = _read_cached(out / cache_file)
            if document is None:
                if progress is not None:
                    progress(f"scoring {key}")
                document = _analyze_entry(submission, entry, split, gallery_per_class)
                write_json(out / cache_file, document)
                report.scored.append(key)
            else:
                report.reused.append(key)
            entries[key] = {"fingerprint": fingerprint, "cache": cache_file.as_posix()}
            documents[submission.slug].append(document)
            rows.append(_with_submission(_verified_row(submission, document), submission))
        for entry in submission.boxes:
            root = data_root_for(entry.dataset, data_root)
            if root is None:
                raise UsageError(f"submission {submission.folder}: scoring {entry.dataset} {entry.split} needs "
                                 f"--data-root (the folder that holds {DATASETS[entry.dataset].folder}/ and images/)")
            if progress is not None:
                progress(f"scoring {submission.slug}/boxes/{entry.dataset}/{entry.split}")
            split = load_split(root, entry.dataset, entry.split)
            grec_rows.append(_with_submission(_grec_verified_row(submission, entry, split), submission))
        for result in submission.reported:
            row = _with_submission(_reported_row(submission, result), submission)
            (grec_rows if result.task == "grec" else rows).append(row)
            report.reported_rows += 1

    tables = group_tables(rows)
    grec_tables = group_grec_tables(grec_rows)
    report.tables = len(tables) + len(grec_tables)
    provenance = {"grefbench_version": grefbench.__version__, "git_commit": None}
    for submission in submissions:
        page = html.render("submission.html", title=submission.name, submission=submission,
                           meta={key: submission.metadata.get(key) for key in METADATA_KEYS},
                           source={key: (submission.source or {}).get(key) for key in SOURCE_KEYS},
                           documents=documents[submission.slug],
                           reported=[r for r in rows if r["slug"] == submission.slug and r["status"] == "reported"],
                           reported_metrics=_reported_metrics(rows, submission.slug),
                           grec_rows=[r for r in grec_rows if r["slug"] == submission.slug],
                           grec_metrics=REPORTED_GREC_METRICS, provenance=provenance)
        write_text(out / PAGES_DIR / f"{submission.slug}.html", page)
    write_text(out / "index.html", html.render("index.html", title="GRES leaderboard", tables=tables,
                                               grec_tables=grec_tables, grec_metrics=REPORTED_GREC_METRICS,
                                               count=len(submissions), provenance=provenance))
    write_json(out / "results.json", {"format": "grefbench-leaderboard/1", "grefbench_version": grefbench.__version__,
                                      "tables": tables, "grec_tables": grec_tables})
    slugs = {s.slug for s in submissions}
    _remove_stale(out, built_before, slugs)
    write_json(out / STATE_FILE, {"format": STATE_FORMAT, "entries": entries, "pages": sorted(slugs)})
    report.seconds = time.perf_counter() - started
    return report
