"""Bounds on untrusted input: how much a file may inflate to, and every number taken from a file.

Everything a file says passes here before it sizes an allocation or reaches C code (pycocotools
trusts its input). Each check returns the value or raises `Refused` with the reason; the caller
adds where (file, annotation, sent_id) and raises its typed error.

The size cap applies to a file's bytes and to what a gzip inflates to: `GREFBENCH_MAX_INPUT_MB`
(default 1024). Parsed JSON takes a few times its size in memory (docs/hostile-input.md).
"""

from __future__ import annotations

import math
import os
import re
import stat
import zlib
from typing import Any

from grefbench.errors import UsageError, shown

MAX_INPUT_ENV = "GREFBENCH_MAX_INPUT_MB"
DEFAULT_MAX_INPUT_MB = 1024
# An image side: far above any dataset's images (COCO: 640), far below what makes h*w overflow.
MAX_SIDE = 1 << 15
# Pixels of one mask: 16384 x 16384; pycocotools counts runs in 32 bits, our RLE check in 30.
MAX_PIXELS = 1 << 28
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# Metadata objects (model, provenance) nest this deep at most; real ones nest 2 or 3 levels.
MAX_NESTING = 32
# A polygon vertex may lie this many image sides beyond the image (real ones stray a pixel or two).
POLYGON_MARGIN = 1.0
_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_BLOCK = 1 << 24


class Refused(ValueError):
    """An input refused by a bound; the message says which bound and how to change it when one can."""


def max_input_bytes() -> int:
    """The cap on an input's size, plain or inflated (GREFBENCH_MAX_INPUT_MB, default 1024 MB)."""
    text = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_INPUT_MB << 20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        raise UsageError(f"{MAX_INPUT_ENV}={text!r} must be a positive number of megabytes")
    return int(megabytes * (1 << 20))


def _too_large(what: str, size: int | None, limit: int, settable: bool) -> Refused:
    how = f" (set {MAX_INPUT_ENV} to raise it)" if settable else ""
    amount = f"is {size / (1 << 20):,.1f} MB, over" if size is not None else "passes"
    return Refused(f"{what} {amount} the limit of {limit / (1 << 20):,.0f} MB{how}")


def read_input(path: str | os.PathLike, *, limit: int | None = None, inflate: bool = True) -> bytes | bytearray:
    """The bytes of a regular file (gzip inflated when `inflate`), at most `limit` bytes either way.

    A FIFO, device or socket is refused without blocking (opened non-blocking, then checked). Raises
    OSError as `open` does (FileNotFoundError, IsADirectoryError, PermissionError) or Refused.
    The file is noted as an input, so no output of this command can replace it.
    """
    from grefbench.io.atomic import note_input

    settable = limit is None
    limit = max_input_bytes() if limit is None else limit
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(21, "Is a directory", os.fspath(path))
        if not stat.S_ISREG(status.st_mode):
            raise Refused("is not a regular file (a FIFO, device or socket); give a file")
        if status.st_size > limit:
            raise _too_large("the file", status.st_size, limit, settable)
        note_input(path, status)
        data = _read_capped(handle, limit, status.st_size)
    if len(data) > limit:
        raise _too_large("the file", None, limit, settable)
    if inflate and data[:2] == _GZIP_MAGIC:
        data = _inflate(data, limit, settable)
    return data


