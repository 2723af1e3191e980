"""`python -m grefbench.data.synth ...` is `grefbench data synth ...` (how the shipped splits are made)."""

import sys

from grefbench.cli import main

if __name__ == "__main__":
    main(["data", "synth", *sys.argv[1:]])
