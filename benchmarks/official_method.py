"""The official ReLA evaluator's method, run from the files: the reference for bench_scoring.py.

For each sentence: rasterise the ground truth from the polygons (frPyObjects, decode, any, merge),
decode the predicted RLE, numpy I/U (ReferEvaluator.computeIoU), and the accumulation loop of
ReferEvaluator.evaluate. Native resolution. Masks are not kept (the official evaluator keeps
every dense mask in memory until the end; streaming here only favours the reference).

usage: python official_method.py DATA_ROOT PREDICTIONS.json
"""

import json
import sys

import numpy as np
from pycocotools import mask as coco_mask


def main(root: str, predictions_path: str) -> None:
    refs = json.load(open(f"{root}/grefcoco/grefs(unc).json"))
    instances = json.load(open(f"{root}/grefcoco/instances.json"))
    images = {i["id"]: i for i in instances["images"]}
    anns = {a["id"]: a for a in instances["annotations"]}
    predictions = {p["sent_id"]: p for p in json.load(open(predictions_path))["predictions"]}

    accum_i = accum_u = 0
    accum_iou = 0.0
    pr = {0.7: 0, 0.8: 0, 0.9: 0}
    total = not_empty = 0
    nt = {"TP": 0, "TN": 0, "FP": 0, "FN": 0}
    for ref in refs:
        image = images[ref["image_id"]]
        h, w = image["height"], image["width"]
        ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
        gt_nt = ann_ids == [-1]
        gt = np.zeros((h, w), dtype=np.int8)
        if not gt_nt:
            for ann_id in ann_ids:
                ann = anns[ann_id]
                if ann["iscrowd"]:
                    continue
                polygons = [p for p in ann["segmentation"] if len(p) % 2 == 0 and len(p) >= 6]
                if polygons:
                    decoded = coco_mask.decode(coco_mask.frPyObjects(polygons, h, w))
                    gt |= decoded.any(axis=2).astype(np.int8)
        for sentence in ref["sentences"]:
            prediction = predictions[sentence["sent_id"]]
            if "mask" in prediction:
                rle = dict(prediction["mask"], counts=prediction["mask"]["counts"].encode())
                pred = np.array(coco_mask.decode(rle), dtype=np.int8)
            else:
                pred = np.zeros((h, w), dtype=np.int8)
            i = np.sum(np.logical_and(pred, gt))
            u = np.sum(np.logical_or(pred, gt))
            if gt_nt:
                if prediction["no_target"]:
                    nt["TP"] += 1
                    accum_iou += 1
                else:
                    nt["FN"] += 1
                    accum_u += int(u)
            else:
                if prediction["no_target"]:
                    nt["FP"] += 1
                    i = 0
                else:
                    nt["TN"] += 1
                this_iou = 0.0 if u == 0 else float(i) / float(u)
                accum_iou += this_iou
                accum_i += int(i)
                accum_u += int(u)
                not_empty += 1
                for t in pr:
                    if this_iou >= t:
                        pr[t] += 1
            total += 1
    result = {"gIoU": 100.0 * accum_iou / total, "cIoU": 100.0 * accum_i / accum_u,
              "N-acc": 100.0 * nt["TP"] / (nt["TP"] + nt["FN"]), "T-acc": 100.0 * nt["TN"] / (nt["TN"] + nt["FP"])}
    result.update({f"Pr@{t}": 100.0 * hits / not_empty for t, hits in pr.items()})
    result["num_expressions"] = total
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:3])
