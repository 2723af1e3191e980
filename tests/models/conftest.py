"""Fixtures of the model tests: the preset names, one thread for tiny models."""

from __future__ import annotations

import pytest
import torch

from tests.models.tiny import PRESET_NAMES


@pytest.fixture(params=PRESET_NAMES)
def preset(request) -> str:
    return request.param


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    # Tiny models are dominated by per-op overhead; one thread avoids oversubscribing shared CPUs.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
