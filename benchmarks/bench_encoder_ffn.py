"""Seconds per `grefbench train` step of the demo model with the pixel decoder's deformable-encoder
FFN at rela_tiny's 256 against Mask2Former's hard-coded 1024 (why the preset sets 256).

Same step as bench_train_step.py (forward, loss, backward, AdamW update on a random batch like
the demo recipe's); prints the median of each width and the ratio against the 1024 reference.

usage: python benchmarks/bench_encoder_ffn.py [--widths 256 1024] [--reference 1024] [--size 128]
                                              [--batch 8] [--runs 7] [--threads 2]
"""

import argparse

import torch

from bench_train_step import step_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--reference", type=int, default=1024)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    widths = sorted(set(args.widths) | {args.reference})
    seconds = {width: step_seconds(args.size, args.batch, args.runs, 1.0, (f"GREFBENCH.ENCODER_FEEDFORWARD={width}",))
               for width in widths}
    print(f"rela_tiny training step at {args.size}x{args.size}, batch {args.batch}, {args.threads} threads, "
          f"median of {args.runs}:")
    for width in widths:
        print(f"  encoder FFN {width}: {seconds[width]:.3f} s/step   {seconds[args.reference] / seconds[width]:.2f}x "
              f"vs {args.reference}")


if __name__ == "__main__":
    main()
