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
