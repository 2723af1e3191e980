"""Running a function in a forked child process while the parent goes on (Linux only).

Scoring is short and its parts are independent (validating the submission, rasterising halves of
the ground truth), so a fork that inherits the parsed data and sends back a pickled result uses
the second core without any start-up cost. Where fork is unsafe or absent the call runs inline.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def default_jobs() -> int:
    """Processes to use for scoring: the cores this process may run on (at most 4), 1 off Linux."""
    if sys.platform != "linux":
        return 1
    return max(1, min(4, len(os.sched_getaffinity(0))))


class Pending(Generic[T]):
    """The result of a call started by `start`; `result()` waits for it (re-raising its error)."""

    def __init__(self, pid: int | None, read_fd: int | None, value: Any = None, error: BaseException | None = None):
        self._pid = pid
        self._read_fd = read_fd
        self._value = value
        self._error = error

    def result(self) -> T:
        if self._pid is not None:
            self._collect()
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> None:
        """Stop the child if it is still running and reap it (nothing is raised)."""
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._close()

    def _collect(self) -> None:
        with os.fdopen(self._read_fd, "rb") as pipe:
            self._read_fd = None
            data = pipe.read()
        os.waitpid(self._pid, 0)
        self._pid = None
        if not data:
            self._error = RuntimeError("a grefbench worker process died without a result")
            return
        ok, payload = pickle.loads(data)
        if ok:
            self._value = payload
        else:
            self._error = payload

    def _close(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd)
            self._read_fd = None
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        self._pid = None


def start(function: Callable[..., T], *args: Any, fork: bool = True) -> Pending[T]:
    """Start `function(*args)` in a forked child (or run it now when `fork` is false or impossible)."""
    if not fork or sys.platform != "linux":
        try:
            return Pending(None, None, value=function(*args))
        except Exception as error:  # noqa: BLE001 - handed back through result(), like the forked path
            return Pending(None, None, error=error)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
        status = 0
        try:
            os.close(read_fd)
            try:
                payload = pickle.dumps((True, function(*args)), protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as error:  # noqa: BLE001 - every failure goes back to the parent
                try:
                    payload = pickle.dumps((False, error), protocol=pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 - an unpicklable error still gets its message through
                    payload = pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001 - never return into the parent's code
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    return Pending(pid, read_fd)


@contextlib.contextmanager
def started(function: Callable[..., T], *args: Any, fork: bool = True) -> Iterator[Pending[T]]:
    """`start` as a context: a child whose result was never asked for is stopped on exit."""
    pending = start(function, *args, fork=fork)
    try:
        yield pending
    finally:
        pending.cancel()
