"""Provenance recorded in every output: what produced a number, from which data, and when."""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable

import grefbench


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the grefbench source tree when it is a git checkout (editable installs)."""
    source = Path(grefbench.__file__).resolve().parent.parent
    if not (source / ".git").exists():
        return None
    try:
        result = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (weights and prediction files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def provenance(
    *,
    dataset: str | None = None,
    split: str | None = None,
    protocol: str | None = None,
    files: Iterable[Any] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A provenance record; `files` are AnnotationFile-like objects (path, sha256)."""
    record: dict[str, Any] = {
        "grefbench_version": grefbench.__version__,
        "git_commit": git_commit(),
        "dataset": dataset,
        "split": split,
        "protocol": protocol,
        "annotation_files": {Path(f.path).name: f.sha256 for f in files},
        "date": now_iso(),
        "python": platform.python_version(),
    }
    record.update(extra)
    return record
