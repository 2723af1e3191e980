"""Usage errors of the command line: one line each, exit code 2, the closest command or option suggested.

typer >= 0.22 raises the click exceptions it bundles (`typer._click`), older ones those of the
`click` package: both are caught. Anything else that escapes a command is reported in one line
too (`unexpected`): a resource an input exhausted is exit code 2, a bug exit code 1.
"""

from __future__ import annotations

import difflib
import errno
import importlib
import os
import sys
from typing import Any

import typer

from grefbench.errors import UsageError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
TRACEBACK_ENV = "GREFBENCH_TRACEBACK"


def _classes(name: str) -> tuple[type[BaseException], ...]:
    found = []
    for module in ("typer._click.exceptions", "click.exceptions", "typer.exceptions"):
        try:
            value = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(value, type) and value not in found:
            found.append(value)
    return tuple(found)


USAGE_ERRORS = _classes("ClickException")
ABORTS = _classes("Abort")


def require_command(context: typer.Context) -> None:
    """Callback of a command group: without a subcommand, a usage error listing the commands."""
    if context.invoked_subcommand is not None or context.resilient_parsing:
        return
    names = ", ".join(context.command.list_commands(context))
    raise UsageError(f"{context.command_path}: missing a command ({names}); see '{context.command_path} -h'")


def writes_stdout(*paths: Any) -> bool:
    """Whether any of these output paths is `-` (standard output): then the display goes to stderr."""
    return any(path is not None and os.fspath(path) == "-" for path in paths)


def describe(error: BaseException, app: Any = None) -> str:
    """One line for a click usage error, with the closest command or option and where help is."""
    context = getattr(error, "ctx", None)
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    possibilities = getattr(error, "possibilities", None)
    if possibilities:  # NoSuchOption: click's own close matches
        message = f"{getattr(error, 'message', message).rstrip('.')}. Did you mean {' or '.join(sorted(possibilities))}?"
    elif context is not None and message.startswith("No such command"):
        names = list(context.command.list_commands(context))
        if "Did you mean" not in message:  # typer suggests on its own; older versions do not
            typed = message.split("'")[1] if message.count("'") >= 2 else ""
            close = difflib.get_close_matches(typed, names, n=1, cutoff=0.5)
            message += f" Did you mean {close[0]!r}?" if close else ""
        message = f"{message} Commands: {', '.join(names)}."
    where = context.command_path if context is not None else "grefbench"
    return f"{message} (see '{where} -h')"


def unexpected(error: BaseException) -> int | None:
    """Report an exception no command turned into a GrefbenchError; the exit code, or None to re-raise."""
    from grefbench import console

    if not isinstance(error, Exception) or os.environ.get(TRACEBACK_ENV):
        return None
    if isinstance(error, BrokenPipeError) or (isinstance(error, OSError) and error.errno == errno.EPIPE):
        # The reader went away (`grefbench ... | head`): nothing left to say to it.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return 1
    if isinstance(error, MemoryError):
        console.error("out of memory (see docs/hostile-input.md for what an input needs; "
                      "GREFBENCH_MAX_INPUT_MB caps the size of input files)")
        return 2
    if isinstance(error, RecursionError):
        console.error("an input is nested too deeply to process")
        return 2
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        console.error(f"cannot access{where}: {error.strerror or error}")
        return 2
    console.error(f"internal error ({type(error).__name__}: {error}); this is a bug in grefbench: "
                  f"please report it with the command (set {TRACEBACK_ENV}=1 to see the traceback)")
    return 1
