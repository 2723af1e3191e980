"""One split of a zero-target benchmark (Ref-ZOM, R-RefCOCO*) as one record per sentence.

Shared by the two loaders: the record type, the split object, the official REFER split filter
and the checks both apply (duplicate ids, missing images, unreadable fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from grefbench.data.catalog import DatasetSpec, image_root
from grefbench.data.files import AnnotationFile
from grefbench.errors import DatasetError, UsageError

# Sentence groups: Ref-ZOM's `source` of the ref, R-RefCOCO's `exist` of the sentence.
REFZOM_GROUPS = ("zero", "one", "many")
RREFCOCO_GROUPS = ("positive", "negative")


class ZeroTargetRecord(NamedTuple):
    """One sentence: ids, image size, text, its group and the annotations its ref points to."""

    sent_id: int
    ref_id: int
    image_id: int
    file_name: str
    height: int
    width: int
    sentence: str
    group: str
    ann_ids: tuple[int, ...]

    @property
    def no_target(self) -> bool:
        """True for a sentence that refers to nothing (Ref-ZOM zero, R-RefCOCO negative)."""
        return self.group in ("zero", "negative")


@dataclass
class ZeroTargetSplit:
    """The sentences of one split, in the official iteration order, plus the annotations they use.

    `annotations` is parsed from instances.json on first use when the split came from the index
    cache (scoring with a warm ground-truth cache never needs it).
    """

    dataset: str
    split: str
    root: Path
    spec: DatasetSpec
    records: list[ZeroTargetRecord]
    files: tuple[AnnotationFile, ...]
    available_splits: tuple[str, ...] = ()
    _annotations: dict[int, dict] | None = field(default=None, repr=False)

    @property
    def annotations(self) -> dict[int, dict]:
        """annotation id -> COCO annotation; parsed from instances.json on first use after a cache hit."""
        if self._annotations is None:
            from grefbench.data.files import load_instances

            instances, info = load_instances(self.files[1].path, self.spec.layout())
            if info.sha256 != self.files[1].sha256:
                raise DatasetError(f"{info.path} changed while it was in use; run the command again")
            try:
                self._annotations = {ann["id"]: ann for ann in instances["annotations"]}
            except (KeyError, TypeError):
                raise DatasetError(f"{info.path}: every annotation needs an 'id'") from None
        return self._annotations

    def __len__(self) -> int:
        return len(self.records)

    @cached_property
    def position(self) -> dict[int, int]:
        """sent_id -> index in `records`."""
        return {record.sent_id: i for i, record in enumerate(self.records)}

    def image_path(self, record: ZeroTargetRecord) -> Path:
        return image_root(self.root, self.spec) / record.file_name

    def ref_records(self) -> dict[int, ZeroTargetRecord]:
        """One (the first) record per ref_id, in split order: ground truth is per ref."""
        first: dict[int, ZeroTargetRecord] = {}
        for record in self.records:
            first.setdefault(record.ref_id, record)
        return first


def select_split(split: str, ref_split: object) -> bool:
    """Whether a ref of split `ref_split` belongs to `split`, as REFER.getRefIds selects it.

    'test' takes every split name that contains "test"; 'testA'/'testB'/'testC' those containing
    the letter; 'train', 'val' and 'testAB'/'testBC'/'testAC' the exact name.
    """
    if not isinstance(ref_split, str):
        return False
    if split in ("testA", "testB", "testC"):
        return split[-1] in ref_split
    if split == "test":
        return "test" in ref_split
    return ref_split == split


def check_split_name(split: str, spec: DatasetSpec) -> None:
    """Refuse a split name the official REFER code stops on ('No such split')."""
    known = ("train", "val", "test", "testA", "testB", "testC", "testAB", "testBC", "testAC")
    if split not in known:
        raise UsageError(f"Unknown split {split!r} for {spec.name} (the official loader knows {', '.join(known)}); "
                         f"usual: {', '.join(spec.splits)}")


def check_unique(records: list[ZeroTargetRecord], refs_path: Path, split: str) -> None:
    """Refuse a sent_id used twice in the split (Ref-ZOM's loader silently keeps the last one)."""
    seen: set[int] = set()
    for record in records:
        if record.sent_id in seen:
            raise DatasetError(f"{refs_path}: sent_id {record.sent_id} appears twice in split {split} "
                               "(the official loader would keep only the last)")
        seen.add(record.sent_id)


def repeated_ref_ids(refs: list) -> set:
    """ref_ids used by more than one ref of the file (REFER.createIndex keeps only the last of each)."""
    seen: set = set()
    repeated: set = set()
    for ref in refs:
        ref_id = ref.get("ref_id") if isinstance(ref, dict) else None
        if ref_id is None or not isinstance(ref_id, (int, str)):
            continue
        (repeated if ref_id in seen else seen).add(ref_id)
    return repeated


def sentence_fields(sentence: object, ref_id: object, refs_path: Path) -> tuple[int, str]:
    """(sent_id, raw) of one sentence entry; a missing or mistyped field names the ref."""
    if not isinstance(sentence, dict):
        raise DatasetError(f"{refs_path}: ref {ref_id} has a sentence that is not an object")
    sent_id = sentence.get("sent_id")
    raw = sentence.get("raw")
    if type(sent_id) is not int:
        raise DatasetError(f"{refs_path}: a sentence of ref {ref_id} has no integer 'sent_id'")
    if not isinstance(raw, str):
        raise DatasetError(f"{refs_path}: sentence {sent_id} of ref {ref_id} has no string 'raw'")
    return sent_id, raw


def image_entry(images: dict[int, dict], image_id: object, ref_id: object, refs_path: Path,
                instances_path: Path) -> tuple[str, int, int]:
    """(file_name, height, width) of a ref's image; a missing image or size names the ref."""
    image = images.get(image_id) if isinstance(image_id, int) else None
    if image is None:
        raise DatasetError(f"{refs_path}: ref {ref_id} refers to image {image_id!r}, which is not in {instances_path}")
    height, width = image.get("height"), image.get("width")
    if type(height) is not int or type(width) is not int or height <= 0 or width <= 0:
        raise DatasetError(f"{instances_path}: image {image_id} needs positive integer 'height' and 'width'")
    return str(image.get("file_name", "")), height, width
