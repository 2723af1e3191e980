"""A long fuzzing run of tests/test_fuzz_inputs.py: many more examples, fresh random ones each run.

CI runs 25 fixed examples per input kind; this runs N random ones (prediction files, annotation
files, submission folders), with the same property: exit 0 with a result or exit 2 with one error
line, nothing left behind, memory under RLIMIT_AS. A failure prints the shrunk input.

usage: python benchmarks/fuzz_inputs.py [--examples 2000] [-k prediction_files]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per input kind")
    parser.add_argument("-k", default=None, help="only the tests whose name matches (pytest -k)")
    args = parser.parse_args()
    env = dict(os.environ, GREFBENCH_FUZZ_EXAMPLES=str(args.examples), GREFBENCH_FUZZ_RANDOM="1")
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/test_fuzz_inputs.py"]
    if args.k:
        command += ["-k", args.k]
    raise SystemExit(subprocess.call(command, env=env, cwd=Path(__file__).resolve().parent.parent))


if __name__ == "__main__":
    main()
