"""Seconds per `grefbench train` step of the demo model with the pixel decoder's deformable-encoder
FFN at rela_tiny's 256 against Mask2Former's hard-coded 1024 (why the preset sets 256).

Same step as bench_train_step.py (forward, loss, backward, AdamW update on a random batch like
the demo recipe's); prints the median of each width and the ratio against the 1024 reference.

usage: python benchmarks/bench_encoder_ffn.py [--widths 256 1024] [--reference 1024] [--size 128]
                                              [--batch 8] [--runs 7] [--threads 2] [--dice-weight 1]
"""

import argparse

import torch

from bench_train_step import add_step_arguments, print_ratios, step_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--reference", type=int, default=1024)
    parser.add_argument("--size", type=int, default=128)
    add_step_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seconds = {f"encoder FFN {width}": step_seconds(args.size, args.batch, args.runs, args.dice_weight,
                                                    (f"GREFBENCH.ENCODER_FEEDFORWARD={width}",))
               for width in sorted(set(args.widths) | {args.reference})}
    print_ratios(f"rela_tiny training step at {args.size}x{args.size}, batch {args.batch}, {args.threads} threads, "
                 f"median of {args.runs}:", seconds, f"encoder FFN {args.reference}")


if __name__ == "__main__":
    main()
