"""How far apart are a trained ReLA's no-target decisions for the kinds of sentence? (diagnostic)

Runs the model over a gRefShapes split and prints, per group, percentiles of the no-target margin
(logit "no target" minus logit "has a target"; the model predicts no-target where it is > 0) and
the fraction predicted no-target. Groups, from each reference's logical form in the scenes file
(grefshapes_scenes.json): sentences with a target; no-target counts that do not hold ("the two
stars", "both ..."); the other no-target sentences, which name an attribute combination absent
from the image ("the yellow diamond", "all yellow diamonds"). If the groups overlap, no
threshold separates them.

usage: python benchmarks/no_target_margin.py [--weights PTH] [--split val] [--data-root ROOT]
Without --weights the shipped demo model; without --data-root the shipped gRefShapes.
"""

import argparse

import numpy as np
import torch

from grefbench.data.catalog import image_root, resolve_root
from grefbench.data.split import load_split
from grefbench.data.synth.sidecar import read_scenes
from grefbench.inference.inputs import SentenceInputs
from grefbench.models import demo_weights, load_model
from grefbench.models.text.bert import ReferringTokenizer
from grefbench.models.transforms import SquareResize

PERCENTILES = (10, 25, 50, 75, 90)


def margins(model, dataset: SentenceInputs, batch: int) -> np.ndarray:
    """Logit difference (no target - target) per sentence; the eval model returns sigmoids, inverted here."""
    values = []
    with torch.inference_mode():
        for start in range(0, len(dataset), batch):
            items = dataset.__getitems__(list(range(start, min(start + batch, len(dataset)))))
            probabilities = model(items["images"], items["lang_tokens"], items["lang_mask"])["nt_label"].double()
            logits = torch.logit(probabilities.clamp(1e-12, 1 - 1e-12))
            values.extend((logits[:, 1] - logits[:, 0]).tolist())
    return np.asarray(values)


def group(record, forms: dict[int, dict]) -> str:
    """The sentence's group; a no-target reference's top-level operator tells a wrong count from an absent set."""
    if not record.no_target:
        return "has a target"
    return "no target: count" if forms[record.ref_id]["op"] == "count" else "no target: absent combination"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--dataset", default="grefshapes")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--split", default="val")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load_model("rela", weights=args.weights or demo_weights()).eval()
    split = load_split(resolve_root(args.dataset, args.data_root), args.dataset, args.split)
    forms = {ref["ref_id"]: ref["logical_form"] for scene in read_scenes(split.root)["images"] for ref in scene["refs"]}
    tokenizer = ReferringTokenizer(None, max_tokens=int(model.config.max_tokens))
    dataset = SentenceInputs(split.records, image_root(split.root), SquareResize(int(model.config.image_size)), tokenizer)
    values = margins(model, dataset, args.batch)
    names = [group(record, forms) for record in split.records]
    print(f"{args.dataset} {args.split}: no-target margin percentiles {', '.join(f'p{p}' for p in PERCENTILES)}")
    for name in ("has a target", "no target: count", "no target: absent combination"):
        chosen = values[[n == name for n in names]]
        if len(chosen) == 0:
            continue
        shown = " ".join(f"{v:7.2f}" for v in np.percentile(chosen, PERCENTILES))
        print(f"  {name:31s} {len(chosen):4d} sentences: {shown}   predicted no-target {100 * (chosen > 0).mean():.1f}%")


if __name__ == "__main__":
    main()
