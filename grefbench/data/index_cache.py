"""On-disk index of a split's sentence records, keyed by the annotation files' SHA-256.

Parsing a full gRefCOCO instances.json takes seconds; with this index a repeated `grefbench
score` only reads and hashes the files. The index is plain numpy arrays (no pickle), written
atomically; anything unreadable or inconsistent is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from grefbench.cache import cache_root
from grefbench.data.files import AnnotationFile
from grefbench.data.split import ReferSplit, SentenceRecord
from grefbench.errors import GrefbenchError
from grefbench.io import limits
from grefbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
_SEPARATOR = "\x00"


def index_path(dataset: str, split: str, files: tuple[AnnotationFile, ...]) -> Path:
    key = hashlib.sha256("|".join([*(f.sha256 for f in files), dataset, split, str(INDEX_VERSION)]).encode()).hexdigest()[:20]
    # The split's name comes from the refs file: it must not lead out of the cache folder.
    return cache_root() / "index" / f"{limits.file_name_part(dataset)}-{limits.file_name_part(split)}-{key}.npz"


def _joined(texts: list[str]) -> np.ndarray | None:
    if any(_SEPARATOR in t for t in texts):
        return None
    return np.frombuffer(_SEPARATOR.join(texts).encode("utf-8"), dtype=np.uint8)


def _ragged(values: list[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    flat = np.fromiter((v for group in values for v in group), dtype=np.int64, count=int(lengths.sum()))
    return flat, np.concatenate(([0], np.cumsum(lengths)))


def save(split: ReferSplit) -> None:
    """Write the index of a freshly parsed split (best effort: a failure only logs)."""
    records = split.records
    sentences = _joined([r.sentence for r in records])
    names = _joined([r.file_name for r in records])
    if sentences is None or names is None:
        return
    ann_flat, ann_offsets = _ragged([r.ann_ids for r in records])
    cat_flat, cat_offsets = _ragged([r.category_ids for r in records])
    meta = json.dumps({"categories": list(split.categories.items()), "available_splits": list(split.available_splits)})
    path = index_path(split.dataset, split.split, split.files)
    columns = {
        "version": np.array([INDEX_VERSION]),
        "count": np.array([len(records)]),
        "integers": np.array([[r.sent_id, r.ref_id, r.image_id, r.height, r.width, r.no_target] for r in records],
                             dtype=np.int64).reshape(-1, 6),
        "ann_flat": ann_flat, "ann_offsets": ann_offsets, "cat_flat": cat_flat, "cat_offsets": cat_offsets,
        "sentences": sentences, "file_names": names, "meta": np.frombuffer(meta.encode(), dtype=np.uint8),
    }
    try:
        with atomic_path(path, cache=True) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **columns)
    except (OSError, GrefbenchError) as error:
        logger.warning("could not write the split index %s: %s", path, error)


def _groups(flat: list[int], offsets: list[int]) -> list[tuple[int, ...]]:
    return [tuple(flat[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]


def load(dataset: str, split: str, root: Path, files: tuple[AnnotationFile, ...]) -> ReferSplit | None:
    """The cached split for exactly these files, or None."""
    path = index_path(dataset, split, files)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"][0]) != INDEX_VERSION:
                return None
            count = int(data["count"][0])
            integers = data["integers"]
            ann = _groups(data["ann_flat"].tolist(), data["ann_offsets"].tolist())
            cats = _groups(data["cat_flat"].tolist(), data["cat_offsets"].tolist())
            sentences = data["sentences"].tobytes().decode("utf-8").split(_SEPARATOR)
            names = data["file_names"].tobytes().decode("utf-8").split(_SEPARATOR)
            meta = json.loads(data["meta"].tobytes())
    except (OSError, KeyError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile):
        logger.warning("split index %s is unreadable; rebuilding it", path)
        return None
    if count == 0:
        sentences, names = [], []
    if not (integers.shape == (count, 6) and len(ann) == len(cats) == len(sentences) == len(names) == count):
        return None
    columns = integers.T.tolist()
    no_target = [bool(v) for v in columns[5]]
    records = list(map(SentenceRecord._make, zip(columns[0], columns[1], columns[2], names, columns[3], columns[4],
                                                  sentences, ann, no_target, cats)))
    return ReferSplit(
        dataset=dataset,
        split=split,
        root=root,
        records=records,
        categories={int(k): v for k, v in meta["categories"]},
        files=files,
        available_splits=tuple(meta["available_splits"]),
    )
