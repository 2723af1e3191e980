"""`python -m grefbench.data.synth --out DIR ...`: generate gRefShapes (also how the shipped splits are made)."""

from __future__ import annotations

import argparse
import json
import sys

from grefbench.data.synth.attributes import SPLITS
from grefbench.data.synth.writer import DEFAULT_JPEG_QUALITY, generate
from grefbench.errors import GrefbenchError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grefbench.data.synth", description=__doc__)
    parser.add_argument("--out", required=True, help="data root to write (grefcoco/ and images/train2014/ go inside)")
    parser.add_argument("--train-images", type=int, default=1000, help="images in train (default 1000)")
    parser.add_argument("--eval-images", type=int, default=200, help="images in each of val, testA, testB (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", default=",".join(SPLITS), help=f"comma-separated, from {','.join(SPLITS)}")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--jpeg-quality", type=int, default=DEFAULT_JPEG_QUALITY)
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)

    def report(split: str, done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"{split}: {done}/{total} images", file=sys.stderr)

    try:
        summary = generate(
            arguments.out,
            train_images=arguments.train_images,
            eval_images=arguments.eval_images,
            seed=arguments.seed,
            splits=[split for split in arguments.splits.split(",") if split],
            image_size=arguments.image_size,
            jpeg_quality=arguments.jpeg_quality,
            progress=None if arguments.quiet else report,
        )
    except GrefbenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
