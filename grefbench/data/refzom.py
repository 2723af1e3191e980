"""Ref-ZOM (Hu et al., ICCV 2023) in its own layout, selected as RIS-DMMI's loader selects it.

Facts of RIS-DMMI honoured here (refer/refer.py REFER, data/dataset_zom.py Referzom_Dataset):
`refs(final).p` + `instances.json` under `ref-zom/`; the split filter of REFER.getRefIds ('test'
takes every split name containing "test"); `ann_id` an int or a list; each ref's `source` is
zero, one or many and applies to all its sentences; one record per sentence, in ref order.
Where the official code fails, grefbench refuses by name: an `ann_id` not in instances.json
(REFER.createIndex stops in pdb), a missing `source` (KeyError), a one/many ref without
annotations (np.stack of nothing), a duplicate sent_id or ref_id (silently the last one).
"""

from __future__ import annotations

from pathlib import Path

from grefbench.data.catalog import get_dataset
from grefbench.data import zero_target_cache
from grefbench.data.files import parse_instances, parse_refs, read_bytes
from grefbench.data.zero_target import (
    REFZOM_GROUPS,
    ZeroTargetRecord,
    ZeroTargetSplit,
    check_split_name,
    check_unique,
    image_entry,
    repeated_ref_ids,
    select_split,
    sentence_fields,
)
from grefbench.errors import DatasetError


def annotation_tables(instances: dict, path: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    """image id -> image and annotation id -> annotation of a COCO instances file."""
    try:
        images = {image["id"]: image for image in instances["images"]}
        annotations = {ann["id"]: ann for ann in instances["annotations"]}
    except (KeyError, TypeError):
        raise DatasetError(f"{path}: every image and annotation needs an 'id'") from None
    return images, annotations


def _ann_ids(value: object, ref_id: object, refs_path: Path) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(type(v) is int for v in values):
        raise DatasetError(f"{refs_path}: ref {ref_id} has 'ann_id' {value!r}; expected an integer or a list of integers")
    return tuple(values)


def load_refzom(root: str | Path, split: str = "test", *, use_cache: bool = True) -> ZeroTargetSplit:
    """Load `split` of Ref-ZOM from ROOT/ref-zom/refs(final).p and ROOT/ref-zom/instances.json."""
    spec = get_dataset("refzom")
    root = Path(root)
    check_split_name(split, spec)
    layout = spec.layout()
    refs_path = root / spec.folder / f"{spec.refs_stem}.p"
    refs_bytes, refs_file = read_bytes(refs_path, "refs file", layout)
    instances_bytes, instances_file = read_bytes(spec.instances_path(root), "instances file", layout)
    if use_cache:
        cached = zero_target_cache.load(spec, split, root, (refs_file, instances_file))
        if cached is not None:
            return cached
    refs = parse_refs(refs_bytes, refs_path)
    instances_path = instances_file.path
    instances = parse_instances(instances_bytes, instances_path)
    images, annotations = annotation_tables(instances, instances_path)

    repeated = repeated_ref_ids(refs)
    available: dict[str, None] = {}
    records: list[ZeroTargetRecord] = []
    for index, ref in enumerate(refs):
        if not isinstance(ref, dict):
            raise DatasetError(f"{refs_path}: ref #{index} is not a dict")
        ref_split = ref.get("split")
        if isinstance(ref_split, str):
            available[ref_split] = None
        if not select_split(split, ref_split):
            continue
        ref_id = ref.get("ref_id")
        for key in ("ref_id", "image_id", "ann_id", "sentences", "source"):
            if key not in ref:
                raise DatasetError(f"{refs_path}: ref {ref_id if ref_id is not None else '#' + str(index)} "
                                   f"lacks the field {key!r}")
        if ref_id in repeated:
            raise DatasetError(f"{refs_path}: ref_id {ref_id} is used by more than one ref "
                               "(the official REFER index would keep only the last)")
        source = ref["source"]
        if source not in REFZOM_GROUPS:
            raise DatasetError(f"{refs_path}: ref {ref_id} has source {source!r}; expected one of "
                               f"{', '.join(REFZOM_GROUPS)}")
        ann_ids = _ann_ids(ref["ann_id"], ref_id, refs_path)
        for ann_id in ann_ids:
            if ann_id not in annotations:
                raise DatasetError(f"{refs_path}: ref {ref_id} refers to annotation {ann_id}, which is not in "
                                   f"{instances_path} (the official REFER.createIndex stops here)")
        if source != "zero" and not ann_ids:
            raise DatasetError(f"{refs_path}: ref {ref_id} is a {source}-target ref without annotations")
        file_name, height, width = image_entry(images, ref["image_id"], ref_id, refs_path, instances_path)
        if not isinstance(ref["sentences"], list):
            raise DatasetError(f"{refs_path}: ref {ref_id} has 'sentences' that is not a list")
        for sentence in ref["sentences"]:
            sent_id, raw = sentence_fields(sentence, ref_id, refs_path)
            records.append(ZeroTargetRecord(sent_id, ref_id, ref["image_id"], file_name, height, width, raw,
                                            source, ann_ids))
    if not any(select_split(split, name) for name in available):
        raise DatasetError(f"No ref of split {split!r} in {refs_path}. Splits in the file: "
                           f"{', '.join(available) or 'none'}")
    check_unique(records, refs_path, split)
    loaded = ZeroTargetSplit("refzom", split, root, spec, records, (refs_file, instances_file), tuple(available), annotations)
    if use_cache:
        zero_target_cache.save(loaded)
    return loaded
