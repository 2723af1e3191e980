"""Hypothesis strategies that mutate valid input files, and the property every command must keep.

The property, for every input: exit code 0 with its result, or exit code 2 with one `error:` line and
no traceback; a failed command leaves no file behind; memory stays under a limit (RLIMIT_AS, set
around each run). Shared by tests/test_fuzz_inputs.py (a few dozen examples, for CI) and
benchmarks/fuzz_inputs.py (thousands). Box files (grefbench-boxes/1) are not fuzzed yet.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import os
import resource
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from grefbench.cli import main

MEMORY_HEADROOM_MB = 1024

# Values that have broken parsers before: huge and boundary integers, markup, control characters,
# strings where numbers belong, sizes that overflow products.
SPECIAL = st.sampled_from([
    0, -1, 1, 1 << 31, 1 << 32, (1 << 63) - 1, 1 << 63, 1 << 64, 10 ** 30, -(1 << 63) - 1, 1e308, -1e308, 0.5,
    1e9, "12", "", "[bold]x[/bold]", "[link=http://x]y[/link]", "\x1b[2J", "\u202e", "\x00", "a" * 5000,
    [1 << 32, 1 << 32], [0, 5], [30000, 30000], [1, 2, 3], {"size": [41, 61], "counts": "0"},
    {"size": [1 << 15, 1 << 15], "counts": "P" * 40}, [[1, 1, 1e9, 1, 5, 5]], [[1, 1, "12", 1, 5, 5]],
    {"size": [41, 61], "counts": [10, 1 << 40]}, "native", "rela480", "grefcoco", "val", True, False, None,
])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), SPECIAL)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                           max_size=4), max_leaves=8)
ENCODINGS = ("json", "json", "json", "bom", "gzip", "truncate", "flip", "utf16", "gzip-truncate", "deep")


def _children(value: Any) -> list:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list):
        return list(range(len(value)))
    return []


@st.composite
def mutated(draw: st.DrawFn, document: Any, max_mutations: int = 3) -> Any:
    """A deep copy of `document` with 1..max_mutations edits: set, delete, deepen or repeat a value."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, max_mutations))):
        parent, key = None, None
        node = document
        while _children(node) and (draw(st.booleans()) or draw(st.booleans())):  # deep paths too
            parent, key = node, draw(st.sampled_from(_children(node)))
            node = node[key]
        if parent is None:
            continue
        action = draw(st.sampled_from(["set", "set", "delete", "deepen", "repeat"]))
        if action == "set":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "deepen":
            for _ in range(draw(st.integers(1, 200))):
                node = [node]
            parent[key] = node
        elif isinstance(parent, list):
            parent.extend([parent[key]] * draw(st.integers(1, 3)))
    return document


@st.composite
def encoded(draw: st.DrawFn, document: Any) -> bytes:
    """The document's bytes as a file might hold them: JSON, with a BOM, gzipped, damaged, UTF-16..."""
    data = json.dumps(document).encode()
    kind = draw(st.sampled_from(ENCODINGS))
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "flip":
        index = draw(st.integers(0, len(data) - 1))
        return data[:index] + bytes([draw(st.integers(0, 255))]) + data[index + 1:]
    if kind == "utf16":
        return json.dumps(document).encode("utf-16")
    if kind == "gzip-truncate":
        packed = gzip.compress(data)
        return packed[: draw(st.integers(2, len(packed) - 1))]
    if kind == "deep":
        depth = draw(st.sampled_from([100, 1100, 100_000]))
        return b"[" * depth + b"]" * depth
    return data


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def _virtual_memory() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def memory_limit(headroom_mb: int = MEMORY_HEADROOM_MB):
    """Cap this process's address space at its current size plus `headroom_mb` for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _virtual_memory() + (headroom_mb << 20)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run(args: list) -> tuple[int, str, str]:
    """`grefbench ARGS` in this process (as the console script runs it), under the memory limit."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), memory_limit():
        try:
            main([str(a) for a in args])
        except SystemExit as exit:
            code = exit.code
    return code, out.getvalue(), err.getvalue()


def check(args: list, outputs: Path, *, result: Path | None = None) -> tuple[int, str]:
    """Run a command and assert the property; returns (exit code, stderr)."""
    before = snapshot(outputs)
    code, _, err = run(args)
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err[-3000:])
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning")]
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
        assert snapshot(outputs) == before, (snapshot(outputs) - before, err)
    elif result is not None:
        assert result.exists(), err
    return code, err


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        os.remove(path)
    path.write_bytes(data)
    return path
