"""How fast can rela_tiny's backbone learn each pixel's shape when told directly? (diagnostic)

Builds the `rela_tiny` model from scratch as `grefbench train` does, and for `--seconds` trains its
Swin backbone with a 1x1 convolution over res2 and upsampled res3 (the head of
`GREFBENCH.CATEGORY_FEATURES=backbone`) on a per-pixel category cross-entropy, one sentence per
image of `--train-split`. Prints the steps taken and the accuracy on the object pixels of
`--images` images of `--eval-split` beside the majority class. Set against `shape_probe.py`
(near-chance shape in the referring-trained demo), it separates "cannot learn shape" from
"the referring loss does not teach it".

usage: python benchmarks/shape_learnability.py [--data-root ROOT --train-split train] [--seconds 150]
                                                [--batch 8] [--lr 1e-3] [--background-weight 1]
Without --data-root it trains on the shipped testA and scores on the shipped val.
"""

import argparse
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from shape_probe import one_sentence_per_image

from grefbench.data.catalog import resolve_root
from grefbench.data.split import load_split
from grefbench.models.rela.model import backbone_category_source
from grefbench.models.text.bert import ReferringTokenizer
from grefbench.training.loop import TrainOptions, build_training_model
from grefbench.training.samples import TrainingSamples
from grefbench.models.transforms import SquareResize


def category_logits(model, head: torch.nn.Conv2d, items: dict) -> torch.Tensor:
    """Per-pixel category logits at the input size, from the backbone under each image's sentence."""
    images = model.normalize_and_pad(items["images"])
    with torch.no_grad():
        words = model.encode_text(items["lang_tokens"], items["lang_mask"])
    features = model.backbone(images, words, items["lang_mask"].unsqueeze(-1).to(words.dtype))
    logits = head(backbone_category_source(features))
    return F.interpolate(logits, size=items["gt_categories"].shape[-2:], mode="bilinear", align_corners=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--train-split", default="testA")
    parser.add_argument("--eval-split", default="val")
    parser.add_argument("--seconds", type=float, default=150.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--background-weight", type=float, default=1.0)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    root = resolve_root("grefshapes", args.data_root)
    options = TrainOptions(data_root=root, dataset="grefshapes", out=Path("."), config="rela_tiny", freeze_text=True)
    model = build_training_model(options, "cpu")
    model.train()
    model.text_encoder.eval()
    tokenizer = ReferringTokenizer(None, max_tokens=int(model.config.max_tokens))
    size = int(model.config.image_size)
    train = TrainingSamples(load_split(root, "grefshapes", args.train_split), SquareResize(size), tokenizer, categories=True)
    held_out = TrainingSamples(load_split(root, "grefshapes", args.eval_split), SquareResize(size), tokenizer, categories=True)
    train_indices = one_sentence_per_image(train.records)
    eval_indices = one_sentence_per_image(held_out.records)[:args.images]
    channels = model.backbone.output_shape()
    classes = 1 + max(int(annotation["category_id"]) for annotations in train.image_annotations.values()
                      for annotation in annotations)
    head = torch.nn.Conv2d(channels["res2"][0] + channels["res3"][0], classes, kernel_size=1)
    parameters = [p for p in model.backbone.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.05)
    weight = torch.ones(classes)
    weight[0] = args.background_weight

    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < args.seconds:
        items = train.__getitems__(rng.sample(train_indices, min(args.batch, len(train_indices))))
        loss = F.cross_entropy(category_logits(model, head, items), items["gt_categories"], weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1

    model.eval()
    correct = total = 0
    counts = torch.zeros(classes, dtype=torch.long)
    with torch.no_grad():
        for start in range(0, len(eval_indices), 20):
            items = held_out.__getitems__(eval_indices[start:start + 20])
            truth = items["gt_categories"]
            predicted = category_logits(model, head, items).argmax(1)
            objects = truth > 0
            correct += int((predicted[objects] == truth[objects]).sum())
            total += int(objects.sum())
            counts += torch.bincount(truth[objects], minlength=classes)
    print(f"rela_tiny backbone + 1x1 head on res2 and res3, {steps} steps of {args.batch} images of "
          f"{args.train_split} in {args.seconds:.0f} s (lr {args.lr}, background weight {args.background_weight})")
    print(f"  shape of {args.eval_split} object pixels ({len(eval_indices)} images, {total} pixels): "
          f"{100 * correct / total:.1f}% (majority class {100 * int(counts.max()) / total:.1f}%)")


if __name__ == "__main__":
    main()
