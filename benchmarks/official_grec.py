"""The official GREC evaluation as its code runs it, one sentence at a time, as a whole process.

An independent re-implementation (no grefbench code) of henghuiding/gRefCOCO: the conversion of
`mdetr/scripts/fine-tuning/grefexp_coco_format.py` (one target per `ann_id`, its instances.json
`bbox`, crowd included; `ann_id` [-1] is one no-target entry) and the loop of
`RefExpEvaluator.summarize` in `mdetr/datasets/refexp.py` (the converted split indexed by
pycocotools' COCO and read per sentence with getAnnIds / loadImgs / loadAnns, float32 tensors, sort
of (score, box) tuples, score >= 0.7, MDETR's generalized_box_iou, torch.topk greedy matching,
F1 >= 1).
Predictions come from a grefbench-boxes/1 file (xywh turned into xyxy, as the model's would be).
Scores are kept as float64, the number as written: a model's float32 score of 0.7 would fall just
under the threshold in the official code (docs/grec.md); the data here has scores of exactly 0.7.

usage: python benchmarks/official_grec.py DATA_ROOT BOXES.json   (prints the metrics as JSON)
"""

import contextlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from pycocotools.coco import COCO


def _area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def generalized_iou(first, second):
    inner = (torch.min(first[:, None, 2:], second[:, 2:]) - torch.max(first[:, None, :2], second[:, :2])).clamp(min=0)
    intersection = inner[:, :, 0] * inner[:, :, 1]
    union = _area(first)[:, None] + _area(second) - intersection
    iou = intersection / union
    outer = (torch.max(first[:, None, 2:], second[:, 2:]) - torch.min(first[:, None, :2], second[:, :2])).clamp(min=0)
    enclosing = outer[:, :, 0] * outer[:, :, 1]
    return iou - (enclosing - union) / enclosing


def converted_dataset(root: Path) -> tuple[COCO, dict[int, int]]:
    """The val split as the conversion script writes it (one image entry per sentence, one annotation per
    target, a no-target sentence one annotation of category -1), indexed by pycocotools' COCO as the
    evaluator's `refexp_gt`; and sent_id -> image id."""
    refs = json.loads((root / "grefcoco" / "grefs(unc).json").read_text())
    instances = json.loads((root / "grefcoco" / "instances.json").read_text())
    annotations = {a["id"]: a for a in instances["annotations"]}
    images, targets, image_of_sentence = [], [], {}
    for ref in refs:
        if ref["split"] != "val":
            continue
        ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
        categories = ref["category_id"] if isinstance(ref["category_id"], list) else [ref["category_id"]]
        for sentence in ref["sentences"]:
            image_id = len(images)
            images.append({"id": image_id, "caption": sentence["sent"], "original_id": ref["image_id"]})
            image_of_sentence[sentence["sent_id"]] = image_id
            if ann_ids == [-1]:
                targets.append({"id": len(targets), "image_id": image_id, "category_id": -1, "bbox": [0, 0, 0, 0],
                                "area": -1, "iscrowd": -1})
            else:
                for ann_id, category in zip(ann_ids, categories):
                    targets.append({"id": len(targets), "image_id": image_id, "category_id": category,
                                    "bbox": annotations[ann_id]["bbox"], "area": annotations[ann_id]["area"],
                                    "iscrowd": annotations[ann_id].get("iscrowd", 0)})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": targets, "categories": instances["categories"]}
    coco.createIndex()
    return coco, image_of_sentence


def main() -> None:
    root, boxes_path = Path(sys.argv[1]), Path(sys.argv[2])
    with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints while indexing
        refexp_gt, image_of_sentence = converted_dataset(root)
    document = json.loads(boxes_path.read_text())
    predictions = {}
    for entry in document["predictions"]:
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in entry["boxes"]]
        scores = entry.get("scores", [1.0] * len(xyxy))
        predictions[image_of_sentence[entry["sent_id"]]] = {
            "boxes": torch.tensor(xyxy, dtype=torch.float32).view(-1, 4),
            "scores": torch.tensor(scores, dtype=torch.float64)}
    correct = total = 0
    counts = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for image_id in refexp_gt.imgs.keys():
        ann_ids = refexp_gt.getAnnIds(imgIds=image_id)
        refexp_gt.loadImgs(image_id)
        target = refexp_gt.loadAnns(ann_ids)
        prediction = predictions[image_id]
        ranked = sorted(zip(prediction["scores"].tolist(), prediction["boxes"].tolist()), reverse=True)
        scores = np.array([s for s, _ in ranked])
        boxes = torch.cat([torch.as_tensor(b).view(1, 4) for _, b in ranked])
        no_target = any(t["category_id"] == -1 for t in target)
        gt = torch.stack([torch.tensor([t["bbox"][0], t["bbox"][1], t["bbox"][0] + t["bbox"][2],
                                        t["bbox"][1] + t["bbox"][3]]) for t in target])
        kept = boxes[torch.from_numpy(scores >= 0.7)]
        overlap = generalized_iou(kept, gt)
        n_kept, n_gt = kept.shape[0], gt.shape[0]
        if no_target:
            counts["FN" if n_kept else "TP"] += 1
            f1 = 0.0 if n_kept else 1.0
        else:
            counts["TN" if n_kept else "FP"] += 1
            matches = 0
            for _ in range(min(n_kept, n_gt)):
                value, index = torch.topk(overlap.flatten(), 1)
                if value < 0.5:
                    break
                matches += 1
                overlap[index // n_gt, :] = 0.0
                overlap[:, index % n_gt] = 0.0
            f1 = 2 * matches / (2 * matches + (n_kept - matches) + (n_gt - matches))
        correct += f1 >= 1.0
        total += 1
    print(json.dumps({"Pr@(F1=1,IoU>=0.5)": 100 * correct / total,
                      "N-acc": 100 * counts["TP"] / (counts["TP"] + counts["FN"]),
                      "T-acc": 100 * counts["TN"] / (counts["TN"] + counts["FP"]),
                      "num_expressions": total}))


if __name__ == "__main__":
    main()
