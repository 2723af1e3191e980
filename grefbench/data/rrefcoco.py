"""R-RefCOCO, R-RefCOCO+ and R-RefCOCOg (Wu et al., TIP 2024) in their own layout.

Facts of jianzongwu/robust-ref-seg honoured here (dataset/refer.py REFER, dataset/ReferDataset.py):
`<name>/refs(unc).p` + `instances.json` (args.py --splitBy defaults to unc and the README never
changes it, also for rrefcocog; a `refs(umd).p` is read only when there is no `refs(unc).p`);
split 'val' by exact name; one annotation per ref (`ann_id` an int); a sentence is negative when
its `exist` is false and positive when it has no `exist` key (ReferDataset.get_exist).
Where the official code fails, grefbench refuses by name: an `ann_id` not in instances.json or a
list (getMask on None / unhashable), an `exist` that is not a boolean or 0/1, a duplicate
sent_id or ref_id (the official REFER keeps the last ref of a ref_id).
"""

from __future__ import annotations

from pathlib import Path

from grefbench.data.catalog import get_dataset
from grefbench.data import zero_target_cache
from grefbench.data.files import parse_instances, parse_refs, read_bytes
from grefbench.data.refzom import annotation_tables
from grefbench.data.zero_target import (
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


def sentence_group(sentence: dict, sent_id: int, ref_id: object, refs_path: Path) -> str:
    """'positive' or 'negative' from the sentence's `exist` (absent: positive)."""
    if "exist" not in sentence:
        return "positive"
    exist = sentence["exist"]
    if type(exist) is bool or (type(exist) is int and exist in (0, 1)):
        return "positive" if exist else "negative"
    raise DatasetError(f"{refs_path}: sentence {sent_id} of ref {ref_id} has exist {exist!r}; expected true or false")


def load_rrefcoco(root: str | Path, dataset: str = "rrefcoco", split: str = "val", *,
                  use_cache: bool = True) -> ZeroTargetSplit:
    """Load `split` of R-RefCOCO / R-RefCOCO+ / R-RefCOCOg from ROOT/<dataset>/refs(unc).p + instances.json."""
    spec = get_dataset(dataset)
    if spec.family != "rrefcoco":
        raise DatasetError(f"{dataset!r} is not an R-RefCOCO dataset")
    root = Path(root)
    check_split_name(split, spec)
    layout = spec.layout()
    base = root / spec.folder
    candidates = [base / f"{spec.refs_stem}.p", base / "refs(umd).p"]
    refs_path = next((p for p in candidates if p.is_file()), None)
    if refs_path is None:
        raise DatasetError(f"refs file not found: {' or '.join(map(str, candidates))}. Expected layout: {layout}")
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
        for key in ("ref_id", "image_id", "ann_id", "sentences"):
            if key not in ref:
                raise DatasetError(f"{refs_path}: ref {ref_id if ref_id is not None else '#' + str(index)} "
                                   f"lacks the field {key!r}")
        if ref_id in repeated:
            raise DatasetError(f"{refs_path}: ref_id {ref_id} is used by more than one ref "
                               "(the official REFER index would keep only the last)")
        ann_id = ref["ann_id"]
        if type(ann_id) is not int:
            raise DatasetError(f"{refs_path}: ref {ref_id} has 'ann_id' {ann_id!r}; R-RefCOCO refs point to one "
                               "annotation (an integer)")
        if ann_id not in annotations:
            raise DatasetError(f"{refs_path}: ref {ref_id} refers to annotation {ann_id}, which is not in "
                               f"{instances_path} (the official getMask crashes on it)")
        file_name, height, width = image_entry(images, ref["image_id"], ref_id, refs_path, instances_path)
        if not isinstance(ref["sentences"], list):
            raise DatasetError(f"{refs_path}: ref {ref_id} has 'sentences' that is not a list")
        for sentence in ref["sentences"]:
            sent_id, raw = sentence_fields(sentence, ref_id, refs_path)
            group = sentence_group(sentence, sent_id, ref_id, refs_path)
            records.append(ZeroTargetRecord(sent_id, ref_id, ref["image_id"], file_name, height, width, raw,
                                            group, (ann_id,)))
    if not any(select_split(split, name) for name in available):
        raise DatasetError(f"No ref of split {split!r} in {refs_path}. Splits in the file: "
                           f"{', '.join(available) or 'none'}")
    check_unique(records, refs_path, split)
    loaded = ZeroTargetSplit(dataset, split, root, spec, records, (refs_file, instances_file), tuple(available), annotations)
    if use_cache:
        zero_target_cache.save(loaded)
    return loaded


def load_zero_target_split(root: str | Path, dataset: str, split: str) -> ZeroTargetSplit:
    """Load a split of any zero-target benchmark by dataset name."""
    from grefbench.data.refzom import load_refzom

    spec = get_dataset(dataset)
    if spec.family == "refzom":
        return load_refzom(root, split)
    return load_rrefcoco(root, dataset, split)
