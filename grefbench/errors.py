"""Typed errors for bad user input; the CLI turns each into one line on stderr and exit code 2.

Each message says what is wrong, where (file, field, id) and, when useful, what to do.
"""


class GrefbenchError(Exception):
    """Base class of every error caused by user input (files, arguments, configs)."""

    exit_code = 2


class DatasetError(GrefbenchError):
    """Annotation files missing, malformed or inconsistent; unknown dataset or split."""


class SubmissionError(GrefbenchError):
    """A prediction file (or submission folder) that does not follow its format."""


class CheckpointError(GrefbenchError):
    """A checkpoint that cannot be read or does not fit the model."""


class ConfigError(GrefbenchError):
    """A model config (preset name or yaml) that does not parse or is not supported."""


class UsageError(GrefbenchError):
    """Arguments that contradict each other or the files they name."""


class OutputError(GrefbenchError):
    """An output that cannot be written where asked (a directory, an input, a full or read-only disk)."""


def shown(value: object, limit: int = 80) -> str:
    """A short repr of a value from a file, for a message: bounded however large or nested the value is."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxtuple, short.maxset = 3, 4, 4, 4, 4
    short.maxstring, short.maxother, short.maxlong = limit, limit, 40
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
