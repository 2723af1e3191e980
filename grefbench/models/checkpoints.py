"""Checkpoint helpers every model family shares: safe reading and the strict key/shape check.

Families add their own layout on top (ReLA's `{"model": ...}`, LAVT's `{"model", "bert_model", "args"}`)
and their own hint saying which model a checkpoint looks like.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from typing import Any, Callable, Iterable, Mapping

import torch

from grefbench.errors import CheckpointError

MAX_LISTED = 5
_REFUSED_GLOBAL = re.compile(r"unsupported (?:global: )?GLOBAL ([\w.]+)", re.IGNORECASE)
READ_ERRORS = (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError,
               AttributeError, TypeError, KeyError, IndexError)


def listed(keys: list[str]) -> str:
    """The first few keys, comma separated, with a count of the rest."""
    shown = ", ".join(keys[:MAX_LISTED])
    return shown + (f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else "")


def refused_global(error: BaseException) -> str | None:
    """The global a `weights_only` load refused (e.g. "posix.system"), or None for other errors."""
    match = _REFUSED_GLOBAL.search(str(error))
    return match.group(1) if match else None


def load_torch_file(path: str | os.PathLike, *, allowed: Iterable[type] = (), what: str = "checkpoint") -> Any:
    """`torch.load(weights_only=True)` with only `allowed` added to torch's safe types; errors name the file.

    A pickle that needs any other global (code it would run, or a class it would build) is refused
    with a message naming that global, never with advice to load it unsafely.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{what} {path} does not exist")
    allowed = list(allowed)
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except READ_ERRORS as error:
        name = refused_global(error)
        if name is not None:
            kinds = "tensors, numbers, strings and containers" + "".join(
                f", {kind.__module__}.{kind.__qualname__}" for kind in allowed)
            raise CheckpointError(f"{what} {path} refused: it needs the global {name}, and only {kinds} "
                                  "may be unpickled (it is not loaded, for safety)") from None
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{what} {path} cannot be read (corrupt, truncated or not a torch file): "
                              f"{first}") from error


def check_state_dict(
    expected: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor], *, source: str,
    hint: Callable[[], str] = lambda: "",
) -> None:
    """Refuse (CheckpointError) any missing, unexpected or mis-shaped key; `hint()` prefixes the details."""
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s): {listed(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s): {listed(unexpected)}")
        raise CheckpointError(f"{source} does not fit the model: {hint()}{'; '.join(parts)}")
    for key, tensor in state_dict.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{source} does not fit the model: {hint()}{key} has shape "
                f"{tuple(tensor.shape)} in the checkpoint but {tuple(expected[key].shape)} in the model"
            )
