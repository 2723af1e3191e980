"""Peak memory of `grefbench score` per MB of prediction file: the figure docs/hostile-input.md quotes.

Builds synthetic gRefCOCO-format data at a few sizes (bench_scoring.py's generator and
predictions), scores each (warm cache, one process: --quiet, jobs as the machine gives), and prints
file size, the peak RSS of `score` (the file plus the split's ground truth, which grows with it
here) and of `validate` (the file alone), and the slopes in MB per MB.

usage: python benchmarks/bench_input_memory.py [--sentences 4000 16000] [--workdir DIR]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import write_predictions  # noqa: E402
from synthetic_grefcoco import write_synthetic_grefcoco  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, nargs="+", default=[4000, 16000])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="grefbench-memory-"))
    rows = []
    for sentences in sorted(args.sentences):
        folder = workdir / str(sentences)
        predictions = folder / "predictions.json"
        if not predictions.exists():
            write_synthetic_grefcoco(folder / "data", images=max(sentences // 3, 10), annotations_per_image=4,
                                     sentences=sentences, split_shares={"val": 1.0})
            write_predictions(folder / "data", predictions)
        env = dict(os.environ, GREFBENCH_CACHE_DIR=str(folder / "cache"))
        command = [sys.executable, "-m", "grefbench", "score", str(predictions), "--data-root", str(folder / "data"),
                   "--quiet"]
        subprocess.run(command, check=True, capture_output=True, env=env)  # warm the caches
        # Each measurement in a fresh interpreter, so RUSAGE_CHILDREN holds only that run.
        probe = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],check=True,capture_output=True);"
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024)")
        peaks = [float(subprocess.run([sys.executable, "-c", probe, *run], env=env, check=True, capture_output=True,
                                      text=True).stdout)
                 for run in (command, [sys.executable, "-m", "grefbench", "validate", str(predictions)])]
        size = predictions.stat().st_size / (1 << 20)
        rows.append((sentences, size, *peaks))
        print(f"{sentences:7d} sentences  file {size:8.1f} MB  peak RSS: score {peaks[0]:6.0f} MB "
              f"({peaks[0] / size:5.1f} MB per MB), validate {peaks[1]:6.0f} MB ({peaks[1] / size:5.1f} MB per MB)")
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        for column, name in ((2, "score"), (3, "validate")):
            slope = (last[column] - first[column]) / (last[1] - first[1])
            print(f"{name}: {slope:.1f} MB of memory per MB of prediction file "
                  f"(plus {first[column] - slope * first[1]:.0f} MB)")

if __name__ == "__main__":
    main()
