"""Evaluation protocols: the resolution at which ground truth and predictions are compared.

Papers disagree on resolution, so every grefbench output names its protocol.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from grefbench.errors import UsageError


@dataclass(frozen=True)
class Protocol:
    """A protocol fixes the mask size for an image of a given size."""

    name: str
    fixed_size: tuple[int, int] | None
    description: str

    def mask_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of ground-truth and predicted masks for an image of this size."""
        return self.fixed_size if self.fixed_size is not None else (height, width)


NATIVE = Protocol("native", None, "masks at each image's original size")
RELA480 = Protocol(
    "rela480",
    (480, 480),
    "the official ReLA protocol: polygons scaled to 480x480 without keeping the aspect ratio, "
    "rasterised at 480x480 (detectron2 Resize((480, 480)))",
)

REFZOM480 = Protocol(
    "refzom480",
    (480, 480),
    "the official Ref-ZOM protocol (RIS-DMMI test.py): the mask rasterised at the image size, resized to "
    "480x480 with PIL NEAREST; Ref-ZOM only",
)
RREFCOCO480 = Protocol(
    "rrefcoco480",
    (480, 480),
    "the official R-RefCOCO protocol (robust-ref-seg utils/validation.py): the mask rasterised at the image "
    "size, resized to 480x480 with PIL NEAREST; R-RefCOCO, R-RefCOCO+ and R-RefCOCOg only",
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (NATIVE, RELA480, REFZOM480, RREFCOCO480)}

# The protocol each zero-target benchmark is scored in (their own code fixes it); no other dataset uses them.
BENCHMARK_PROTOCOLS = {"refzom": "refzom480", "rrefcoco": "rrefcoco480"}


def get_protocol(name: str) -> Protocol:
    """Look a protocol up by name; an unknown name lists the choices."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PROTOCOLS, n=1)
        hint = f" Did you mean: {close[0]}?" if close else ""
        raise UsageError(f"Unknown protocol {name!r}.{hint} Available: {', '.join(PROTOCOLS)}") from None