def _read_capped(stream: Any, limit: int, expected: int) -> bytes:
    """Read to the end or to one byte past `limit`, in blocks (`read(n)` allocates n bytes at once)."""
    first = stream.read(min(expected, limit) + 1) if expected else b""
    if expected and len(first) <= expected:
        return first  # the usual case: one read of the size the file says it has
    chunks, total = [first], len(first)
    while total <= limit:
        chunk = stream.read(min(1 << 24, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _inflate(data: bytes, limit: int, settable: bool) -> bytearray:
    """Inflate every gzip member, refusing as soon as the output passes `limit` (the trailer's size
    field cannot be trusted). A bytearray: grown in place, and orjson parses it without a copy."""
    inflated = bytearray()
    pending = data
    try:
        while pending:
            member = zlib.decompressobj(wbits=31)
            while not member.eof:
                chunk = member.decompress(pending, _INFLATE_BLOCK)
                pending = member.unconsumed_tail
                if not chunk and not pending:
                    raise Refused("gzip stream is truncated or corrupt")
                inflated += chunk
                if len(inflated) > limit:
                    raise _too_large("the gzip stream inflates and", None, limit, settable)
            pending = member.unused_data
            if not pending.strip(b"\0"):  # gzip allows zero padding after the last member
                break
    except zlib.error:
        raise Refused("gzip stream is truncated or corrupt") from None
    return inflated


def integer(value: Any, what: str, *, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """`value` if it is an integer (not a bool) in [low, high]."""
    if type(value) is int and low <= value <= high:
        return value
    integral = type(value) is int or (type(value) is float and math.isfinite(value) and value.is_integer())
    if integral and not low <= value <= high:  # JSON parsers turn integers past 2^64 into floats
        raise Refused(f"{what} must be an integer in [{low}, {high}], found {shown(value)}")
    raise Refused(f"{what} must be an integer, found {shown(value)}")


def text(value: Any, what: str) -> str:
    """A string that UTF-8 can hold (a pickle can carry lone surrogates, which no output can write)."""
    if not isinstance(value, str):
        raise Refused(f"{what} must be text, found {shown(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(f"{what} is not valid text (it holds a lone surrogate): {shown(value)}") from None
    return value


def side(value: Any, what: str) -> int:
    """An image or mask side: an integer in [1, MAX_SIDE]."""
    return integer(value, what, low=1, high=MAX_SIDE)


def mask_size(size: Any, what: str = "mask 'size'") -> tuple[int, int]:
    """[height, width] of a mask: two sides whose product is at most MAX_PIXELS."""
    if not isinstance(size, list) or len(size) != 2:
        raise Refused(f"{what} must be [height, width] with positive integers, found {shown(size)}")
    height, width = (side(v, what) for v in size)
    if height * width > MAX_PIXELS:
        raise Refused(f"{what} {size} has {height * width:,} pixels, more than the {MAX_PIXELS:,} grefbench handles")
    return height, width


def nesting(value: Any, what: str, limit: int = MAX_NESTING) -> None:
    """Refuse a JSON value nested deeper than `limit` (checked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                raise Refused(f"{what} is nested more than {limit} levels deep")
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))


def polygon(coordinates: list, height: int, width: int) -> None:
    """Every coordinate a finite number within POLYGON_MARGIN image sides of the image."""
    for index, value in enumerate(coordinates):
        if type(value) not in (int, float):
            raise Refused(f"polygon coordinate #{index} is {shown(value)}, not a number")
        extent = width if index % 2 == 0 else height
        if not (-POLYGON_MARGIN * extent <= value <= (1 + POLYGON_MARGIN) * extent):
            axis = "x" if index % 2 == 0 else "y"
            raise Refused(f"polygon coordinate #{index} ({axis} = {shown(value)}) is far outside the "
                          f"{width}x{height} image")


def run_lengths(counts: Any, pixels: int) -> None:
    """An uncompressed RLE: non-negative integer runs adding up to exactly `pixels`."""
    if not isinstance(counts, list) or any(type(c) is not int or c < 0 for c in counts):
        raise Refused("uncompressed RLE 'counts' must be a list of non-negative integers")
    if sum(counts) != pixels:
        raise Refused(f"uncompressed RLE 'counts' covers {sum(counts)} pixels, the image has {pixels}")


def file_name_part(name: str) -> str:
    """`name` (a split, a dataset, from a file) made safe inside a cache file name: no '/', no '..'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name.replace("+", "plus"))[:64]
