"""The one mask codec of grefbench: COCO compressed RLE, on top of pycocotools' C core.

pycocotools' C decoder trusts its input: an unterminated run, a negative run or runs that do not
add up to h*w make it read or write past its buffers. Untrusted RLE therefore goes through
`check_counts` (a vectorised numpy parse of the whole batch) before any pycocotools call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from pycocotools import mask as _coco

# A run is encoded in 5-bit chunks; six chunks hold 30 bits, far above any real image (h*w < 2^29),
# and keep within what the C decoder shifts safely.
_MAX_CHUNKS = 6
_ALPHABET = bytes(range(48, 112))
_BLOCK_CHARS = 1 << 20


def encode(mask: np.ndarray) -> dict:
    """Encode a binary [H, W] mask as {"size": [h, w], "counts": str}."""
    if mask.ndim != 2:
        raise ValueError(f"expected a [H, W] mask, got shape {tuple(mask.shape)}")
    rle = _coco.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode(rle: dict) -> np.ndarray:
    """Decode one (already checked) RLE into a uint8 [H, W] mask."""
    return _coco.decode(_as_c(rle))


def empty(height: int, width: int) -> dict:
    """The RLE of an all-zero mask of the given size."""
    return encode(np.zeros((height, width), dtype=np.uint8))


def area(rles: Sequence[dict]) -> np.ndarray:
    """Foreground pixel counts of (already checked) RLEs, int64 [N]."""
    if not rles:
        return np.zeros(0, dtype=np.int64)
    return _coco.area([_as_c(r) for r in rles]).astype(np.int64)


def union(rles: Sequence[dict]) -> dict:
    """Pixel-wise OR of same-size RLEs (at least one)."""
    merged = _coco.merge([_as_c(r) for r in rles], intersect=0) if len(rles) > 1 else _as_c(rles[0])
    return _as_str(merged)


def intersection_areas(first: Sequence[dict], second: Sequence[dict]) -> np.ndarray:
    """|a AND b| for each pair of same-size RLEs, computed on the runs (no dense decoding)."""
    merge = _coco.merge
    intersections = [merge([_as_c(a), _as_c(b)], intersect=1) for a, b in zip(first, second, strict=True)]
    return area(intersections)


def _as_c(rle: dict) -> dict:
    counts = rle["counts"]
    if isinstance(counts, str):
        return {"size": rle["size"], "counts": counts.encode("ascii")}
    return rle


def _as_str(rle: dict) -> dict:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


@dataclass(frozen=True)
class CountsProblem:
    """Why the compressed counts of item `index` of a batch cannot be decoded."""

    index: int
    reason: str


def check_counts(counts: Sequence[bytes], pixels: Sequence[int]) -> CountsProblem | None:
    """Return the first item whose compressed counts are not a valid RLE of `pixels[i]` pixels.

    Checks, for the whole batch at once: characters in the alphabet ('0'..'o'), every run
    terminated, runs no longer than the decoder supports, no negative run, runs summing to h*w.
    """
    n = len(counts)
    expected = np.asarray(pixels, dtype=np.int64)
    lengths = np.fromiter(map(len, counts), dtype=np.int64, count=n)
    # Work in blocks of about _BLOCK_CHARS characters so the temporaries stay in cache.
    ends = np.cumsum(lengths)
    start = 0
    while start < n:
        stop = max(int(np.searchsorted(ends, ends[start] - lengths[start] + _BLOCK_CHARS, side="right")), start + 1)
        problem = _check_block(counts[start:stop], lengths[start:stop], expected[start:stop])
        if problem is not None:
            return CountsProblem(problem.index + start, problem.reason)
        start = stop
    return None


def _check_block(counts: Sequence[bytes], lengths: np.ndarray, expected: np.ndarray) -> CountsProblem | None:
    n = len(counts)
    joined = b"".join(counts)
    if joined.translate(None, _ALPHABET):
        index = next(i for i, c in enumerate(counts) if c.translate(None, _ALPHABET))
        return CountsProblem(index, "counts has a character outside the RLE alphabet '0'..'o'")
    blank = (lengths == 0) & (expected > 0)
    if blank.any():
        return CountsProblem(int(np.argmax(blank)), "counts is empty")
    if not joined:
        return None
    data = np.frombuffer(joined, dtype=np.uint8) - np.uint8(48)
    last_char = np.cumsum(lengths) - 1
    has_chars = lengths > 0
    unterminated = has_chars & ((data[np.maximum(last_char, 0)] & 0x20) != 0)
    if unterminated.any():
        return CountsProblem(int(np.argmax(unterminated)), "counts ends in the middle of a run (truncated RLE)")

    # A run ends at each character without the continuation bit; chunks are little-endian.
    run_last = np.flatnonzero((data & 0x20) == 0)
    chunks = np.diff(run_last, prepend=-1)
    runs_until = np.searchsorted(run_last, last_char, side="right")
    runs_per_item = np.diff(runs_until, prepend=0) * has_chars
    longest = int(chunks.max())
    if longest > _MAX_CHUNKS:
        owner = int(np.searchsorted(runs_until, np.argmax(chunks > _MAX_CHUNKS), side="right"))
        return CountsProblem(owner, "counts has a run too long to be a pixel count")
    top = data[run_last]
    value = (top & 0x1F).astype(np.int64)
    for step in range(1, longest):
        longer = np.flatnonzero(chunks > step)
        value[longer] = (value[longer] << 5) | (data[run_last[longer] - step] & 0x1F)
    negative = np.flatnonzero(top & 0x10)
    value[negative] -= np.int64(1) << (5 * chunks[negative])

    # Runs after the third are stored as differences to the run two places before (same parity):
    # each parity chain is a cumulative sum that restarts at every item.
    owner = np.repeat(np.arange(n), runs_per_item)
    first_run = runs_until - runs_per_item
    position = np.arange(value.size) - first_run[owner]
    odd = (position & 1).astype(bool)
    odd_values = np.where(odd, value, 0)
    even_values = value - odd_values
    even_values[first_run[runs_per_item > 0]] = 0
    runs = np.where(odd, _cumsum_within(odd_values, first_run, owner), _cumsum_within(even_values, first_run, owner))
    item_first = first_run[runs_per_item > 0]
    runs[item_first] = value[item_first]

    if (runs < 0).any():
        return CountsProblem(int(owner[np.argmax(runs < 0)]), "counts decodes to a negative run length (corrupt RLE)")
    totals = np.bincount(owner, weights=runs, minlength=n).astype(np.int64)
    wrong = totals != expected
    if wrong.any():
        index = int(np.argmax(wrong))
        return CountsProblem(
            index,
            f"counts covers {int(totals[index])} pixels, the mask size needs {int(expected[index])} (short or corrupt RLE)",
        )
    return None


def _cumsum_within(values: np.ndarray, first: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each item's first run."""
    total = np.cumsum(values)
    before = np.concatenate(([0], total))[first]
    return total - before[owner]
