"""Submission folders: metadata, prediction files per split, and published (`reported`) numbers.

    submissions/<slug>/
        submission.yaml                     metadata (model name, backbone, training data, paper, code, date, protocol, notes)
        predictions/<dataset>/<split>.json  grefbench-predictions/1 files (.json or .json.gz), scored here ("verified")
        boxes/<dataset>/<split>.json        grefbench-boxes/1 files (GREC), scored here ("verified")
        reported.yaml                       numbers published elsewhere, with their source ("reported")
        README.md                           optional free text

Every problem is a SubmissionError naming the folder and the file. Links that are not http(s)
are dropped with a warning (`grefbench validate` refuses them; the leaderboard builds without them).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from grefbench.data.catalog import DATASETS
from grefbench.errors import SubmissionError, shown
from grefbench.io import limits
from grefbench.metrics.benchmarks import ALL_METRICS, metric_names
from grefbench.metrics.grec import GREC_METRIC_NAMES

if TYPE_CHECKING:
    from grefbench.data.split import ReferSplit
    from grefbench.io.boxes import BoxFile
    from grefbench.io.predictions import PredictionFile

METADATA_FILE = "submission.yaml"
REPORTED_FILE = "reported.yaml"
PREDICTIONS_DIR = "predictions"
BOXES_DIR = "boxes"
README_FILE = "README.md"
ALLOWED_ENTRIES = (METADATA_FILE, REPORTED_FILE, PREDICTIONS_DIR, BOXES_DIR, README_FILE)

METADATA_KEYS = ("name", "backbone", "training_data", "paper", "code", "date", "protocol", "notes")
LINK_KEYS = ("paper", "code")
REPORTED_PROTOCOLS = ("native", "rela480", "unspecified", "refzom480", "rrefcoco480")
REPORTED_METRICS = ALL_METRICS
REPORTED_GREC_METRICS = tuple(name for name in GREC_METRIC_NAMES if name != "num_expressions")
TASKS = ("gres", "grec")
SOURCE_KEYS = ("repository", "path", "commit", "arxiv", "url", "quote", "note")
RESULT_KEYS = ("dataset", "split", "protocol", "task", "note",
               *dict.fromkeys((*REPORTED_METRICS, *REPORTED_GREC_METRICS)))

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ARXIV = re.compile(r"^\d{4}\.\d{4,5}(v\d+)?$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_PREDICTION_SUFFIXES = (".json.gz", ".json")
# submission.yaml and reported.yaml are a few hundred bytes; this bounds a hostile one.
MAX_YAML_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: `*a` repeats a node, so a few lines can expand to gigabytes."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", mark)
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class PredictionEntry:
    """One prediction file of a submission, for one dataset split."""

    dataset: str
    split: str
    path: Path


@dataclass(frozen=True)
class ReportedResult:
    """Published numbers for one dataset split (percent), as the source gives them."""

    dataset: str
    split: str
    protocol: str
    metrics: dict[str, float]
    note: str | None = None
    task: str = "gres"  # "grec": box-level metrics (Pr@(F1=1,IoU>=0.5), N-acc, T-acc)


@dataclass
class Submission:
    """A parsed submission folder."""

    slug: str
    folder: Path
    metadata: dict[str, Any]
    predictions: list[PredictionEntry] = field(default_factory=list)
    reported: list[ReportedResult] = field(default_factory=list)
    source: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    boxes: list[PredictionEntry] = field(default_factory=list)  # GREC box files

    @property
    def name(self) -> str:
        return self.metadata["name"]


def safe_link(value: Any) -> str | None:
    """`value` if it is an absolute http(s) URL without spaces or control characters, else None."""
    if not isinstance(value, str) or not value or any(c.isspace() or ord(c) < 32 for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _fail(folder: Path, file: str | None, message: str) -> SubmissionError:
    where = f"{folder}/{file}" if file else str(folder)
    return SubmissionError(f"submission {where}: {message}")


def _unknown_key(folder: Path, file: str, where: str, key: Any, allowed: tuple[str, ...]) -> SubmissionError:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return _fail(folder, file, f"unknown key {shown(key)}{where}.{hint} Allowed: {', '.join(allowed)}")


def _check_inside(folder: Path, path: Path) -> None:
    """Refuse a link that leads out of the submission folder (its target would be read and published)."""
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a loop of links
        raise _fail(folder, path.relative_to(folder).as_posix(), "is a link that leads nowhere (a loop)") from None
    if not inside:
        raise _fail(folder, path.relative_to(folder).as_posix(),
                    "is a link to a file outside the submission folder; copy the file into the folder")


def _read_yaml(folder: Path, file: str) -> dict:
    path = folder / file
    _check_inside(folder, path)
    try:
        text = limits.read_input(path, limit=MAX_YAML_BYTES, inflate=False).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(folder, file, "is not UTF-8 text") from None
    except OSError as error:
        raise _fail(folder, file, f"cannot be read ({error.strerror or error})") from None
    except limits.Refused as error:
        raise _fail(folder, file, str(error)) from None
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _fail(folder, file, f"is not valid YAML{where} ({shown(error.problem, 60)})") from None
    except Exception:  # noqa: BLE001 - PyYAML raises ValueError, RecursionError... on hostile input
        raise _fail(folder, file, "is not valid YAML") from None
    if not isinstance(document, dict):
        raise _fail(folder, file, f"must be a mapping of keys to values, found {type(document).__name__}")
    return document


def _text(folder: Path, file: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(folder, file, f"{shown(key)} must be text, found {type(value).__name__}")
    if isinstance(value, int) and abs(value) >= 10 ** 100:
        raise _fail(folder, file, f"{shown(key)} is a number of more than 100 digits")
    text = str(value).strip()
    if not text:
        raise _fail(folder, file, f"{shown(key)} is empty")
    return text


def _date(folder: Path, file: str, value: Any) -> str:
    if isinstance(value, _dt.date):
        return value.isoformat()[:10]
    if isinstance(value, str) and _DATE.match(value.strip()):
        return value.strip()
    raise _fail(folder, file, f"'date' must be YYYY-MM-DD (or YYYY-MM), found {shown(value)}")


def read_metadata(folder: Path, warnings: list[str]) -> dict[str, Any]:
    """Parse submission.yaml; non-http(s) links are dropped and noted in `warnings`."""
    if not (folder / METADATA_FILE).is_file():
        raise _fail(folder, None, f"has no {METADATA_FILE} (every submission folder needs one: name, backbone, "
                                  "training_data, paper, code, date, protocol, notes)")
    document = _read_yaml(folder, METADATA_FILE)
    for key in document:
        if key not in METADATA_KEYS:
            raise _unknown_key(folder, METADATA_FILE, "", key, METADATA_KEYS)
    if "name" not in document:
        raise _fail(folder, METADATA_FILE, "the model 'name' is required")
    metadata: dict[str, Any] = {}
    for key, value in document.items():
        if value is None:
            continue
        if key == "date":
            metadata[key] = _date(folder, METADATA_FILE, value)
        elif key == "protocol":
            if not isinstance(value, str) or value not in REPORTED_PROTOCOLS:
                raise _fail(folder, METADATA_FILE, f"'protocol' is {shown(value)}; expected one of {', '.join(REPORTED_PROTOCOLS)}")
            metadata[key] = value
        elif key in LINK_KEYS:
            text = _text(folder, METADATA_FILE, key, value)
            if safe_link(text) is None:
                warnings.append(f"submission {folder}/{METADATA_FILE}: {shown(key)} link {shown(text)} is not an http(s) URL; dropped")
            else:
                metadata[key] = text
        else:
            metadata[key] = _text(folder, METADATA_FILE, key, value)
    return metadata


def _number(folder: Path, where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(folder, REPORTED_FILE, f"{where}: {shown(key)} must be a number in percent, found {shown(value)}")
    if not 0 <= value <= 100:
        raise _fail(folder, REPORTED_FILE, f"{where}: {shown(key)} is {value}, out of range: metrics are percentages in [0, 100]")
    return float(value)


def _read_source(folder: Path, source: Any, warnings: list[str]) -> dict[str, str]:
    if not isinstance(source, dict):
        raise _fail(folder, REPORTED_FILE, "'source' must be a mapping (repository + path, or arxiv)")
    cleaned: dict[str, str] = {}
    for key, value in source.items():
        if key not in SOURCE_KEYS:
            raise _unknown_key(folder, REPORTED_FILE, " in 'source'", key, SOURCE_KEYS)
        if value is None:
            continue
        cleaned[key] = _text(folder, REPORTED_FILE, f"source.{key}", value)
    if "arxiv" in cleaned and not _ARXIV.match(cleaned["arxiv"]):
        raise _fail(folder, REPORTED_FILE, f"source.arxiv {shown(cleaned['arxiv'])} is not an arXiv id like 2306.00968")
    if "repository" in cleaned and not _REPOSITORY.match(cleaned["repository"]):
        raise _fail(folder, REPORTED_FILE, f"source.repository {shown(cleaned['repository'])} is not owner/name")
    if "commit" in cleaned and not _COMMIT.match(cleaned["commit"]):
        raise _fail(folder, REPORTED_FILE, f"source.commit {shown(cleaned['commit'])} is not a git commit hash")
    if "url" in cleaned and safe_link(cleaned["url"]) is None:
        warnings.append(f"submission {folder}/{REPORTED_FILE}: source.url {shown(cleaned['url'])} is not an http(s) URL; dropped")
        del cleaned["url"]
    if "arxiv" not in cleaned and not ("repository" in cleaned and "path" in cleaned):
        raise _fail(folder, REPORTED_FILE, "'source' must cite an arXiv id ('arxiv') or a repository and a path in it")
    return cleaned


def _check_benchmark(folder: Path, where: str, entry: dict, dataset: str, protocol: str) -> None:
    """A Ref-ZOM / R-RefCOCO* result is in its own protocol and metrics; no other dataset uses those."""
    from grefbench.data.protocols import BENCHMARK_PROTOCOLS

    expected = BENCHMARK_PROTOCOLS.get(DATASETS[dataset].family)
    if (expected is None and protocol in BENCHMARK_PROTOCOLS.values()) or (expected and protocol not in (expected, "unspecified")):
        raise _fail(folder, REPORTED_FILE, f"{where}: protocol {protocol!r} does not belong to {dataset}")
    allowed = metric_names(dataset)
    foreign = [key for key in entry if key in REPORTED_METRICS and key not in allowed]
    if foreign:
        raise _fail(folder, REPORTED_FILE, f"{where}: {dataset} does not report {foreign[0]!r} "
                                           f"(its metrics: {', '.join(allowed)})")


def _read_result(folder: Path, index: int, entry: Any) -> ReportedResult:
    where = f"results[{index}]"
    if not isinstance(entry, dict):
        raise _fail(folder, REPORTED_FILE, f"{where} must be a mapping")
    for key in entry:
        if key not in RESULT_KEYS:
            raise _unknown_key(folder, REPORTED_FILE, f" in {where}", key, RESULT_KEYS)
    task = entry.get("task", "gres")
    if task not in TASKS:
        raise _fail(folder, REPORTED_FILE, f"{where}: 'task' is {shown(task)}; expected one of {', '.join(TASKS)}")
    for key in ("dataset", "split") if task == "grec" else ("dataset", "split", "protocol"):
        if key not in entry:
            raise _fail(folder, REPORTED_FILE, f"{where} lacks {shown(key)}")
    dataset, split, protocol = entry["dataset"], entry["split"], entry.get("protocol", "unspecified")
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise _fail(folder, REPORTED_FILE, f"{where}: unknown dataset {shown(dataset)}. Available: {', '.join(DATASETS)}")
    if split not in DATASETS[dataset].splits:
        raise _fail(folder, REPORTED_FILE, f"{where}: {dataset} has no split {shown(split)}. Available: "
                                           f"{', '.join(DATASETS[dataset].splits)}")
    if protocol not in REPORTED_PROTOCOLS:
        raise _fail(folder, REPORTED_FILE, f"{where}: 'protocol' is {shown(protocol)}; expected one of {', '.join(REPORTED_PROTOCOLS)}")
    if task == "grec":
        allowed = REPORTED_GREC_METRICS
    else:
        _check_benchmark(folder, where, entry, dataset, protocol)
        allowed = REPORTED_METRICS
    other = [key for key in entry if key in (*REPORTED_METRICS, *REPORTED_GREC_METRICS) and key not in allowed]
    if other:
        raise _fail(folder, REPORTED_FILE, f"{where}: {shown(other[0])} is not a {task.upper()} metric "
                                           f"({task.upper()} metrics: {', '.join(allowed)})")
    metrics = {key: _number(folder, where, key, entry[key]) for key in allowed if key in entry}
    if not metrics:
        raise _fail(folder, REPORTED_FILE, f"{where} has no metric (any of {', '.join(allowed)})")
    note = _text(folder, REPORTED_FILE, f"{where}.note", entry["note"]) if entry.get("note") is not None else None
    return ReportedResult(dataset, split, protocol, metrics, note, task)


def read_reported(folder: Path, warnings: list[str]) -> tuple[dict[str, str], list[ReportedResult]]:
    """Parse reported.yaml: a `source` citation and a list of `results`."""
    document = _read_yaml(folder, REPORTED_FILE)
    for key in document:
        if key not in ("source", "results"):
            raise _unknown_key(folder, REPORTED_FILE, "", key, ("source", "results"))
    if "source" not in document:
        raise _fail(folder, REPORTED_FILE, "'source' is required (arXiv id, or repository + path)")
    source = _read_source(folder, document["source"], warnings)
    results = document.get("results")
    if not isinstance(results, list) or not results:
        raise _fail(folder, REPORTED_FILE, "'results' must be a non-empty list")
    parsed = [_read_result(folder, i, entry) for i, entry in enumerate(results)]
    seen: set[tuple[str, str, str, str]] = set()
    for result in parsed:
        key = (result.task, result.dataset, result.split, result.protocol)
        if key in seen:
            raise _fail(folder, REPORTED_FILE, f"two {result.task.upper()} results for {result.dataset} {result.split} "
                                               f"({result.protocol})")
        seen.add(key)
    return source, parsed


def find_prediction_files(folder: Path, directory: str = PREDICTIONS_DIR) -> list[PredictionEntry]:
    """<directory>/<dataset>/<split>.json[.gz] (predictions/ or boxes/), checked against the dataset catalog."""
    base = folder / directory
    if not base.is_dir():
        raise _fail(folder, directory, "must be a folder holding <dataset>/<split>.json[.gz]")
    entries: list[PredictionEntry] = []
    for dataset_dir in sorted(p for p in base.iterdir() if not p.name.startswith(".")):
        relative = f"{directory}/{dataset_dir.name}"
        _check_inside(folder, dataset_dir)
        if not dataset_dir.is_dir():
            raise _fail(folder, relative, f"prediction files go in {directory}/<dataset>/<split>.json[.gz]")
        if dataset_dir.name not in DATASETS:
            raise _fail(folder, relative, f"unknown dataset {shown(dataset_dir.name)}. Available: {', '.join(DATASETS)}")
        spec = DATASETS[dataset_dir.name]
        for file in sorted(p for p in dataset_dir.iterdir() if not p.name.startswith(".")):
            name = f"{relative}/{file.name}"
            _check_inside(folder, file)
            suffix = next((s for s in _PREDICTION_SUFFIXES if file.name.endswith(s)), None)
            if suffix is None or not file.is_file():
                raise _fail(folder, name, "expected a prediction file named <split>.json or <split>.json.gz")
            split = file.name[: -len(suffix)]
            if split not in spec.splits:
                raise _fail(folder, name, f"{spec.name} has no split {shown(split)}. Available: {', '.join(spec.splits)}")
            if any(e.dataset == spec.name and e.split == split for e in entries):
                raise _fail(folder, name, f"a second prediction file for {spec.name} {split}")
            entries.append(PredictionEntry(spec.name, split, file))
    return entries


def load_submission(folder: str | Path) -> Submission:
    """Parse a submission folder (layout, metadata, reported numbers); prediction files are not read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _fail(folder, None, "is not a folder")
    if not _SLUG.match(folder.name):
        raise _fail(folder, None, "folder names may hold letters, digits, '.', '_' and '-' only (the name is the page's URL)")
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        _check_inside(folder, entry)
        if entry.name not in ALLOWED_ENTRIES:
            close = difflib.get_close_matches(entry.name, ALLOWED_ENTRIES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise _fail(folder, entry.name, f"unexpected file.{hint} A submission holds {', '.join(ALLOWED_ENTRIES)}")
    warnings: list[str] = []
    metadata = read_metadata(folder, warnings)
    predictions = find_prediction_files(folder) if (folder / PREDICTIONS_DIR).exists() else []
    boxes = find_prediction_files(folder, BOXES_DIR) if (folder / BOXES_DIR).exists() else []
    source, reported = (None, [])
    if (folder / REPORTED_FILE).exists():
        source, reported = read_reported(folder, warnings)
    if not predictions and not boxes and not reported:
        raise _fail(folder, None, f"has neither prediction files ({PREDICTIONS_DIR}/<dataset>/<split>.json or "
                                  f"{BOXES_DIR}/<dataset>/<split>.json) nor {REPORTED_FILE}")
    return Submission(folder.name, folder, metadata, predictions, reported, source, warnings, boxes)


def check_prediction_file(submission: Submission, entry: PredictionEntry, split: ReferSplit | None = None) -> PredictionFile:
    """Read one prediction file strictly, check it is for the split its name says and, given the
    loaded `split`, that it covers it at the right mask sizes. Errors name the folder and the file."""
    from grefbench.io.predictions import check_against_split, read_predictions

    relative = entry.path.relative_to(submission.folder).as_posix()
    try:
        parsed = read_predictions(entry.path)
    except SubmissionError as error:
        raise _fail(submission.folder, relative, str(error).removeprefix(f"{entry.path}: ")) from None
    if parsed.dataset != entry.dataset:
        raise _fail(submission.folder, relative, f"is a prediction file for dataset {shown(parsed.dataset)}, but it sits in "
                                                 f"{PREDICTIONS_DIR}/{entry.dataset}/")
    if parsed.split != entry.split:
        raise _fail(submission.folder, relative, f"is a prediction file for split {shown(parsed.split)} (its 'split' field), "
                                                 f"but its name says {entry.split!r}")
    declared = submission.metadata.get("protocol")
    if declared not in (None, "unspecified") and parsed.protocol != declared:
        raise _fail(submission.folder, relative, f"protocol {shown(parsed.protocol)} differs from {declared!r} in {METADATA_FILE}")
    if split is not None:
        try:
            check_against_split(parsed, split)
        except SubmissionError as error:
            raise _fail(submission.folder, relative, str(error).removeprefix(f"{entry.path}: ")) from None
    return parsed


def check_box_file(submission: Submission, entry: PredictionEntry, split: ReferSplit | None = None) -> BoxFile:
    """Read one GREC box file strictly, check it is for the split its name says and, given the loaded
    `split`, that it covers it. Errors name the folder and the file."""
    from grefbench.io.boxes import check_boxes_against_split, read_boxes

    relative = entry.path.relative_to(submission.folder).as_posix()
    try:
        parsed = read_boxes(entry.path)
        if parsed.dataset != entry.dataset or parsed.split != entry.split:
            raise SubmissionError(f"{entry.path}: is a box file for {parsed.dataset} {parsed.split}, but it sits at "
                                  f"{BOXES_DIR}/{entry.dataset}/{entry.split}")
        if split is not None:
            check_boxes_against_split(parsed, split)
    except SubmissionError as error:
        raise _fail(submission.folder, relative, str(error).removeprefix(f"{entry.path}: ")) from None
    return parsed


def data_root_for(dataset: str, data_root: str | Path | None) -> Path | None:
    """Where a dataset's files are: the shipped copy for gRefShapes, else `data_root` (may be None)."""
    from grefbench.data.catalog import default_root

    root = default_root(dataset) or data_root
    return Path(root) if root is not None else None


def validate_submission(folder: str | Path, data_root: str | Path | None = None) -> tuple[Submission, list[str]]:
    """Check a submission folder strictly (warnings are errors); returns it and what was checked per file."""
    from grefbench.data.split import load_split

    submission = load_submission(folder)
    if submission.warnings:
        raise SubmissionError(submission.warnings[0].replace("; dropped", "; only http(s) links are allowed"))
    checked = []
    for entry in submission.predictions:
        root = data_root_for(entry.dataset, data_root)
        split = load_split(root, entry.dataset, entry.split) if root is not None else None
        parsed = check_prediction_file(submission, entry, split)
        relative = entry.path.relative_to(submission.folder).as_posix()
        if split is None:
            checked.append(f"{relative}: {len(parsed)} predictions; format, types and RLE checked "
                           f"(pass --data-root to check coverage of {entry.dataset} {entry.split})")
        else:
            checked.append(f"{relative}: {len(parsed)} predictions; format, types, RLE, coverage of "
                           f"{entry.dataset} {entry.split} and mask sizes checked")
    for entry in submission.boxes:
        root = data_root_for(entry.dataset, data_root)
        split = load_split(root, entry.dataset, entry.split) if root is not None else None
        parsed = check_box_file(submission, entry, split)
        relative = entry.path.relative_to(submission.folder).as_posix()
        coverage = f", coverage of {entry.dataset} {entry.split}" if split is not None else ""
        checked.append(f"{relative}: {len(parsed)} box predictions (GREC); format, types, box values{coverage} checked")
    if submission.reported:
        checked.append(f"{REPORTED_FILE}: {len(submission.reported)} reported results with a source")
    return submission, checked


def discover_submissions(root: str | Path) -> list[Path]:
    """The submission folders under `root` (every non-hidden sub-folder), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(f"{root}: submissions folder not found")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for folder in folders:
        try:
            inside = folder.resolve().is_relative_to(root.resolve())
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise SubmissionError(f"submission {folder}: is a link to a folder outside {root}; copy it in")
    return folders
