"""Writing outputs: the one function every output goes through (`atomic_path`).

What a path names decides how it is written:

- a regular file or a new path (a link to a regular file is followed, the link stays): a temporary
  file next to it replaces it atomically (`os.replace`), so a reader never sees half an output;
- `-` (standard output), a character device, a FIFO or a socket (or a link to one, such as
  /dev/stdout): written directly, once all of the output is ready; never replaced;
- a directory: refused. So is a file the command read as an input (`note_input`).

Inside `transaction()` (the commands that write results) outputs are staged and committed only when
the whole command, its display included, succeeded: a failed command leaves nothing new. Any
OSError while writing becomes an OutputError naming the path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from grefbench.errors import OutputError

STDOUT = "-"



def note_input(path: str | os.PathLike, status: os.stat_result | None = None) -> None:
    """Remember, for the open transaction, that `path` is an input: an output to the same file is refused."""
    if _active is None:
        return
    with contextlib.suppress(OSError):
        status = status or os.stat(path)
        _active.inputs[(status.st_dev, status.st_ino)] = os.fspath(path)


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name the same file (existing: same inode; new: the same resolved path)."""
    if STDOUT in (os.fspath(first), os.fspath(second)):
        return False
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)


def check_outputs(outputs: dict[str, str | os.PathLike | None], inputs: dict[str, str | os.PathLike]) -> None:
    """Refuse, before any work, an output that is an input or another output (OutputError).

    `outputs` and `inputs` map what the user typed (an option name, an argument) to the path.
    """
    given = [(name, path) for name, path in outputs.items() if path is not None]
    to_stdout = [name for name, path in given if os.fspath(path) == STDOUT]
    if len(to_stdout) > 1:
        raise OutputError(f"{' and '.join(to_stdout)} both go to standard output ('-'); send one to a file")
    for index, (name, path) in enumerate(given):
        for input_name, input_path in inputs.items():
            if same_file(path, input_path):
                raise OutputError(f"{name} {path} is the same file as {input_name} {input_path}: "
                                  "it would be overwritten; write the output elsewhere")
        for other_name, other_path in given[index + 1:]:
            if same_file(path, other_path):
                raise OutputError(f"{name} and {other_name} are the same file ({path}); give each its own")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@dataclass
class _Staged:
    """A written temporary file and where it goes when committed."""

    tmp: Path
    target: Path
    stream: bool


@dataclass
class _Transaction:
    staged: dict[str, _Staged] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)
    removals: list[Path] = field(default_factory=list)
    # (st_dev, st_ino) -> path of every input file read in the transaction (no output may replace one).
    inputs: dict[tuple[int, int], str] = field(default_factory=dict)


_active: _Transaction | None = None


def _classify(path: str | os.PathLike) -> tuple[Path, bool]:
    """(where to write, whether it is a stream written directly) for an output path."""
    text = os.fspath(path)
    if text == STDOUT:
        return Path(STDOUT), True
    try:
        status = os.stat(text)  # follows links
    except FileNotFoundError:
        return Path(os.path.realpath(text)), False  # a new file (or where a dangling link points)
    except OSError as error:
        raise OutputError(f"cannot write {text}: {error.strerror or error}") from None
    if stat.S_ISDIR(status.st_mode):
        raise OutputError(f"cannot write {text}: it is a directory; give a file name")
    inputs = _active.inputs if _active is not None else {}
    if (status.st_dev, status.st_ino) in inputs:
        raise OutputError(f"cannot write {text}: it is the input {inputs[(status.st_dev, status.st_ino)]} "
                          "of this command; write the output elsewhere")
    if stat.S_ISREG(status.st_mode):
        return Path(os.path.realpath(text)), False
    return Path(text), True  # character device, FIFO, socket


def _make_parents(directory: Path, transaction: _Transaction | None) -> None:
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for folder in reversed(missing):
        folder.mkdir()
        if transaction is not None:
            transaction.created.append(folder)


def _commit(staged: _Staged) -> None:
    """Move one written temporary file to its target (raises OSError)."""
    try:
        if not staged.stream:
            os.chmod(staged.tmp, 0o666 & ~_umask())  # mkstemp made it private (0600)
            os.replace(staged.tmp, staged.target)
            return
        with open(staged.tmp, "rb") as source:
            if os.fspath(staged.target) == STDOUT:
                sys.stdout.flush()
                shutil.copyfileobj(source, sys.stdout.buffer)
                sys.stdout.buffer.flush()
            else:
                with open(staged.target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.tmp.unlink()


def _describe(staged: _Staged) -> str:
    return "standard output" if os.fspath(staged.target) == STDOUT else str(staged.target)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, cache: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; once the block succeeds it becomes `path` (see the module doc).

    On error the temporary file is removed and nothing is written. A `cache` file is kept even when
    the command fails later (no transaction holds it back).
    """
    target, stream = _classify(path)
    transaction = None if cache else _active
    try:
        if stream:
            fd, tmp = tempfile.mkstemp(prefix=".grefbench-output.", suffix=".tmp")
        else:
            _make_parents(target.parent, transaction)
            # A short prefix: the temporary name must fit where the target's name (up to 255 bytes) fits.
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    staged = _Staged(Path(tmp), target, stream)
    try:
        yield staged.tmp
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            staged.tmp.unlink()
        if isinstance(error, OSError):  # a full disk, a read-only file system, a quota
            raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
        raise
    if transaction is None:
        try:
            _commit(staged)
        except OSError as error:
            raise OutputError(f"cannot write {_describe(staged)}: {error.strerror or error}") from None
        return
    previous = transaction.staged.pop(os.fspath(target), None)
    if previous is not None:  # written twice in one command: the last one counts
        with contextlib.suppress(FileNotFoundError):
            previous.tmp.unlink()
    transaction.staged[os.fspath(target)] = staged


def remove(path: str | os.PathLike) -> None:
    """Delete a file or folder now, or when the transaction commits if one is open."""
    if _active is not None:
        _active.removals.append(Path(path))
        return
    _remove(Path(path))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Stage every output written in the block; commit them all when it succeeds, none when it fails.

    Streams (stdout, devices) are written first: they are the outputs that can still fail (a full
    device, a closed pipe), and then no regular file has been replaced yet.
    """
    global _active
    if _active is not None:  # nested: the outermost one commits
        yield
        return
    current = _active = _Transaction()
    try:
        try:
            yield
        finally:
            _active = None
        pending = sorted(current.staged.values(), key=lambda s: not s.stream)
        for index, staged in enumerate(pending):
            try:
                _commit(staged)
            except OSError as error:
                current.staged = {str(i): s for i, s in enumerate(pending[index + 1:])}
                raise OutputError(f"cannot write {_describe(staged)}: {error.strerror or error}") from None
        current.staged = {}
        for path in current.removals:
            _remove(path)
    except BaseException:
        for staged in current.staged.values():
            with contextlib.suppress(FileNotFoundError):
                staged.tmp.unlink()
        for folder in reversed(current.created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when still empty
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file for writing that becomes `path` when the block succeeds (see `atomic_path`)."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
