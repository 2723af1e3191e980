"""One split of a referring dataset as one record per sentence, like the official ReLA loaders.

Facts of the real files honoured here: `ann_id` is a list or an int; `[-1]` means no target;
refs without sentences add no record; a ref's own `file_name` may carry a suffix, so the image is
found by `image_id` through instances.json.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from grefbench import collector
from grefbench.data.catalog import DatasetSpec, get_dataset, image_root
from grefbench.data.files import (
    AnnotationFile,
    load_instances,
    load_refs,
    parse_instances,
    parse_refs,
    read_bytes,
)
from grefbench.errors import DatasetError, shown
from grefbench.io import limits

logger = logging.getLogger(__name__)


class SentenceRecord(NamedTuple):
    """One referring sentence and what it refers to (a NamedTuple: 260k of them load fast)."""

    sent_id: int
    ref_id: int
    image_id: int
    file_name: str
    height: int
    width: int
    sentence: str
    ann_ids: tuple[int, ...]
    no_target: bool
    category_ids: tuple[int, ...]

    @property
    def n_targets(self) -> int:
        return len(self.ann_ids)


@dataclass
class ReferSplit:
    """The sentences of one split plus the annotation tables they point into.

    `annotations` and `images` are parsed from instances.json on first use when the split came
    from the index cache (scoring with a warm ground-truth cache never needs them).
    """

    dataset: str
    split: str
    root: Path
    records: list[SentenceRecord]
    categories: dict[int, str]
    files: tuple[AnnotationFile, ...]
    available_splits: tuple[str, ...] = field(default=())
    _annotations: dict[int, dict] | None = field(default=None, repr=False)
    _images: dict[int, dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def annotations(self) -> dict[int, dict]:
        """annotation id -> COCO annotation."""
        if self._annotations is None:
            self._load_tables()
        return self._annotations

    @property
    def images(self) -> dict[int, dict]:
        """image id -> COCO image entry."""
        if self._images is None:
            self._load_tables()
        return self._images

    def _load_tables(self) -> None:
        spec = get_dataset(self.dataset)
        instances, info = load_instances(self.files[1].path, spec.layout())
        if info.sha256 != self.files[1].sha256:
            raise DatasetError(f"{info.path} changed while it was in use; run the command again")
        self._images, self._annotations, _ = _tables(instances, info.path)

    @cached_property
    def position(self) -> dict[int, int]:
        """sent_id -> index in `records`."""
        return {record.sent_id: i for i, record in enumerate(self.records)}

    def image_path(self, record: SentenceRecord) -> Path:
        return image_root(self.root) / record.file_name

    def image_annotations(self, image_ids: set[int]) -> dict[int, list[dict]]:
        """image id -> its non-crowd annotations, for the images asked (an image without any gets [])."""
        index: dict[int, list[dict]] = {image_id: [] for image_id in image_ids}
        for annotation in self.annotations.values():
            bucket = index.get(annotation.get("image_id"))
            if bucket is not None and not annotation.get("iscrowd", 0):
                bucket.append(annotation)
        return index

    def ref_records(self) -> dict[int, SentenceRecord]:
        """One (the first) record per ref_id, in split order: ground truth is per ref."""
        first: dict[int, SentenceRecord] = {}
        for record in self.records:
            first.setdefault(record.ref_id, record)
        return first


def _as_id_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _has_valid_polygon(segmentation: object) -> bool:
    if isinstance(segmentation, dict):
        return True
    if not isinstance(segmentation, list):
        return False
    return any(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation or [])


def _image_fields(image: dict, path: Path) -> tuple[str, int, int]:
    """file_name, height and width of a COCO image entry, checked (they size every mask of the image)."""
    try:
        file_name = limits.text(image["file_name"], "'file_name'")
        if not file_name:
            raise limits.Refused("'file_name' is empty")
        height, width = limits.side(image["height"], "'height'"), limits.side(image["width"], "'width'")
        limits.mask_size([height, width], "the size [height, width]")  # its masks are h x w
        return file_name, height, width
    except KeyError as error:
        raise DatasetError(f"{path}: image {shown(image.get('id'))} lacks the field {error}") from None
    except limits.Refused as error:
        raise DatasetError(f"{path}: image {shown(image.get('id'))}: {error}") from None


def _category_name(category: dict) -> str:
    name = category.get("name")
    return name if isinstance(name, str) else str(category["id"])


def _tables(instances: dict, path: Path) -> tuple[dict[int, dict], dict[int, dict], dict[int, str]]:
    try:
        images = {image["id"]: image for image in instances["images"]}
        annotations = {ann["id"]: ann for ann in instances["annotations"]}
        categories = {cat["id"]: _category_name(cat) for cat in instances.get("categories", [])}
    except (KeyError, TypeError, AttributeError):
        raise DatasetError(f"{path}: every image, annotation and category needs an 'id'") from None
    return images, annotations, categories


def load_split(root: str | Path, dataset: str | DatasetSpec, split: str, *, use_cache: bool = True) -> ReferSplit:
    """Load `split` of `dataset` from the official layout under `root`.

    With `use_cache`, the records come from an on-disk index keyed by the two files' SHA-256
    (so a changed file is re-indexed); the files are still read and hashed every time.
    """
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    root = Path(root)
    layout = spec.layout()
    refs_path = next((p for p in spec.refs_candidates(root) if p.is_file()), None)
    instances_path = spec.instances_path(root)
    with collector.paused():
        if use_cache and refs_path is not None:
            from grefbench.data import index_cache

            refs_bytes, refs_file = read_bytes(refs_path, "refs file", layout)
            instances_bytes, instances_file = read_bytes(instances_path, "instances file", layout)
            cached = index_cache.load(spec.name, split, root, (refs_file, instances_file))
            if cached is not None:
                return cached
            loaded = _index(spec, split, root, parse_refs(refs_bytes, refs_path), refs_file,
                            parse_instances(instances_bytes, instances_path), instances_file)
            index_cache.save(loaded)
            return loaded
        refs, refs_file = load_refs(spec.refs_candidates(root), layout)
        instances, instances_file = load_instances(instances_path, layout)
        return _index(spec, split, root, refs, refs_file, instances, instances_file)


def _index(spec: DatasetSpec, split: str, root: Path, refs: list, refs_file: AnnotationFile,
           instances: dict, instances_file: AnnotationFile) -> ReferSplit:
    instances_path = instances_file.path
    images, annotations, categories = _tables(instances, instances_path)

    available: dict[str, None] = {}
    records: list[SentenceRecord] = []
    skipped_invalid = 0
    refs_path = refs_file.path
    # A pickle can repeat one object many times for a few bytes (a memo reference); every sentence
    # and annotation id of a real refs file takes at least a byte of it.
    budget = refs_file.path.stat().st_size + 1000
    for index, ref in enumerate(refs):
        try:
            ref_split = limits.text(ref["split"], "'split'")
            available[ref_split] = None
            if ref_split != split:
                continue
            ref_id = limits.integer(ref["ref_id"], "'ref_id'")
            image_id = limits.integer(ref["image_id"], "'image_id'")
            ann_ids = _as_id_list(ref["ann_id"])
            category_ids = _as_id_list(ref.get("category_id", []))
            sentences = ref["sentences"]
            if not isinstance(sentences, list):
                raise DatasetError(f"{refs_path}: ref #{index}: 'sentences' must be a list")
            budget -= len(sentences) + len(ann_ids) + len(category_ids)
            if budget < 0:
                raise DatasetError(f"{refs_path}: holds more sentences and ids than bytes: it repeats shared "
                                   "objects (a pickle bomb?); write each ref out in full")
            ann_ids = [limits.integer(a, "'ann_id'") for a in ann_ids]
            category_ids = [limits.integer(c, "'category_id'") for c in category_ids]
        except KeyError as error:
            raise DatasetError(f"{refs_path}: ref #{index} lacks the field {shown(error.args[0])}") from None
        except TypeError:
            raise DatasetError(f"{refs_path}: ref #{index} is not an object with split, ref_id, image_id, ann_id "
                               "and sentences") from None
        except limits.Refused as error:
            raise DatasetError(f"{refs_path}: ref #{index}: {error}") from None
        image = images.get(image_id)
        if image is None:
            raise DatasetError(f"{refs_path}: ref {ref_id} refers to image {image_id}, which is not in {instances_path}")
        no_target = ann_ids == [-1]
        if no_target:
            ann_ids = []
            category_ids = []
        else:
            for ann_id in ann_ids:
                ann = annotations.get(ann_id)
                if ann is None:
                    raise DatasetError(
                        f"{refs_path}: ref {ref_id} refers to annotation {ann_id}, which is not in {instances_path}"
                    )
                if ann.get("image_id") != image_id:
                    raise DatasetError(
                        f"{refs_path}: ref {ref_id} is on image {image_id} but its annotation {ann_id} "
                        f"is on image {shown(ann.get('image_id'))}"
                    )
            if not spec.multi_target and not _has_valid_polygon(annotations[ann_ids[0]].get("segmentation")):
                # The official single-target loader drops refs whose object has no valid polygon.
                skipped_invalid += 1
                continue
        file_name, height, width = _image_fields(image, instances_path)
        ann_tuple = tuple(ann_ids)
        cat_tuple = tuple(category_ids)
        for sentence in sentences:
            try:
                sent_id = limits.integer(sentence["sent_id"], "'sent_id'")
                raw = limits.text(sentence["raw"], "'raw'")
            except KeyError as error:
                raise DatasetError(f"{refs_path}: a sentence of ref {ref_id} lacks the field {shown(error.args[0])}") from None
            except TypeError:
                raise DatasetError(f"{refs_path}: a sentence of ref {ref_id} is not an object with sent_id and raw") from None
            except limits.Refused as error:
                raise DatasetError(f"{refs_path}: a sentence of ref {ref_id}: {error}") from None
            records.append(SentenceRecord(sent_id, ref_id, image_id, file_name, height, width, raw, ann_tuple,
                                          no_target, cat_tuple))

    if split not in available:
        raise DatasetError(
            f"Unknown split {split!r} for {spec.name} in {refs_path}. Available: {', '.join(available) or 'none'}"
        )
    if skipped_invalid:
        logger.warning("%s %s: skipped %d refs whose object has no valid polygon (as the official loader)",
                       spec.name, split, skipped_invalid)
    seen: set[int] = set()
    for record in records:
        if record.sent_id in seen:
            raise DatasetError(f"{refs_path}: sent_id {record.sent_id} appears twice in split {split}")
        seen.add(record.sent_id)

    return ReferSplit(
        dataset=spec.name,
        split=split,
        root=root,
        records=records,
        categories=categories,
        files=(refs_file, instances_file),
        available_splits=tuple(available),
        _annotations=annotations,
        _images=images,
    )
