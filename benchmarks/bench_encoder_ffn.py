"""Seconds per `grefbench train` step of the demo model with the pixel decoder's deformable-encoder
FFN at rela_tiny's 256 against Mask2Former's hard-coded 1024 (why the preset sets 256).

Same step as bench_train_step.py (forward, loss, backward, AdamW update on a random batch like
the demo recipe's); prints the median of each width and the ratio against the 1024 reference.

usage: python benchmarks/bench_encoder_ffn.py [--widths 256 1024] [--reference 1024] [--size 128]
                                              [--batch 8] [--runs 7] [--threads 2] [--dice-weight 1]
"""

import argparse

from bench_train_step import add_step_arguments, compare_variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--reference", type=int, default=1024)
    parser.add_argument("--size", type=int, default=128)
    add_step_arguments(parser)
    args = parser.parse_args()
    widths = sorted(set(args.widths) | {args.reference})
    compare_variants("by encoder FFN width", {f"encoder FFN {width}": (f"GREFBENCH.ENCODER_FEEDFORWARD={width}",)
                                              for width in widths}, f"encoder FFN {args.reference}", args, args.size)


if __name__ == "__main__":
    main()
