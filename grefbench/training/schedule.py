"""Learning-rate schedule: linear warm-up, then cosine or polynomial decay to a floor."""

from __future__ import annotations

import math

DECAYS = ("cosine", "poly", "constant")


def learning_rate_factor(step: int, *, total: int, warmup: int, decay: str = "cosine", floor: float = 0.01,
                         power: float = 0.9) -> float:
    """Multiplier of the base learning rate at `step` (0-based) of `total` steps."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    if decay == "cosine":
        shape = 0.5 * (1 + math.cos(math.pi * progress))
    elif decay == "poly":
        shape = (1 - progress) ** power
    elif decay == "constant":
        shape = 1.0
    else:
        raise ValueError(f"unknown decay {decay!r}")
    return floor + (1 - floor) * shape
