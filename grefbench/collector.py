"""Pausing Python's cyclic garbage collector around bulk work on large parsed JSON graphs.

Building 10^5 small objects next to a freshly parsed annotation file triggers full collections
that rescan millions of objects and find nothing to free (they doubled indexing and scoring time).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """Disable the cyclic GC inside the block; restore its previous state after.

    With `freeze` (for a command that ends soon after), everything alive on exit is moved out of
    later collections, which would otherwise rescan it all once for nothing; frozen objects are
    still freed when nothing refers to them, but a frozen cycle is never collected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
