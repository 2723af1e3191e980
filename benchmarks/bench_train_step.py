"""Seconds per `grefbench train` step of the demo model at two input sizes (why rela_tiny takes 128 px).

One step = forward, the training loss, backward and the AdamW update, on random images and
tokens of a batch like the demo recipe's (8 sentences, frozen text encoder), as the trainer
builds the model. Prints the median of each size and the ratio against the reference size.

usage: python benchmarks/bench_train_step.py [--sizes 128 160] [--reference 160] [--batch 8]
                                              [--runs 7] [--threads 2] [--dice-weight 1]
"""

import argparse
import statistics
import time
from pathlib import Path

import torch

from grefbench.models.rela.criterion import ReferringCriterion
from grefbench.training.loop import TrainOptions, _set_train_mode, build_training_model


def step_seconds(size: int, batch: int, runs: int, dice_weight: float, overrides: tuple[str, ...] = ()) -> float:
    """Median wall time of one training step at size x size input, after two warm-up steps.

    `overrides` are extra KEY=VALUE config overrides on top of the rela_tiny preset; a model with a
    category head (GREFBENCH.CATEGORY_CLASSES) trains it too, at --category-weight 1, on random categories.
    """
    torch.manual_seed(0)
    options = TrainOptions(data_root=Path("."), dataset="grefshapes", out=Path("."), config="rela_tiny",
                           config_overrides=(f"INPUT.IMAGE_SIZE={size}", *overrides), freeze_text=True)
    model = build_training_model(options, "cpu")
    _set_train_mode(model, freeze_text=True)
    classes = model.config.category_classes
    criterion = ReferringCriterion(mask_weight=model.config.mask_weight, dice_weight=dice_weight,
                                   category_weight=1.0 if classes else 0.0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    tokens = torch.randint(1000, 2000, (batch, 12))
    mask = torch.ones_like(tokens)
    targets = torch.zeros(batch, size, size)
    targets[:, size // 4:size // 2, size // 4:size // 2] = 1
    no_target = torch.zeros(batch, dtype=torch.bool)
    categories = torch.randint(0, max(classes, 1), (batch, size, size))
    times = []
    for run in range(runs + 2):
        started = time.perf_counter()
        loss = criterion(model(images, tokens, mask), targets, no_target, categories)["loss_mask"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if run >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def add_step_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch, timing and thread options every training-step benchmark takes."""
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dice-weight", type=float, default=1.0)


def print_ratios(title: str, seconds: dict[str, float], reference: str) -> None:
    """One line per variant: its median seconds per step and its speed-up over `reference`."""
    print(title)
    for name, value in seconds.items():
        print(f"  {name}: {value:.3f} s/step   {seconds[reference] / value:.2f}x vs {reference}")


def compare_variants(title: str, variants: dict[str, tuple[str, ...]], reference: str, args: argparse.Namespace,
                     size: int) -> None:
    """Time one step of each named set of config overrides at `size` px and print the ratios against `reference`."""
    torch.set_num_threads(args.threads)
    seconds = {name: step_seconds(size, args.batch, args.runs, args.dice_weight, overrides)
               for name, overrides in variants.items()}
    print_ratios(f"rela_tiny training step at {size}x{size}, {title}, batch {args.batch}, {args.threads} threads, "
                 f"median of {args.runs}:", seconds, reference)


def variants_main(description: str, title: str, variants: dict[str, tuple[str, ...]], reference: str) -> None:
    """Entry point of a benchmark of fixed config variants: --size and the step options, then compare_variants."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", type=int, default=128)
    add_step_arguments(parser)
    args = parser.parse_args()
    compare_variants(title, variants, reference, args, args.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 160])
    parser.add_argument("--reference", type=int, default=160)
    add_step_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = sorted(set(args.sizes) | {args.reference})
    seconds = {f"{size}x{size}": step_seconds(size, args.batch, args.runs, args.dice_weight) for size in sizes}
    print_ratios(f"rela_tiny training step, batch {args.batch}, {args.threads} threads, median of {args.runs}:",
                 seconds, f"{args.reference}x{args.reference}")


if __name__ == "__main__":
    main()
