"""Reading detectron2 yaml configs with their `_BASE_` chain into flat `SECTION.KEY` values.

detectron2 semantics: `_BASE_` names one file, relative to the file that names it; the base is
read first and the child's values override it; string values that are Python literals are
read as such (yacs). Only `yaml.safe_load` is used: no Python tags, no URLs.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

import yaml

from grefbench.errors import ConfigError


def read_yaml_chain(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Flat values (`MODEL.SWIN.EMBED_DIM` -> 128) of a yaml and its `_BASE_` chain, and the file each came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    _read(path, values, sources, chain=())
    return values, sources


def _read(path: Path, values: dict, sources: dict, chain: tuple[Path, ...]) -> None:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in chain + (resolved,))
        raise ConfigError(f"{path}: _BASE_ chain loops: {cycle}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{chain[-1] if chain else path}: _BASE_ file {path} does not exist") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid yaml: {error}") from error
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: a config must be a yaml mapping, got {type(document).__name__}")
    base = document.pop("_BASE_", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: _BASE_ must be a file name, got {base!r}")
        if "://" in base:
            raise ConfigError(f"{path}: _BASE_ {base!r} is a URL; grefbench reads local files only")
        base_path = Path(base).expanduser()
        if not base_path.is_absolute():
            base_path = path.parent / base_path
        _read(base_path, values, sources, chain + (resolved,))
    merge_document(document, str(path), values, sources)


def merge_document(document: Mapping, source: str, values: dict, sources: dict) -> None:
    """Flatten one yaml document over `values` (later documents override), recording each key's source."""
    for key, value in _flatten(document, ""):
        if key.startswith("_BASE_"):
            continue
        values[key] = _decode(value)
        sources[key] = source


def _flatten(tree: Mapping, prefix: str):
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, key + ".")
        else:
            yield key, value


def _decode(value: Any) -> Any:
    """Strings that are Python literals become values, as yacs reads yaml (e.g. "('res2',)")."""
    if isinstance(value, str):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return value
    return value
