"""What a model's output grid alone costs: ground-truth masks taken down to an NxN grid and back.

Each target mask of a split (rela480 protocol, 480x480) is area-averaged down to NxN, bilinearly
resized back to 480x480 and thresholded at 0.5; the mean IoU and cIoU against the original
bound what a model whose logits live on that grid can reach. rela_tiny's grid is input / 4
(128 px -> 32x32, 160 px -> 40x40).

usage: python benchmarks/grid_oracle.py [--grids 32 40] [--split val] [--data-root ROOT]
Without --data-root the shipped gRefShapes is used.
"""

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from grefbench.data.catalog import resolve_root
from grefbench.data.groundtruth import load_ground_truth
from grefbench.data.split import load_split
from grefbench.io import rle


def oracle(masks: list[np.ndarray], grid: int) -> tuple[float, float]:
    """(mean IoU, cIoU) in percent of the masks after the round trip through a grid x grid map."""
    ious, total_i, total_u = [], 0, 0
    for mask in masks:
        dense = torch.from_numpy(mask).float()[None, None]
        small = F.interpolate(dense, size=(grid, grid), mode="area")
        back = F.interpolate(small, size=mask.shape, mode="bilinear", align_corners=False)[0, 0] > 0.5
        target = dense[0, 0] > 0.5
        inter, union = int((back & target).sum()), int((back | target).sum())
        ious.append(inter / union if union else 0.0)
        total_i, total_u = total_i + inter, total_u + union
    return 100 * float(np.mean(ious)), 100 * total_i / total_u


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[32, 40])
    parser.add_argument("--split", default="val")
    parser.add_argument("--dataset", default="grefshapes")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    split = load_split(resolve_root(args.dataset, args.data_root), args.dataset, args.split)
    truth = load_ground_truth(split, "rela480")
    masks = [rle.decode(truth.rles[r.ref_id]) for r in split.records if not r.no_target]
    print(f"{args.dataset} {args.split}: {len(masks)} sentences with a target, rela480 masks")
    for grid in args.grids:
        mean_iou, c_iou = oracle(masks, grid)
        print(f"  {grid}x{grid} grid: mean IoU {mean_iou:.1f}  cIoU {c_iou:.1f}")


if __name__ == "__main__":
    main()
