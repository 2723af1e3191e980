"""`python -m grefbench` (also what `torchrun -m grefbench` runs)."""

from grefbench.cli import main

if __name__ == "__main__":
    main()
