"""Where the shipped gRefShapes splits (val, testA, testB) live inside the installed package.

They are made, from the repository root, by
    grefbench data synth --out grefbench/resources/grefshapes --images 0 --eval-images 200 \
        --splits val,testA,testB
(seed 0, 256x256, JPEG quality 70: the defaults), and tests/data/synth/test_synth_shipped.py
regenerates some of them to prove the files still are what the code makes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from grefbench.errors import DatasetError

RESOURCE_PARTS = ("resources", "grefshapes")


def resources_root() -> Path:
    """The data root of the shipped gRefShapes splits (holds grefcoco/ and images/train2014/)."""
    location = resources.files("grefbench")
    for part in RESOURCE_PARTS:
        location = location.joinpath(part)
    root = Path(str(location))
    if not (root / "grefcoco" / "instances.json").is_file():
        raise DatasetError(
            f"the shipped gRefShapes data is missing from {root} (a broken install?); "
            "regenerate it with: grefbench data synth --out <DIR> --images 0 --eval-images 200 "
            "--splits val,testA,testB"
        )
    return root
