"""Work split into fixed shards of sentences, each saved when done, so a killed run resumes.

The sentence order (by image, then split order) and the shard and batch boundaries depend only on
the split and the batch/shard sizes, never on the number of processes: every batch is the same in
a single process and under torchrun, so the outputs are identical.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grefbench.data.split import ReferSplit
from grefbench.errors import UsageError
from grefbench.io.atomic import write_bytes, write_text

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Shard `number`: positions (into split.records) in processing order, cut into batches."""

    number: int
    positions: tuple[int, ...]
    batches: tuple[tuple[int, ...], ...]


def plan_shards(split: ReferSplit, shard_size: int, batch_size: int) -> list[Shard]:
    """Fixed shards of `shard_size` sentences, sorted by image so batches share decoded images."""
    order = sorted(range(len(split.records)), key=lambda i: (split.records[i].image_id, i))
    shards = []
    for number, start in enumerate(range(0, len(order), shard_size)):
        positions = tuple(order[start:start + shard_size])
        batches = tuple(positions[i:i + batch_size] for i in range(0, len(positions), batch_size))
        shards.append(Shard(number, positions, batches))
    return shards


def run_key(settings: dict[str, Any]) -> str:
    """A digest of everything that determines the outputs."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class ShardStore:
    """The shard files of one run under OUT/shards/, with the run's settings in run.json."""

    def __init__(self, out_dir: Path, settings: dict[str, Any], restart: bool = False):
        self.directory = Path(out_dir) / "shards"
        self.settings = settings
        self.key = run_key(settings)
        manifest = self.directory / "run.json"
        if manifest.is_file():
            try:
                stored = json.loads(manifest.read_text()).get("key")
            except (OSError, ValueError):
                stored = None
            if stored != self.key:
                if not restart:
                    raise UsageError(
                        f"{self.directory} holds shards of a run with other settings (model, weights, data, "
                        "protocol, batch size or precision differ); use another --out or pass --restart"
                    )
                shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        if not manifest.is_file():
            write_text(manifest, json.dumps({"key": self.key, "settings": settings}, indent=2, default=str))

    def path(self, shard: Shard) -> Path:
        return self.directory / f"shard-{shard.number:06d}.json.gz"

    def load(self, shard: Shard, split: ReferSplit) -> list[dict] | None:
        """The saved entries of `shard`, or None when it is not done (or its file is damaged)."""
        path = self.path(shard)
        if not path.is_file():
            return None
        try:
            entries = json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, EOFError, zlib.error, ValueError):
            logger.warning("shard file %s is damaged; computing it again", path)
            return None
        expected = [split.records[p].sent_id for p in shard.positions]
        if [e.get("sent_id") for e in entries] != expected:
            logger.warning("shard file %s does not match its sentences; computing it again", path)
            return None
        return entries

    def save(self, shard: Shard, entries: list[dict]) -> None:
        write_bytes(self.path(shard), gzip.compress(json.dumps(entries, separators=(",", ":")).encode(), mtime=0))
