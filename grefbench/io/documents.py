"""Reading a prediction document (masks or boxes): JSON or gzipped JSON, size-capped (io/limits.py),
any damage a SubmissionError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grefbench.errors import SubmissionError
from grefbench.io import jsonio, limits


def _fail(path: Path, message: str) -> SubmissionError:
    return SubmissionError(f"{path}: {message}")


def read_document(path: str | Path) -> tuple[Path, Any]:
    """Read and parse a JSON or gzipped-JSON file (size-capped, see io/limits.py); any damage is a SubmissionError."""
    path = Path(path)
    try:
        data = limits.read_input(path)
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except IsADirectoryError:
        raise _fail(path, "is a directory, expected a prediction file") from None
    except OSError as error:
        raise _fail(path, f"cannot read ({error.strerror or error})") from None
    except limits.Refused as error:
        raise _fail(path, str(error)) from None
    if not data:
        raise _fail(path, "file is empty")
    try:
        return path, jsonio.loads(data)
    except jsonio.DecodeError as error:
        raise _fail(path, jsonio.describe(error, data)) from None
