"""Just-in-time build and loading of the compiled kernels (torch.utils.cpp_extension + ninja).

The C++ and CUDA sources ship inside the package (`grefbench._kernels`, the repository's
`kernels/` folder). They are compiled on first use into a cache folder keyed by a hash of the
sources, the build flags, torch, Python and the device kind, so an upgrade never loads a stale
library: `<cache root>/kernels/<device>-<hash>/`, the root being `grefbench.cache.cache_root()`
(`$GREFBENCH_CACHE_DIR`, default `~/.cache/grefbench`). When torch sees a GPU the library holds
the CPU and the CUDA kernels, otherwise only the CPU ones.

Concurrent processes are safe: an advisory lock (`flock`, released by the kernel even when a
process dies) serialises builds of one folder, and a `build.json` written atomically after a
successful build marks the library as complete; loading a completed library needs no compiler.
Loading registers the operators `torch.ops.grefbench.ms_deform_attn_forward/backward`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from grefbench.cache import cache_root
from grefbench.errors import GrefbenchError
from grefbench.io.atomic import write_text

logger = logging.getLogger(__name__)

_MARKER = "build.json"
_SOURCES = {
    "cpu": ("ms_deform_attn/binding.cpp", "ms_deform_attn/ms_deform_attn_cpu.cpp"),
    "cuda": (
        "ms_deform_attn/binding.cpp",
        "ms_deform_attn/ms_deform_attn_cpu.cpp",
        "ms_deform_attn/ms_deform_attn_cuda.cpp",
        "ms_deform_attn/ms_deform_attn_cuda.cu",
    ),
}
_HEADERS = (
    "ms_deform_attn/bilinear_sampling.h",
    "ms_deform_attn/ms_deform_attn.h",
    "ms_deform_attn/ms_deform_attn_cuda.h",
)


class KernelBuildError(GrefbenchError):
    """The compiled kernels cannot be built or loaded here (no compiler, no CUDA, a failed build)."""


@dataclass(frozen=True)
class BuildResult:
    """Where a kernel library is and how it got there."""

    device: str  # "cpu" or "cuda": what the library was built for
    library: Path
    compiled: bool  # False when a finished build was found in the cache
    seconds: float  # wall time of this call (compiling or loading)


_lock = threading.Lock()
_loaded: dict[str, BuildResult] = {}
_failures: dict[str, str] = {}
_warned: set[str] = set()


def kernel_source_dir() -> Path:
    """The folder holding the kernel sources: `grefbench/_kernels` in an installed wheel, else the checkout's `kernels/`.

    The sources are package data without an `__init__.py`, so no folder of the checkout is
    importable as `kernels` (the name of a PyPI package that transformers imports).
    """
    packaged = Path(__file__).resolve().parents[1] / "_kernels"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "kernels"


def build_device() -> str:
    """The device kind a build here targets: "cuda" when torch (a CUDA build) sees a GPU, else "cpu"."""
    return "cuda" if torch.version.cuda is not None and torch.cuda.is_available() else "cpu"


def _uses_openmp() -> bool:
    # at::parallel_for only runs threads in our code when it is compiled with the same OpenMP as torch.
    return sys.platform.startswith("linux") and "parallel backend: OpenMP" in torch.__config__.parallel_info()


def _flags(device: str) -> dict[str, list[str]]:
    openmp = ["-fopenmp"] if _uses_openmp() else []
    flags = {"cflags": ["-O3", *openmp], "ldflags": list(openmp), "cuda_cflags": []}
    if device == "cuda":
        flags["cuda_cflags"] = ["-O3"]
    return flags


def _fingerprint(device: str) -> dict[str, object]:
    fingerprint: dict[str, object] = {
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": f"{sys.implementation.name}{sys.version_info.major}{sys.version_info.minor}",
        "machine": platform.machine(),
        "compiler": os.environ.get("CXX", "c++"),
        "flags": _flags(device),
    }
    if device == "cuda":
        fingerprint["arch"] = os.environ.get("TORCH_CUDA_ARCH_LIST") or sorted(
            {torch.cuda.get_device_capability(index) for index in range(torch.cuda.device_count())}
        )
    return fingerprint


def build_key(device: str) -> str:
    """Hash of everything that changes the compiled library for `device`."""
    digest = hashlib.sha256(json.dumps(_fingerprint(device), sort_keys=True).encode())
    root = kernel_source_dir()
    for relative in sorted({*_SOURCES[device], *_HEADERS}):
        digest.update(relative.encode())
        try:
            digest.update((root / relative).read_bytes())
        except OSError as error:
            raise KernelBuildError(
                f"kernel source {root / relative} is missing or unreadable ({error}); reinstall grefbench"
            ) from error
    return digest.hexdigest()[:16]


def build_dir(device: str) -> Path:
    """The cache folder of the library for `device`."""
    return cache_root() / "kernels" / f"{device}-{build_key(device)}"


def _extension_name(device: str) -> str:
    return f"grefbench_kernels_{device}"


def _finished_library(directory: Path) -> Path | None:
    try:
        record = json.loads((directory / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    library = directory / str(record.get("library", ""))
    return library if library.is_file() else None


def is_built(device: str) -> bool:
    """True when a finished library for `device` is in the cache (loading it needs no compiler)."""
    return _finished_library(build_dir(device)) is not None


def missing_tools(device: str) -> list[str]:
    """What a build for `device` lacks here (compiler, ninja, nvcc), empty when it can be built."""
    from torch.utils import cpp_extension

    missing = []
    compiler = os.environ.get("CXX", "cl" if sys.platform == "win32" else "c++")
    if shutil.which(compiler.split()[0] if compiler.strip() else "c++") is None:
        missing.append(f"a C++ compiler ({compiler!r}, set CXX to choose one)")
    if not cpp_extension.is_ninja_available():
        missing.append("ninja (pip install ninja)")
    if device == "cuda" and cpp_extension.CUDA_HOME is None:
        missing.append("the CUDA toolkit (nvcc; set CUDA_HOME)")
    return missing


@contextlib.contextmanager
def _exclusive(directory: Path) -> Iterator[bool]:
    """Hold an advisory lock on `directory` across processes; yields False where flock does not exist."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: torch's own lock file still serialises the compile step
        yield False
        return
    with open(directory / "grefbench.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile(device: str, directory: Path, verbose: bool, locked: bool) -> Path:
    from torch.utils import cpp_extension

    missing = missing_tools(device)
    if missing:
        raise KernelBuildError(f"cannot build the grefbench {device} kernels: missing {', '.join(missing)}")
    if locked:  # torch's lock file, left behind by a killed build: no build runs while we hold ours
        with contextlib.suppress(FileNotFoundError):
            (directory / "lock").unlink()
    root = kernel_source_dir()
    flags = _flags(device)
    try:
        library = cpp_extension.load(
            name=_extension_name(device),
            sources=[str(root / relative) for relative in _SOURCES[device]],
            extra_cflags=flags["cflags"],
            extra_cuda_cflags=flags["cuda_cflags"],
            extra_ldflags=flags["ldflags"],
            build_directory=str(directory),
            with_cuda=device == "cuda",
            is_python_module=False,
            verbose=verbose,
        )
    except Exception as error:  # compiler, linker or loader: all mean "no compiled kernels here"
        detail = "\n".join(str(error).strip().splitlines()[-25:])
        raise KernelBuildError(f"building the grefbench {device} kernels in {directory} failed:\n{detail}") from error
    return Path(library)


def _load(device: str, verbose: bool) -> BuildResult:
    start = time.perf_counter()
    directory = build_dir(device)
    library = _finished_library(directory)
    compiled = False
    if library is None:
        with _exclusive(directory) as locked:
            library = _finished_library(directory)  # another process may have finished meanwhile
            if library is None:
                logger.info("Compiling the grefbench %s kernels into %s (once per torch install)", device, directory)
                library = _compile(device, directory, verbose, locked)
                compiled = True
                write_text(directory / _MARKER, json.dumps({"library": library.name, **_fingerprint(device)}))
    if not compiled:
        try:
            torch.ops.load_library(str(library))
        except (OSError, RuntimeError) as error:
            raise KernelBuildError(
                f"loading the grefbench kernels {library} failed: {error}; delete {directory} to rebuild"
            ) from error
    result = BuildResult(device, library, compiled, time.perf_counter() - start)
    logger.info("Loaded the grefbench %s kernels from %s in %.1f s", device, library, result.seconds)
    return result


def build_kernels(verbose: bool = False) -> BuildResult:
    """Load the kernel library for this machine, compiling it first if the cache has none.

    Backs `grefbench kernels build`. Raises KernelBuildError when that is impossible; a failure is
    remembered for the rest of the process. One library per process: on a GPU machine it also
    holds the CPU kernels.
    """
    device = build_device()
    with _lock:
        if device in _loaded:
            return _loaded[device]
        if device in _failures:
            raise KernelBuildError(_failures[device])
        try:
            _loaded[device] = _load(device, verbose)
        except KernelBuildError as error:
            _failures[device] = str(error)
            raise
        return _loaded[device]


def kernels_ready() -> bool:
    """Load (or build) the kernels if possible; on failure warn once (logging) and return False."""
    device = build_device()
    with _lock:
        if device in _loaded:
            return True
        if device in _failures:
            return False
    try:
        build_kernels()
    except KernelBuildError as error:
        with _lock:
            first = device not in _warned
            _warned.add(device)
        if first:
            logger.warning("%s\nms_deform_attn falls back to its (slower) PyTorch implementation.", error)
        return False
    return True


def available_backends() -> list[str]:
    """The ms_deform_attn backends that run now without compiling, fastest first."""
    device = build_device()
    try:
        ready = device in _loaded or is_built(device)
    except KernelBuildError:  # sources missing: only the PyTorch path exists
        ready = False
    if not ready:
        return ["torch"]
    return ["cuda", "cpp", "torch"] if device == "cuda" else ["cpp", "torch"]
