"""Test-wide settings: every test run gets its own grefbench cache directory."""

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GREFBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "grefbench-cache"))
