"""Result files: metrics JSON and per-sentence tables (CSV or Parquet), with provenance, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grefbench.errors import UsageError
from grefbench.io.atomic import STDOUT, atomic_open, atomic_path

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv" or str(path) == STDOUT  # `-`: CSV on standard output


def check_table_path(path: str | Path) -> Path:
    """Refuse a table path whose suffix is not .csv or .parquet (before any work is done); `-` is CSV on stdout."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_SUFFIXES and str(path) != STDOUT:
        raise UsageError(f"{path}: per-sentence tables are written as .csv or .parquet, not {path.suffix or 'no suffix'!r}")
    return path


def write_json(path: str | Path, document: dict[str, Any]) -> Path:
    """Write a JSON document atomically (NaN is refused: undefined metrics are null)."""
    path = Path(path)
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return path


def write_table(path: str | Path, frame: pd.DataFrame, provenance: dict[str, Any]) -> Path:
    """Write a table as CSV (provenance in leading '# ' lines) or Parquet (provenance in the schema metadata)."""
    path = check_table_path(path)
    if _is_csv(path):
        with atomic_open(path, "w") as handle:
            for key, value in provenance.items():
                handle.write(f"# {key}: {json.dumps(value)}\n")
            frame.to_csv(handle, index=False, lineterminator="\n")
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), b"grefbench": json.dumps(provenance).encode()}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(metadata), tmp)
    return path


def read_table_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance stored in a table written by `write_table`."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata.get(b"grefbench", b"{}"))
    result: dict[str, Any] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].partition(": ")
            result[key] = json.loads(value)
    return result
