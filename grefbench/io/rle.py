"""The one mask codec of grefbench: COCO compressed RLE, on top of pycocotools' C core.

pycocotools' C decoder trusts its input: an unterminated run, a negative run or runs that do not
add up to h*w make it read or write past its buffers. Untrusted RLE therefore goes through
`check_counts` (a vectorised numpy parse of the whole batch) before any pycocotools call.

Masks held in memory (ground truth, parsed predictions) keep their counts as bytes, the form
pycocotools takes, so scoring never converts; `encode` gives str counts, the form JSON holds.
Every function here accepts either.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from pycocotools import mask as _coco

# A run is encoded in 5-bit chunks; six chunks hold 30 bits, far above any real image (h*w < 2^29),
# and keep within what the C decoder shifts safely.
_MAX_CHUNKS = 6
_ALPHABET = bytes(range(48, 112))
_BLOCK_CHARS = 1 << 16


def encode(mask: np.ndarray) -> dict:
    """Encode a binary [H, W] mask as {"size": [h, w], "counts": str}."""
    if mask.ndim != 2:
        raise ValueError(f"expected a [H, W] mask, got shape {tuple(mask.shape)}")
    rle = _coco.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode(rle: dict) -> np.ndarray:
    """Decode one (already checked) RLE into a uint8 [H, W] mask."""
    return _coco.decode(as_bytes(rle))


def empty(height: int, width: int) -> dict:
    """The RLE (bytes counts) of an all-zero mask of the given size (encoded once per size)."""
    return {"size": [height, width], "counts": _empty_counts(height, width)}


@functools.lru_cache(maxsize=64)
def _empty_counts(height: int, width: int) -> bytes:
    return encode(np.zeros((height, width), dtype=np.uint8))["counts"].encode("ascii")


# pycocotools' area() stores the batch size in a uint8 array, which numpy 2 refuses above 255.
_AREA_BATCH = 255


def area(rles: Sequence[dict]) -> np.ndarray:
    """Foreground pixel counts of (already checked) RLEs, int64 [N]."""
    converted = [as_bytes(r) for r in rles]
    parts = [_coco.area(converted[i:i + _AREA_BATCH]) for i in range(0, len(converted), _AREA_BATCH)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def union(rles: Sequence[dict]) -> dict:
    """Pixel-wise OR of same-size RLEs (at least one), with bytes counts."""
    if len(rles) == 1:
        return as_bytes(rles[0])
    merged = _coco.merge([as_bytes(r) for r in rles], intersect=0)
    return {"size": [int(merged["size"][0]), int(merged["size"][1])], "counts": merged["counts"]}


def intersection_areas(first: Sequence[dict], second: Sequence[dict]) -> np.ndarray:
    """|a AND b| for each pair of same-size RLEs, computed on the runs (no dense decoding)."""
    merge = _coco.merge
    intersections = [merge([as_bytes(a), as_bytes(b)], intersect=1) for a, b in zip(first, second, strict=True)]
    return area(intersections)


def pack(rles: Sequence[dict]) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Many RLEs as flat buffers: sizes int64 [N, 2], offsets int64 [N + 1], the joined counts."""
    counts = [as_bytes(r)["counts"] for r in rles]
    sizes = np.array([r["size"] for r in rles], dtype=np.int64).reshape(-1, 2)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, counts), dtype=np.int64, count=len(counts)), out=offsets[1:])
    return sizes, offsets, b"".join(counts)


def unpack(sizes: np.ndarray, offsets: np.ndarray, joined: bytes) -> list[dict]:
    """The RLEs (bytes counts) that `pack` flattened."""
    bounds = offsets.tolist()
    return [{"size": size, "counts": joined[start:stop]}
            for size, start, stop in zip(sizes.tolist(), bounds[:-1], bounds[1:])]


def as_bytes(rle: dict) -> dict:
    """The same RLE with bytes counts (itself when they already are)."""
    counts = rle["counts"]
    if isinstance(counts, str):
        return {"size": rle["size"], "counts": counts.encode("ascii")}
    return rle


def as_str(rle: dict) -> dict:
    """The same RLE with str counts, as JSON holds it."""
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
    unterminated = has_chars & (data[np.maximum(last_char, 0)] >= 32)
    if unterminated.any():
        return CountsProblem(int(np.argmax(unterminated)), "counts ends in the middle of a run (truncated RLE)")
    # A run ends at each character without the continuation bit (values < 32); chunks are little-endian.
    run_last = np.flatnonzero(data < 32)
    runs_until = np.searchsorted(run_last, last_char, side="right")
    runs_per_item = np.diff(runs_until, prepend=0) * has_chars
    chunks = np.diff(run_last, prepend=-1)
    top = data[run_last]
    value = (top & 0x0F).astype(np.int64) - (top & 0x10).astype(np.int64)
    longer = np.flatnonzero(chunks > 1)
    step = 1
    while longer.size:
        if step >= _MAX_CHUNKS:
            owner = int(np.searchsorted(runs_until, longer[0], side="right"))
            return CountsProblem(owner, "counts has a run too long to be a pixel count")
        value[longer] = (value[longer] << 5) | (data[run_last[longer] - step] & 0x1F)
        step += 1
        longer = longer[chunks[longer] > step]
    # Runs after the third are differences to the run two places before: each parity chain is a
    # cumulative sum restarting at every item (the first run stands alone).
    first_run = runs_until - runs_per_item
    starts = first_run[runs_per_item > 0]
    flip = np.repeat((first_run & 1).astype(bool), runs_per_item)
    odd = np.zeros(value.size, dtype=bool)
    odd[1::2] = True
    odd ^= flip
    odd_values = np.where(odd, value, 0)
    even_values = value - odd_values
    even_values[starts] = 0
    odd_sum = np.cumsum(odd_values)
    even_sum = np.cumsum(even_values)
    base_odd = np.repeat(np.concatenate(([0], odd_sum))[first_run], runs_per_item)
    base_even = np.repeat(np.concatenate(([0], even_sum))[first_run], runs_per_item)
    runs = np.where(odd, odd_sum - base_odd, even_sum - base_even)
    runs[starts] = value[starts]
    if (runs < 0).any():
        index = int(np.searchsorted(runs_until, np.argmax(runs < 0), side="right"))
        return CountsProblem(index, "counts decodes to a negative run length (corrupt RLE)")
    totals = np.add.reduceat(runs, np.minimum(first_run, runs.size - 1)) * (runs_per_item > 0)
    wrong = totals != expected
    if wrong.any():
        index = int(np.argmax(wrong))
        return CountsProblem(index, f"counts covers {int(totals[index])} pixels, the mask size needs {int(expected[index])} (short or corrupt RLE)")
    return None

