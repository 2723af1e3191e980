"""`grefbench eval` throughput with and without image sharing, on a gRefCOCO-shaped split.

A synthetic split in the real gRefCOCO layout (640x480 JPEGs, 14 sentences per image as in
gRefCOCO val) is evaluated end to end (`run_eval`: decoding, model, masks, RLE, scoring) by the
official ReLA-R50 at 480x480 with random weights (the time does not depend on their values) on a
fixed number of threads, once encoding each image once per batch (sharing) and once per sentence.
Prints sentences/s of each, their ratio, and the share of the time spent in each part of the model.

    python benchmarks/bench_image_sharing.py [--config rela_r50] [--images 3] [--threads 2] [--batch-size 14]

Target (issue 21): sharing at least 4x faster for ReLA-R50.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SENTENCES_PER_IMAGE = 14
WORDS = "the man woman left right red blue car dog two all except person on near small large shirt".split()


def write_split(root: Path, images: int, seed: int = 0) -> None:
    """ROOT/grefcoco/{grefs(unc).json, instances.json} and ROOT/images/*.jpg: `images` images, 14 sentences each."""
    rng = np.random.default_rng(seed)
    (root / "grefcoco").mkdir(parents=True)
    (root / "images" / "train2014").mkdir(parents=True)
    image_list, annotations, refs = [], [], []
    sent_id = 1
    for image_id in range(1, images + 1):
        name = f"COCO_train2014_{image_id:012d}.jpg"
        pixels = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / "train2014" / name, quality=90)
        image_list.append({"id": image_id, "file_name": name, "height": 480, "width": 640})
        ann_ids = []
        for k in range(3):
            x, y = 60 + 180 * k, 100 + 40 * k
            ann_ids.append(image_id * 10 + k)
            annotations.append({"id": image_id * 10 + k, "image_id": image_id, "category_id": 1, "iscrowd": 0,
                                "area": 9000.0, "bbox": [x, y, 100, 90],
                                "segmentation": [[x, y, x + 100, y, x + 100, y + 90, x, y + 90]]})
        for r in range(SENTENCES_PER_IMAGE // 2):
            targets = [ann_ids[r % 3]] if r < 5 else ([-1] if r == 5 else ann_ids[:2])
            sentences = []
            for _ in range(2):
                words = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 8))))
                sentences.append({"sent_id": sent_id, "sent": words, "raw": words, "tokens": words.split()})
                sent_id += 1
            refs.append({"ref_id": image_id * 100 + r, "image_id": image_id, "ann_id": targets,
                         "category_id": [-1] if targets == [-1] else [1] * len(targets), "split": "val",
                         "sentences": sentences,
                         "sent_ids": [s["sent_id"] for s in sentences], "file_name": name, "no_target": targets == [-1]})
    (root / "grefcoco" / "grefs(unc).json").write_text(json.dumps(refs))
    (root / "grefcoco" / "instances.json").write_text(json.dumps(
        {"images": image_list, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}))


def run(root: Path, weights: Path, args, share: bool) -> tuple[float, int]:
    """Seconds and sentences of one whole `run_eval`."""
    from grefbench.inference.runner import EvalOptions, run_eval

    out = Path(tempfile.mkdtemp(dir=root, prefix=f"out-{share}-"))  # a fresh folder: nothing to resume
    options = EvalOptions(data_root=root, dataset="grefcoco", split="val", out=out, model="rela",
                          weights=weights, batch_size=args.batch_size, workers=0, threads=args.threads,
                          share_images=share, restart=True)
    started = time.perf_counter()
    outputs = run_eval(options)
    return time.perf_counter() - started, outputs.sentences_computed


def part_seconds(weights: Path, repeats: int = 3) -> dict[str, float]:
    """Median seconds of the per-image part (one image) and the per-sentence part (one sentence)."""
    import statistics

    import torch

    from grefbench.models import get_model_spec, load_model

    model = load_model("rela", weights=weights)
    family = get_model_spec("rela")
    image = torch.randint(0, 256, (1, 3, 480, 480), dtype=torch.uint8)
    tokens, mask = family.tokenizer(model, None)(["the man on the left in a red shirt"])
    per_image, per_sentence = [], []
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            encoded = model.encode_images(image)
            per_image.append(time.perf_counter() - started)
            started = time.perf_counter()
            model.decode_sentences(encoded, torch.zeros(1, dtype=torch.int64), tokens, mask)
            per_sentence.append(time.perf_counter() - started)
    return {"per image (backbone + pixel decoder)": statistics.median(per_image),
            "per sentence (text encoder + decoder + upsampling)": statistics.median(per_sentence)}


def main() -> None:
    import torch

    from grefbench.models import load_model, save_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="rela_r50")
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=SENTENCES_PER_IMAGE)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_split(root, args.images)
        torch.manual_seed(0)
        weights = root / "random.pth"
        save_checkpoint(load_model("rela", config=args.config), weights)
        run(root, weights, args, True)  # warm-up: kernels, caches
        results = {share: run(root, weights, args, share) for share in (False, True)}
        parts = part_seconds(weights)
    print(f"{args.config} at 480x480, random weights, {args.images} images x {SENTENCES_PER_IMAGE} sentences, "
          f"batch {args.batch_size}, {args.threads} threads, whole `run_eval`:")
    for share, (seconds, sentences) in results.items():
        print(f"  {'shared      ' if share else 'per sentence'}: {sentences / seconds:6.2f} sentences/s ({seconds:.1f} s)")
    total = sum(parts.values())
    print("  one sentence's model time without sharing: " + ", ".join(
        f"{name} {seconds:.3f} s ({100 * seconds / total:.0f}%)" for name, seconds in parts.items()))
    ratio = (results[True][1] / results[True][0]) / (results[False][1] / results[False][0])
    print(f"ratio (shared / per sentence): {ratio:.2f}x   (target >= 4x)")


if __name__ == "__main__":
    main()
