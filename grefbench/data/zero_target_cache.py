"""On-disk index of a Ref-ZOM / R-RefCOCO split's records, keyed by the annotation files' SHA-256.

As grefbench.data.index_cache does for gRefCOCO: with a warm index and a warm ground-truth
cache, scoring reads and hashes the files but parses neither. Plain numpy arrays, no pickle,
written atomically; anything unreadable or inconsistent is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from grefbench.cache import cache_root
from grefbench.data.catalog import DatasetSpec
from grefbench.data.files import AnnotationFile
from grefbench.data.zero_target import REFZOM_GROUPS, RREFCOCO_GROUPS, ZeroTargetRecord, ZeroTargetSplit
from grefbench.io.atomic import atomic_path

logger = logging.getLogger(__name__)

VERSION = 1
_SEPARATOR = "\x00"
_GROUPS = REFZOM_GROUPS + RREFCOCO_GROUPS


def index_path(dataset: str, split: str, files: tuple[AnnotationFile, ...]) -> Path:
    key = hashlib.sha256("|".join([*(f.sha256 for f in files), dataset, split, "zero-target", str(VERSION)])
                         .encode()).hexdigest()[:20]
    return cache_root() / "index" / f"{dataset.replace('+', 'plus')}-{split}-{key}.npz"


def save(split: ZeroTargetSplit) -> None:
    """Write the index of a freshly parsed split (best effort: a failure only logs)."""
    records = split.records
    texts = [r.sentence for r in records]
    names = [r.file_name for r in records]
    if any(_SEPARATOR in t for t in texts + names):
        return
    lengths = np.fromiter((len(r.ann_ids) for r in records), dtype=np.int64, count=len(records))
    columns = {
        "version": np.array([VERSION]),
        "integers": np.array([[r.sent_id, r.ref_id, r.image_id, r.height, r.width, _GROUPS.index(r.group)]
                              for r in records], dtype=np.int64).reshape(-1, 6),
        "ann_flat": np.fromiter((a for r in records for a in r.ann_ids), dtype=np.int64, count=int(lengths.sum())),
        "ann_offsets": np.concatenate(([0], np.cumsum(lengths))),
        "sentences": np.frombuffer(_SEPARATOR.join(texts).encode("utf-8"), dtype=np.uint8),
        "file_names": np.frombuffer(_SEPARATOR.join(names).encode("utf-8"), dtype=np.uint8),
        "meta": np.frombuffer(json.dumps({"available_splits": list(split.available_splits)}).encode(), dtype=np.uint8),
    }
    path = index_path(split.dataset, split.split, split.files)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **columns)
    except OSError as error:
        logger.warning("could not write the split index %s: %s", path, error)


def load(spec: DatasetSpec, split: str, root: Path, files: tuple[AnnotationFile, ...]) -> ZeroTargetSplit | None:
    """The cached split for exactly these files, or None."""
    path = index_path(spec.name, split, files)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"][0]) != VERSION:
                return None
            integers = data["integers"]
            flat, offsets = data["ann_flat"].tolist(), data["ann_offsets"].tolist()
            texts = data["sentences"].tobytes().decode("utf-8").split(_SEPARATOR)
            names = data["file_names"].tobytes().decode("utf-8").split(_SEPARATOR)
            meta = json.loads(data["meta"].tobytes())
    except (OSError, KeyError, ValueError, EOFError, UnicodeDecodeError, zipfile.BadZipFile):
        logger.warning("split index %s is unreadable; rebuilding it", path)
        return None
    count = integers.shape[0]
    if count == 0:
        texts, names = [], []
    if integers.ndim != 2 or integers.shape[1] != 6 or not (len(texts) == len(names) == len(offsets) - 1 == count):
        return None
    records = [
        ZeroTargetRecord(sent_id, ref_id, image_id, name, height, width, text, _GROUPS[group],
                         tuple(flat[offsets[i]:offsets[i + 1]]))
        for i, ((sent_id, ref_id, image_id, height, width, group), text, name)
        in enumerate(zip(integers.tolist(), texts, names))
    ]
    return ZeroTargetSplit(spec.name, split, root, spec, records, files, tuple(meta["available_splits"]))
