"""The kernel sources ship in the wheel as `grefbench._kernels`, and the explicit package list stays complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from grefbench.ops import build

tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")

REPOSITORY = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_grefbench_package_is_listed():
    # The list is explicit because packages.find cannot discover the mapped grefbench._kernels.
    found = {
        ".".join(init.parent.relative_to(REPOSITORY).parts)
        for init in (REPOSITORY / "grefbench").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    missing = sorted(found - set(SETUPTOOLS["packages"]))
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_kernel_sources_are_package_data():
    assert "grefbench._kernels" in SETUPTOOLS["packages"]
    assert SETUPTOOLS["package-dir"]["grefbench._kernels"] == "kernels"
    patterns = SETUPTOOLS["package-data"]["grefbench._kernels"]
    sources = [path for path in (REPOSITORY / "kernels").rglob("*") if path.suffix in {".cpp", ".h", ".cu", ".cuh"}]
    assert sources
    for source in sources:
        assert f"**/*{source.suffix}" in patterns, f"{source} would be left out of the wheel"


def test_build_lists_existing_sources():
    root = REPOSITORY / "kernels"
    listed = {*build._HEADERS, *(source for sources in build._SOURCES.values() for source in sources)}
    on_disk = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.suffix in {".cpp", ".h", ".cu"}}
    assert listed == on_disk
