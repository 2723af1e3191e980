"""Pausing Python's cyclic garbage collector around bulk work on large parsed JSON graphs.

Building 10^5 small objects next to a freshly parsed annotation file triggers full collections
that rescan millions of objects and find nothing to free (they doubled indexing and scoring time).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic GC inside the block; restore its previous state after.

    What the block made and still holds is frozen (left out of later collections): re-enabling
    the collector would otherwise start by scanning all of it once, for nothing. Frozen objects
    are still freed as soon as nothing refers to them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
