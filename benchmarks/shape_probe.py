"""Does a trained ReLA's visual stream know which shape each object pixel belongs to? (diagnostic)

Runs the model on the first sentence of each of `--images` images of a gRefShapes split, keeps
the Swin features res2 (stride 4) and res3 (stride 8) and the pixel decoder's mask features
(stride 4), and fits a linear probe per feature on the object pixels of the first half of the
images to their shape category; prints its accuracy on the second half beside the majority
class. An object-vs-background probe on the same pixels checks that labels and features line up.
Features are those of the image under its sentence (the Swin stages are language-gated).

usage: python benchmarks/shape_probe.py [--weights PTH] [--split val] [--images 200] [--data-root ROOT]
Without --weights the shipped demo model; without --data-root the shipped gRefShapes.
"""

import argparse

import torch
import torch.nn.functional as F

from grefbench.data.catalog import resolve_root
from grefbench.data.split import load_split
from grefbench.models import demo_weights, load_model
from grefbench.models.text.bert import ReferringTokenizer
from grefbench.training.samples import TrainingSamples
from grefbench.models.transforms import SquareResize

# Feature name -> stride of its map against the input.
FEATURES = {"res2": 4, "res3": 8, "mask": 4}


def collect(model, samples: TrainingSamples, indices: list[int], batch: int) -> tuple[dict, dict]:
    """Features {name: [N, C, h, w]} and category maps sampled at each feature's pixel centres."""
    grabbed: dict[str, torch.Tensor] = {}
    hooks = [
        model.backbone.register_forward_hook(lambda _m, _a, out: grabbed.update(res2=out["res2"], res3=out["res3"])),
        model.sem_seg_head.pixel_decoder.register_forward_hook(lambda _m, _a, out: grabbed.update(mask=out[0])),
    ]
    features = {name: [] for name in FEATURES}
    labels = {name: [] for name in FEATURES}
    with torch.inference_mode():
        for start in range(0, len(indices), batch):
            items = samples.__getitems__(indices[start:start + batch])
            model(items["images"], items["lang_tokens"], items["lang_mask"])
            for name, stride in FEATURES.items():
                features[name].append(grabbed[name])
                labels[name].append(items["gt_categories"][:, stride // 2::stride, stride // 2::stride])
    for hook in hooks:
        hook.remove()
    return ({name: torch.cat(parts) for name, parts in features.items()},
            {name: torch.cat(parts) for name, parts in labels.items()})


def one_sentence_per_image(records) -> list[int]:
    """The index of the first sentence of each image (a category map is the image's, not the sentence's)."""
    first: dict[int, int] = {}
    for index, record in enumerate(records):
        first.setdefault(record.image_id, index)
    return list(first.values())


def probe(features: torch.Tensor, labels: torch.Tensor, *, objectness: bool) -> tuple[float, float, int]:
    """(held-out accuracy, majority-class rate, test pixels) of a linear probe trained on the first half."""
    pixels = features.permute(0, 2, 3, 1)
    half = pixels.shape[0] // 2

    def flatten(rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = pixels[rows].reshape(-1, pixels.shape[-1]), labels[rows].reshape(-1)
        if objectness:
            return x, (y > 0).long()
        keep = y > 0
        return x[keep], y[keep] - 1

    x_train, y_train = flatten(slice(0, half))
    x_test, y_test = flatten(slice(half, None))
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    classes = int(max(y_train.max(), y_test.max())) + 1
    linear = torch.nn.Linear(x_train.shape[1], classes)
    optimizer = torch.optim.Adam(linear.parameters(), lr=1e-2)
    for _ in range(500):
        optimizer.zero_grad()
        F.cross_entropy(linear(x_train), y_train).backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = (linear(x_test).argmax(1) == y_test).float().mean().item()
    majority = torch.bincount(y_test, minlength=classes).max().item() / len(y_test)
    return accuracy, majority, len(y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--split", default="val")
    parser.add_argument("--dataset", default="grefshapes")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_model("rela", weights=args.weights or demo_weights())
    model.eval()
    split = load_split(resolve_root(args.dataset, args.data_root), args.dataset, args.split)
    samples = TrainingSamples(split, SquareResize(int(model.config.image_size)), ReferringTokenizer(None, max_tokens=20),
                              categories=True)
    indices = one_sentence_per_image(samples.records)[:args.images]
    features, labels = collect(model, samples, indices, args.batch)
    print(f"{args.dataset} {args.split}, {len(indices)} images (probe fit on the first half, scored on the second)")
    for name in FEATURES:
        shape, shape_majority, count = probe(features[name], labels[name], objectness=False)
        objects, objects_majority, _ = probe(features[name], labels[name], objectness=True)
        print(f"  {name:5s} stride {FEATURES[name]}: shape {100 * shape:.1f}% on {count} object pixels "
              f"(majority {100 * shape_majority:.1f}%); object vs background {100 * objects:.1f}% "
              f"(majority {100 * objects_majority:.1f}%)")


if __name__ == "__main__":
    main()
