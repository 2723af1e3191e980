"""Where grefbench keeps what it can rebuild (ground-truth RLE, compiled kernels).

`GREFBENCH_CACHE_DIR` overrides the root; otherwise `$XDG_CACHE_HOME/grefbench` or `~/.cache/grefbench`.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache root directory (not created)."""
    override = os.environ.get("GREFBENCH_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "grefbench"
