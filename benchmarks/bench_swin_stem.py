"""Seconds per `grefbench train` step of the demo model with the opt-in convolutional Swin stem
(`GREFBENCH.SWIN_STEM=conv`) against the official patchify stem: what the stem costs.

Same step as bench_train_step.py (forward, loss, backward, AdamW update on a random batch like
the demo recipe's); prints the median of each stem and the ratio against the patchify reference.

usage: python benchmarks/bench_swin_stem.py [--size 128] [--batch 8] [--runs 7] [--threads 2] [--dice-weight 1]
"""

from bench_train_step import variants_main


def main() -> None:
    variants_main(__doc__.splitlines()[0], "by Swin stem",
                  {f"{stem} stem": (f"GREFBENCH.SWIN_STEM={stem}",) for stem in ("patch", "conv")}, "patch stem")


if __name__ == "__main__":
    main()
