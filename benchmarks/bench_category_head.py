"""Seconds per `grefbench train` step of the demo model with the auxiliary category head
(`GREFBENCH.CATEGORY_CLASSES=7`, trained at --category-weight 1) on the backbone or on the mask
features, against no head: what `GREFBENCH.CATEGORY_FEATURES` costs.

Same step as bench_train_step.py (forward, loss, backward, AdamW update on a random batch like
the demo recipe's); prints the median of each variant and the ratio against the model without a head.

usage: python benchmarks/bench_category_head.py [--size 128] [--batch 8] [--runs 7] [--threads 2] [--dice-weight 1]
"""

from bench_train_step import variants_main


def main() -> None:
    head = "GREFBENCH.CATEGORY_CLASSES=7"
    variants = {
        "no head": (),
        "head on the backbone": (head, "GREFBENCH.CATEGORY_FEATURES=backbone"),
        "head on the mask features": (head, "GREFBENCH.CATEGORY_FEATURES=mask"),
    }
    variants_main(__doc__.splitlines()[0], "by category head", variants, "no head")


if __name__ == "__main__":
    main()
