"""torch.distributed for `torchrun ... -m grefbench eval`: set up from the environment, gather, tear down.

Without torchrun (no WORLD_SIZE, or 1) everything degrades to a single process.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class Context:
    """This process's place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


@contextlib.contextmanager
def process_group(device_kind: str) -> Iterator[Context]:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA); leave it on exit."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        yield Context()
        return
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if device_kind == "cuda":
        import torch

        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    try:
        yield Context(rank, world_size, local_rank)
        # Leave together: a rank that tears gloo down while its peer is still finishing the last
        # collective can abort at interpreter exit ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()


def gather_to_main(context: Context, value: Any) -> list[Any] | None:
    """Every rank's `value`, in rank order, on rank 0 (None elsewhere)."""
    if not context.active:
        return [value]
    import torch.distributed as dist

    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered if context.is_main else None


def broadcast_from_main(context: Context, value: Any) -> Any:
    """Rank 0's `value` on every rank (used to share a failure so all ranks stop together)."""
    if not context.active:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(context: Context) -> None:
    if context.active:
        import torch.distributed as dist

        dist.barrier()
