"""An independent dense reference of the official ReLA evaluation, for parity tests.

It reads the raw annotation files itself and follows the official code paths step by step:
the gRefCOCO loader (crowd skipped, polygons < 3 points dropped), detectron2's Resize((480, 480))
of polygons (np.asarray(p).reshape(-1, 2); coords[:, 0] = coords[:, 0] * (480 * 1.0 / w)), the
mapper's rasterisation (frPyObjects, decode, any, then sum-and-clamp merge), and
ReferEvaluator.evaluate's loop with dense numpy I/U and sequential float sums. Nothing here calls
grefbench code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask


def load_raw(root: Path, folder: str = "grefcoco", refs_name: str = "grefs(unc).json"):
    refs = json.loads((root / folder / refs_name).read_text())
    instances = json.loads((root / folder / "instances.json").read_text())
    images = {i["id"]: i for i in instances["images"]}
    anns = {a["id"]: a for a in instances["annotations"]}
    return refs, images, anns


def gt_mask(ref: dict, images: dict, anns: dict, size480: bool) -> tuple[np.ndarray, bool]:
    """Merged dense target mask of a ref, and whether it is a no-target ref."""
    image = images[ref["image_id"]]
    h, w = image["height"], image["width"]
    out_h, out_w = (480, 480) if size480 else (h, w)
    ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
    if ann_ids == [-1]:
        return np.zeros((out_h, out_w), dtype=np.uint8), True
    instance_masks = []
    for ann_id in ann_ids:
        ann = anns[ann_id]
        if ann["iscrowd"]:
            continue
        segm = ann["segmentation"]
        if isinstance(segm, dict):
            rle = coco_mask.frPyObjects(segm, *segm["size"]) if isinstance(segm["counts"], list) else segm
            dense = coco_mask.decode(rle)
            if size480:
                from PIL import Image

                dense = np.asarray(Image.fromarray(dense).resize((480, 480), Image.NEAREST))
            instance_masks.append(dense.astype(bool))
            continue
        segm = [p for p in segm if len(p) % 2 == 0 and len(p) >= 6]
        if not segm:
            continue
        if size480:
            polygons = []
            for p in segm:
                coords = np.asarray(p).reshape(-1, 2)
                coords[:, 0] = coords[:, 0] * (480 * 1.0 / w)
                coords[:, 1] = coords[:, 1] * (480 * 1.0 / h)
                polygons.append(np.asarray(coords.reshape(-1)).astype("float64"))
        else:
            polygons = segm
        decoded = coco_mask.decode(coco_mask.frPyObjects(polygons, out_h, out_w))
        if decoded.ndim < 3:
            decoded = decoded[..., None]
        instance_masks.append(decoded.any(axis=2))
    if not instance_masks:
        return np.zeros((out_h, out_w), dtype=np.uint8), False
    merged = np.stack(instance_masks).astype(np.uint8).sum(axis=0).clip(max=1)
    return merged.astype(np.uint8), False


def evaluate(samples: list[dict]) -> dict:
    """ReferEvaluator.evaluate for one source: samples have pred_mask, gt_mask, pred_nt, gt_nt."""
    accum_i = accum_u = 0
    accum_iou = 0.0
    pr = {0.7: 0, 0.8: 0, 0.9: 0}
    total = not_empty = empty = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for s in samples:
        pred = s["pred_mask"].astype(np.int8)
        gt = s["gt_mask"].astype(np.int8)
        i = np.sum(np.logical_and(pred, gt))
        u = np.sum(np.logical_or(pred, gt))
        if s["gt_nt"]:
            empty += 1
            if s["pred_nt"]:
                nt["TP"] += 1
                accum_iou += 1
            else:
                nt["FN"] += 1
                accum_u += int(u)
        else:
            if s["pred_nt"]:
                nt["FP"] += 1
                i = 0
            else:
                nt["TN"] += 1
            this_iou = float(0) if u == 0 else float(i) / float(u)
            accum_iou += this_iou
            accum_i += i
            accum_u += u
            not_empty += 1
            for t in pr:
                if this_iou >= t:
                    pr[t] += 1
        total += 1
    result = {"gIoU": 100.0 * (accum_iou / total), "cIoU": accum_i * 100.0 / accum_u if accum_u else None}
    # The official code reports these as fractions and prints 0 when a split has no no-target
    # sentence; grefbench reports percent and None when undefined, so convert here.
    result["T-acc"] = 100.0 * nt["TN"] / (nt["TN"] + nt["FP"]) if nt["TN"] + nt["FP"] else None
    result["N-acc"] = 100.0 * nt["TP"] / (nt["TP"] + nt["FN"]) if nt["TP"] + nt["FN"] else None
    for t, hits in pr.items():
        result[f"Pr@{t}"] = hits * 100.0 / not_empty if not_empty else None
    result["num_expressions"] = total
    return result
