"""Indexing a full-size gRefCOCO vs `json.load` of its two files (target: at most 2x).

Builds synthetic annotation files of gRefCOCO's size (~260k sentences, ~20k images, ~60k
annotations with COCO-like polygons), then times json.load of grefs(unc).json + instances.json
against grefbench's load_split (which parses both files and builds one record per sentence),
for the largest split (train) and for val. Medians of several runs, in one process.

usage: python benchmarks/bench_index.py [--workdir DIR] [--repeats 3]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_grefcoco import write_synthetic_grefcoco  # noqa: E402

from grefbench.data import load_split  # noqa: E402


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = (args.workdir or Path(tempfile.mkdtemp(prefix="grefbench-index-"))) / "data"
    refs_path = root / "grefcoco" / "grefs(unc).json"
    if not refs_path.exists():
        counts = write_synthetic_grefcoco(root, images=20000, annotations_per_image=3, sentences=260000)
        print(f"synthetic gRefCOCO: {counts}")
    instances_path = root / "grefcoco" / "instances.json"
    size = (refs_path.stat().st_size + instances_path.stat().st_size) / 1e6
    print(f"files: {size:.0f} MB")

    def json_load_both():
        with open(refs_path) as handle:
            json.load(handle)
        with open(instances_path) as handle:
            json.load(handle)

    baseline = median_time(json_load_both, args.repeats)
    print(f"json.load of both files      : {baseline:6.2f} s")
    for split in ("train", "val"):
        elapsed = median_time(lambda: load_split(root, "grefcoco", split, use_cache=False), args.repeats)
        sentences = len(load_split(root, "grefcoco", split, use_cache=False))
        print(f"load_split {split:5s} ({sentences:6d} sent.): {elapsed:6.2f} s   ratio to json.load {elapsed / baseline:4.2f}x")
        cached = median_time(lambda: load_split(root, "grefcoco", split), args.repeats)
        print(f"  same, index cache warm       : {cached:6.2f} s   ratio to json.load {cached / baseline:4.2f}x")


if __name__ == "__main__":
    main()
