"""Tiny datasets in the real REFER / gRefCOCO file formats, written by the tests themselves."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask


def write_dataset(
    root: Path,
    *,
    images: list[dict],
    annotations: list[dict],
    refs: list[dict],
    categories: list[dict] | None = None,
    folder: str = "grefcoco",
    refs_stem: str = "grefs(unc)",
    refs_format: str = "json",
    write_images: bool = True,
    seed: int = 0,
) -> Path:
    """Write refs (JSON or pickle), instances.json and JPEG images under `root`."""
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    categories = categories or [{"id": 1, "name": "person", "supercategory": "person"},
                                {"id": 2, "name": "dog", "supercategory": "animal"}]
    instances = {"info": {"description": "test fixture"}, "licenses": [], "images": images,
                 "annotations": annotations, "categories": categories}
    (base / "instances.json").write_text(json.dumps(instances))
    if refs_format == "json":
        (base / f"{refs_stem}.json").write_text(json.dumps(refs))
    else:
        (base / f"{refs_stem}.p").write_bytes(pickle.dumps(refs, protocol=2))
    if write_images:
        rng = np.random.default_rng(seed)
        image_dir = root / "images" / "train2014"
        image_dir.mkdir(parents=True, exist_ok=True)
        for image in images:
            pixels = rng.integers(0, 256, (image["height"], image["width"], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(image_dir / image["file_name"], quality=90)
    return root


def image(image_id: int, height: int, width: int) -> dict:
    return {"id": image_id, "file_name": f"COCO_train2014_{image_id:012d}.jpg", "height": height, "width": width}


def polygon_annotation(ann_id: int, image_id: int, polygons: list[list[float]], category_id: int = 1, iscrowd: int = 0) -> dict:
    xs = [x for p in polygons for x in p[0::2]]
    ys = [y for p in polygons for y in p[1::2]]
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "segmentation": polygons,
            "area": 0.0, "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)], "iscrowd": iscrowd}


def rle_annotation(ann_id: int, image_id: int, mask: np.ndarray, category_id: int = 1, iscrowd: int = 0,
                   uncompressed: bool = False) -> dict:
    if uncompressed:
        flat = mask.astype(np.uint8).flatten(order="F")
        changes = np.flatnonzero(np.diff(np.concatenate(([0], flat, [1 - flat[-1]]))))
        counts = np.diff(np.concatenate(([0], changes))).tolist()
        segmentation = {"size": list(mask.shape), "counts": counts}
    else:
        encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        segmentation = {"size": list(mask.shape), "counts": encoded["counts"].decode()}
    return {"id": ann_id, "image_id": image_id, "category_id": category_id, "segmentation": segmentation,
            "area": float(mask.sum()), "bbox": [0, 0, 1, 1], "iscrowd": iscrowd}


def ref(ref_id: int, image_id: int, ann_id, split: str, sentences: list[tuple[int, str]], *,
        category_id=None, suffix: bool = True) -> dict:
    """A ref as in the real files; `ann_id` may be an int, a list or [-1]."""
    if category_id is None:
        category_id = [-1] if ann_id == [-1] else ([1] * len(ann_id) if isinstance(ann_id, list) else 1)
    name = f"COCO_train2014_{image_id:012d}_{ref_id}.jpg" if suffix else f"COCO_train2014_{image_id:012d}.jpg"
    return {
        "ref_id": ref_id, "image_id": image_id, "ann_id": ann_id, "category_id": category_id, "split": split,
        "file_name": name, "no_target": ann_id == [-1],
        "sentences": [{"sent_id": s, "raw": raw, "sent": raw.lower(), "tokens": raw.lower().split()} for s, raw in sentences],
        "sent_ids": [s for s, _ in sentences],
    }


def tiny_grefcoco(root: Path, refs_format: str = "json") -> Path:
    """The hand-made gRefCOCO fixture: every case the loaders must honour.

    image 1 (41x61): ann 11 float polygon, ann 12 integer polygon, ann 13 crowd RLE, ann 14 two polygons
    plus one of 2 points (dropped); image 2 (50x50): ann 21 uncompressed-RLE non-crowd, ann 22 only an
    invalid polygon; image 3 (33x47): ann 31 polygon.
    """
    crowd = np.zeros((41, 61), dtype=np.uint8)
    crowd[5:15, 40:55] = 1
    blob = np.zeros((50, 50), dtype=np.uint8)
    blob[10:30, 12:20] = 1
    annotations = [
        polygon_annotation(11, 1, [[2.5, 3.2, 20.7, 4.1, 18.3, 25.9, 4.4, 22.0]]),
        polygon_annotation(12, 1, [[30, 20, 58, 22, 50, 38, 33, 36]], category_id=2),
        rle_annotation(13, 1, crowd, iscrowd=1),
        polygon_annotation(14, 1, [[1.0, 30.0, 10.0, 30.0, 10.0, 39.0], [12.2, 31.1, 25.6, 31.0, 19.9, 38.8], [0.0, 0.0, 5.0, 5.0]]),
        rle_annotation(21, 2, blob, uncompressed=True),
        polygon_annotation(22, 2, [[1.0, 1.0, 9.0, 9.0]]),
        polygon_annotation(31, 3, [[3.3, 2.1, 44.0, 5.5, 40.2, 30.7, 7.9, 28.8]]),
    ]
    refs = [
        ref(100, 1, 11, "val", [(1000, "the man on the left"), (1001, "Left person")]),
        ref(101, 1, [11, 12], "val", [(1010, "both of them")]),
        ref(102, 1, [-1], "val", [(1020, "the cat on the sofa")]),
        ref(103, 1, [12, 13], "val", [(1030, "the dog and the crowd")]),
        ref(104, 1, [14], "val", [(1040, "the two triangles")], suffix=False),
        ref(105, 2, [21], "val", [(1050, "the blob")]),
        ref(106, 2, [22, 21], "val", [(1060, "line and blob")]),
        ref(107, 2, [21], "val", []),
        ref(108, 3, [31], "testA", [(1080, "the quad")]),
        ref(109, 3, [-1], "train", [(1090, "nothing here")]),
    ]
    return write_dataset(root, images=[image(1, 41, 61), image(2, 50, 50), image(3, 33, 47)],
                         annotations=annotations, refs=refs, refs_format=refs_format)


def random_predictions(split, protocol: str, seed: int = 0, *, omit_masks: bool = False) -> list[dict]:
    """Prediction entries for every sentence of `split`: random masks and no-target flags."""
    from grefbench.data.protocols import get_protocol
    from grefbench.io import rle

    rng = np.random.default_rng(seed)
    entries = []
    for record in split.records:
        height, width = get_protocol(protocol).mask_size(record.height, record.width)
        no_target = bool(rng.random() < 0.3)
        entry = {"sent_id": record.sent_id, "no_target": no_target}
        if not (no_target and omit_masks and rng.random() < 0.5):
            mask = np.zeros((height, width), dtype=np.uint8)
            y0, x0 = rng.integers(0, height), rng.integers(0, width)
            mask[y0:y0 + rng.integers(1, height), x0:x0 + rng.integers(1, width)] = 1
            if rng.random() < 0.1:
                mask[:] = 0
            entry["mask"] = rle.encode(mask)
        entries.append(entry)
    return entries


def tiny_rela_checkpoint(path: Path, *, image_size: int = 64, seed: int = 0, preset: str = "rela_swin_t") -> Path:
    """A randomly initialised, very small ReLA (Swin or ResNet backbone, 32-wide BERT) saved as a checkpoint."""
    import dataclasses

    import torch

    from grefbench.models import save_checkpoint
    from grefbench.models.rela.build import build_rela
    from grefbench.models.rela.config import load_config

    base = load_config(preset)
    if hasattr(base.backbone, "embed_dim"):
        backbone = dataclasses.replace(base.backbone, embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
                                       window_size=4)
    else:
        backbone = dataclasses.replace(base.backbone, width_per_group=8, stem_out_channels=16, res2_out_channels=32)
    config = dataclasses.replace(
        base, backbone=backbone, image_size=image_size, name="tiny",
        pixel_decoder=dataclasses.replace(base.pixel_decoder, conv_dim=32, mask_dim=32, encoder_layers=1,
                                          encoder_heads=2, encoder_feedforward=64),
        decoder=dataclasses.replace(base.decoder, hidden_dim=32, heads=2, feedforward=64, layers=2),
    )
    text = {"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64}
    torch.manual_seed(seed)
    model = build_rela(config=config, text_config=text)
    with torch.no_grad():  # make the no-target head undecided so both outcomes occur
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    save_checkpoint(model, path)
    return path


def tiny_lavt_checkpoint(path: Path, *, image_size: int = 64, seed: int = 0) -> Path:
    """A randomly initialised, very small LAVT (16-wide Swin, 32-wide BERT) saved in the official format."""
    import dataclasses

    import torch

    from grefbench.models import save_checkpoint
    from grefbench.models.lavt.build import build_lavt
    from grefbench.models.lavt.config import load_config

    base = load_config("lavt_swin_b")
    swin = dataclasses.replace(base.swin, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4,
                               drop_path_rate=0.0)
    config = dataclasses.replace(base, swin=swin, image_size=image_size, name="tiny")
    text = {"vocab_size": 30522, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
            "intermediate_size": 64}
    torch.manual_seed(seed)
    model = build_lavt(config=config, text_config=text)
    with torch.no_grad():  # foreground and background both occur, and some masks come out empty
        model.classifier.conv1_1.bias.copy_(torch.tensor([0.0, -0.02]))
    save_checkpoint(model, path)
    return path


FAMILY_CHECKPOINTS = {"rela": tiny_rela_checkpoint, "lavt": tiny_lavt_checkpoint}


def free_port() -> int:
    """A TCP port nothing listens on now, for a torchrun rendezvous (a fixed one can still be in use
    by an earlier run's socket)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
