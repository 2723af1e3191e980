"""Reading the annotation files (refs as JSON or pickle, COCO instances.json), safely and once.

The refs pickles of the REFER toolkit hold only lists, dicts, strings and numbers, so they are read
with an unpickler that refuses every global: a crafted pickle cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grefbench.errors import DatasetError
from grefbench.io import jsonio, limits


@dataclass(frozen=True)
class AnnotationFile:
    """A file that was read: where it is and the SHA-256 of its bytes (for caches and provenance)."""

    path: Path
    sha256: str


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refuses to load the global {module}.{name} (refs files hold plain data only)")


def read_bytes(path: Path, what: str, layout: str) -> tuple[bytes, AnnotationFile]:
    """Read a whole file (size-capped, see io/limits.py); a missing one names the path and the expected layout."""
    try:
        data = limits.read_input(path, inflate=False)
    except FileNotFoundError:
        raise DatasetError(f"{what} not found: {path}. Expected layout: {layout}") from None
    except OSError as error:
        raise DatasetError(f"cannot read {what} {path}: {error.strerror or error}") from None
    except limits.Refused as error:
        raise DatasetError(f"{what} {path}: {error}") from None
    return data, AnnotationFile(path, hashlib.sha256(data).hexdigest())


def parse_json(data: bytes, path: Path) -> Any:
    """Parse JSON bytes; a syntax error names the file, line and column."""
    try:
        return jsonio.loads(data)
    except jsonio.DecodeError as error:
        raise DatasetError(f"{path}: {jsonio.describe(error, data)}") from None


def parse_refs_pickle(data: bytes, path: Path) -> Any:
    """Unpickle a REFER refs file (plain data only)."""
    try:
        return _PlainDataUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as error:  # noqa: BLE001 - any failure of a foreign pickle is a bad file
        raise DatasetError(f"{path}: not a readable refs pickle ({error})") from None


def parse_refs(data: bytes, path: Path) -> list[dict]:
    """Parse a refs file (pickle for .p, else JSON) into its list of refs."""
    refs = parse_refs_pickle(data, path) if path.suffix == ".p" else parse_json(data, path)
    if not isinstance(refs, list):
        raise DatasetError(f"{path}: expected a list of refs, found {type(refs).__name__}")
    return refs


def load_refs(candidates: list[Path], layout: str) -> tuple[list[dict], AnnotationFile]:
    """Load the first refs file that exists among `candidates` (pickle first, like the official loaders)."""
    for path in candidates:
        if path.is_file():
            data, info = read_bytes(path, "refs file", layout)
            return parse_refs(data, path), info
    names = " or ".join(str(p) for p in candidates)
    raise DatasetError(f"refs file not found: {names}. Expected layout: {layout}")


def parse_instances(data: bytes, path: Path) -> dict:
    """Parse a COCO instances.json and check its top-level structure."""
    instances = parse_json(data, path)
    if not isinstance(instances, dict):
        raise DatasetError(f"{path}: expected a COCO object with images and annotations, found {type(instances).__name__}")
    for key in ("images", "annotations"):
        if not isinstance(instances.get(key), list):
            raise DatasetError(f"{path}: missing the list {key!r} of a COCO instances file")
    return instances


def load_instances(path: Path, layout: str) -> tuple[dict, AnnotationFile]:
    """Load a COCO instances.json."""
    data, info = read_bytes(path, "instances file", layout)
    return parse_instances(data, path), info
