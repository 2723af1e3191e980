"""Terminal output: the one progress bar, the metric tables and the one way text from files is shown.

Text that came from a file (a model name, a category, a sentence, a path) is only ever shown through
`plain`: never parsed as Rich markup or emoji codes, control and format characters made visible as
escapes, bounded in length. Error messages go through `visible` for the same reasons.
"""

from __future__ import annotations

import contextlib
import sys
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, Iterator

from grefbench.metrics.evaluator import METRIC_NAMES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

stdout: Console
stderr: Console


def __getattr__(name: str) -> Any:
    """`stdout` and `stderr` (rich consoles) are made on first use: `score --quiet` never imports rich."""
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(name)


def _console(name: str) -> Console:
    """The module's `stdout` or `stderr` console, made once (this module's own code reads them here)."""
    made = globals().get(name)
    if made is None:
        from rich.console import Console

        made = globals()[name] = Console(stderr=name == "stderr")
    return made


# Control (Cc), format (Cf: bidi overrides, zero-width) and line/paragraph separators move the cursor,
# clear the screen or reorder what a reader sees.
_HIDDEN_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


def _escape_character(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: object, limit: int | None = 300) -> str:
    """`text` as one line with every control or format character written as an escape (\\x1b, \\u202e),
    cut to `limit` characters (None: whole)."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isprintable() and text.isascii():
        return text
    return "".join(_escape_character(c) if unicodedata.category(c) in _HIDDEN_CATEGORIES else c for c in text)


def plain(text: object, limit: int | None = 300, style: str = "") -> Text:
    """Text from a file, for a rich console or table: shown literally (no markup, no emoji), see `visible`."""
    from rich.text import Text

    return Text(visible(text, limit), style=style, end="")


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, *, enabled: bool = True, unit: str = "items",
                 delay: float = 1.0) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n, status="")`; a rich bar (with rate and status) appears only after `delay` seconds."""
    if not enabled or not _console("stderr").is_terminal:
        yield lambda n=1, status="": None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
        console=_console("stderr"), transient=True,
    )
    task = progress.add_task(description, total=total, rate="", status="")
    started_at = time.perf_counter()
    shown = False

    def advance(n: int = 1, status: str = "") -> None:
        nonlocal shown
        elapsed = time.perf_counter() - started_at
        if not shown and elapsed >= delay:
            progress.start()
            shown = True
        done = progress.tasks[0].completed + n
        rate = f"{done / elapsed:,.1f} {unit}/s" if elapsed > 0 else ""
        progress.update(task, advance=n, rate=rate, **({"status": status} if status else {}))

    try:
        yield advance
    finally:
        if shown:
            progress.stop()


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def metrics_table(title: object, metrics: dict[str, Any], breakdown: dict[str, dict[str, Any]] | None = None,
                  names: tuple[str, ...] = METRIC_NAMES) -> Table:
    """One row for the overall metrics and one per target kind (`title` is shown as plain text; columns
    `names`: GRES by default)."""
    from rich import box
    from rich.table import Table

    table = Table(title=plain(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("subset", style="bold", no_wrap=True, min_width=9)
    for name in names:
        table.add_column(name if name != "num_expressions" else "#expr", justify="right", no_wrap=True)
    table.add_row("all", *(_format(metrics.get(name)) for name in names))
    for kind, values in (breakdown or {}).items():
        table.add_row(plain(kind), *(_format(values.get(name)) for name in names))
    return table


def error(message: str) -> None:
    """Print one error line on stderr (no traceback; the message is shown as plain text, see `visible`)."""
    from rich.text import Text

    line = Text.assemble(("error:", "bold red"), " ", visible(message, limit=4000))
    _console("stderr").print(line, highlight=False, soft_wrap=True)


def warning(message: str) -> None:
    """Print one warning line on stderr (plain text, see `visible`)."""
    _console("stderr").print(plain(f"warning: {message}", limit=4000), highlight=False, soft_wrap=True)


def say(message: object, *, stream: str = "stdout") -> None:
    """Print one line of plain text (it may hold text from files) on stdout or stderr."""
    _console(stream).print(plain(message, limit=None), highlight=False, soft_wrap=True)


def is_interactive() -> bool:
    return sys.stderr.isatty()
