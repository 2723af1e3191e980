"""Reading a prediction document (masks or boxes): JSON or gzipped JSON, any damage a SubmissionError."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

from grefbench.errors import SubmissionError
from grefbench.io import jsonio


def _fail(path: Path, message: str) -> SubmissionError:
    return SubmissionError(f"{path}: {message}")


def read_document(path: str | Path) -> tuple[Path, Any]:
    """Read and parse a JSON or gzipped-JSON file; any damage is a SubmissionError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, expected a prediction file") from None
    except OSError as error:
        raise _fail(path, f"cannot read ({error.strerror or error})") from None
    if not data:
        raise _fail(path, "file is empty")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error):
            raise _fail(path, "gzip stream is truncated or corrupt") from None
        if not data:
            raise _fail(path, "file is empty (inside gzip)")
    try:
        return path, jsonio.loads(data)
    except jsonio.DecodeError as error:
        raise _fail(path, jsonio.describe(error, data)) from None
