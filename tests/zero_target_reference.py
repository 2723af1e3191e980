"""Independent re-statements of the official Ref-ZOM and R-RefCOCO evaluations, for tests only.

Written from RIS-DMMI (refer/refer.py, data/dataset_zom.py, test.py) and robust-ref-seg
(dataset/refer.py, dataset/ReferDataset.py, utils/validation.py): dense masks, PIL 'P' images,
torch float32 tensors and AverageMeter sums, in the official loop order. Predictions are dense
480x480 arrays keyed by sent_id. No grefbench code is used.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as coco_mask


def _official_split(refs: list[dict], split: str) -> list[dict]:
    if split in ("testA", "testB", "testC"):
        return [r for r in refs if split[-1] in r["split"]]
    if split == "test":
        return [r for r in refs if "test" in r["split"]]
    return [r for r in refs if r["split"] == split]


def _decode_sum(ann: dict, image: dict) -> np.ndarray:
    rles = coco_mask.frPyObjects(ann["segmentation"], image["height"], image["width"])
    m = coco_mask.decode(rles)
    m = np.sum(m, axis=2)
    return m.astype(np.uint8)


def _to_target(ref_mask: np.ndarray) -> np.ndarray:
    annot = np.zeros(ref_mask.shape)
    annot[ref_mask == 1] = 1
    annot = Image.fromarray(annot.astype(np.uint8), mode="P")
    return np.asarray(annot.resize((480, 480), Image.NEAREST)).astype(np.int64)


def refzom_official(refs: list[dict], instances: dict, split: str, predictions: dict[int, np.ndarray]) -> dict:
    """RIS-DMMI test.py `evaluate` on the given predictions (percent, as it prints them)."""
    anns = {a["id"]: a for a in instances["annotations"]}
    imgs = {i["id"]: i for i in instances["images"]}
    cum_i, cum_u = 0, 0
    thresholds = [.5, .6, .7, .8, .9]
    seg_correct = np.zeros(len(thresholds), dtype=np.int32)
    seg_total = 0
    mean_iou, mean_acc = [], []
    for ref in _official_split(refs, split):
        image = imgs[ref["image_id"]]
        if ref["source"] != "zero":
            ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
            all_mask = np.sum(np.stack([_decode_sum(anns[a], image) for a in ann_ids], axis=0), axis=0)
            all_mask = np.where(all_mask != 0, 1, all_mask)
        else:
            all_mask = np.zeros((image["height"], image["width"]))
        target = _to_target(np.array(all_mask))
        for sentence in ref["sentences"]:
            output_mask = predictions[sentence["sent_id"]].astype(np.int64)
            if ref["source"] == "zero":
                mean_acc.append(1 if np.sum(output_mask) == 0 else 0)
                continue
            i = np.sum(np.logical_and(output_mask, target))
            u = np.sum(np.logical_or(output_mask, target))
            this_iou = 0.0 if u == 0 else i * 1.0 / u
            mean_iou.append(this_iou)
            cum_i += i
            cum_u += u
            for n, t in enumerate(thresholds):
                seg_correct[n] += (this_iou >= t)
            seg_total += 1
    out = {f"Pr@{t}": seg_correct[n] * 100. / seg_total for n, t in enumerate(thresholds)}
    out["oIoU"] = cum_i * 100. / cum_u
    out["mIoU"] = np.mean(np.array(mean_iou)) * 100.
    out["Acc"] = np.mean(np.array(mean_acc)) * 100
    return {k: float(v) for k, v in out.items()}


class _Meter:
    def __init__(self):
        self.sum, self.count = 0, 0

    def update(self, value):
        self.sum += value
        self.count += 1

    @property
    def avg(self):
        return self.sum / self.count


def rrefcoco_official(refs: list[dict], instances: dict, split: str, predictions: dict[int, np.ndarray]) -> dict:
    """robust-ref-seg utils/validation.py `validate` in one process, eval_mode 'all'."""
    anns = {a["id"]: a for a in instances["annotations"]}
    imgs = {i["id"]: i for i in instances["images"]}
    thresholds = [.5, .6, .7, .8, .9]
    seg_correct = np.zeros(len(thresholds), dtype=np.int32)
    seg_total = 0
    meters = {k: _Meter() for k in ("I", "U", "mIoU", "r", "rIoU")}
    for ref in _official_split(refs, split):
        target = torch.from_numpy(_to_target(_decode_sum(anns[ref["ann_id"]], imgs[ref["image_id"]])))[None]
        exist = [s.get("exist", True) for s in ref["sentences"]]
        positives = [predictions[s["sent_id"]] for s, e in zip(ref["sentences"], exist) if e]
        negatives = [predictions[s["sent_id"]] for s, e in zip(ref["sentences"], exist) if not e]
        I, U, IoU = torch.Tensor([0]), torch.Tensor([0]), torch.Tensor([0])
        for mask in positives:
            pred = torch.from_numpy(mask.astype(np.int64))[None]
            temp_i = torch.sum(torch.mul(pred, target)) * 1.0
            temp_u = torch.sum(torch.add(pred, target)) * 1.0 - temp_i
            I = I + temp_i
            U = U + temp_u
            IoU = IoU + temp_i * 1.0 / temp_u
            for n, t in enumerate(thresholds):
                seg_correct[n] += (IoU >= t).item()
            seg_total += 1
        IoU = IoU / len(positives)
        meters["I"].update(I.item())
        meters["U"].update(U.item())
        meters["mIoU"].update(IoU.item())
        TN, FP = torch.Tensor([0]), torch.Tensor([0])
        for mask in negatives:
            pred = torch.from_numpy(mask.astype(np.int64))[None]
            if torch.sum(pred) > 0:
                FP += 1
                U = U + torch.sum(pred)
            else:
                TN += 1
        meters["r"].update((TN / (TN + FP)).item())
        meters["rIoU"].update((I / U).item())
    out = {"mIoU": 100 * meters["mIoU"].avg, "oIoU": 100 * float(meters["I"].sum) / float(meters["U"].sum),
           "r": 100 * meters["r"].avg, "rIoU": 100 * meters["rIoU"].avg}
    out.update({f"Pr@{t}": seg_correct[n] * 100. / seg_total for n, t in enumerate(thresholds)})
    return {k: float(v) for k, v in out.items()}
