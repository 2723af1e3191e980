"""benchmarks/gpu_check.py: says so and exits 0 without CUDA; its per-family check runs (here CPU against CPU)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import torch

from grefbench.models import load_model
from tests.builders import tiny_rela_checkpoint

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so_and_exits_0(tmp_path):
    if torch.cuda.is_available():
        return
    run = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "no CUDA GPU here" in run.stdout and not (tmp_path / "gpu_check.json").exists()


def test_family_check_compares_devices_and_times_each_precision(tmp_path):
    model = load_model("rela", weights=tiny_rela_checkpoint(tmp_path / "r50.pth", preset="rela_r50"))
    result = _module().check_family("rela", "tiny", torch, device="cpu", model=model)
    assert result["device_vs_cpu"] == {"max_abs_difference": 0.0, "mask_pixel_agreement": 1.0}
    assert set(result["speed"]) == {"fp32", "fp32-shared", "bf16", "bf16-shared"}
    assert all(entry["sentences_per_second"] > 0 for entry in result["speed"].values())
