"""The shipped demo model: small, loads strictly, and `grefbench eval` with no argument scores it on the shipped val."""

import dataclasses
import json
from pathlib import Path

import torch

from grefbench.cli import main
from grefbench.io.predictions import read_predictions
from grefbench.models import demo_weights, load_model
from grefbench.models.rela.config import load_config


def test_demo_weights_are_small_and_load_as_rela_tiny():
    path = demo_weights()
    assert path.stat().st_size <= 20 * 1024 * 1024
    content = torch.load(path, map_location="cpu", weights_only=True)
    assert content["text_encoder_source"] == "minilm-l6"  # the frozen MiniLM comes from its package
    assert not any(key.startswith("text_encoder.") for key in content["model"])
    # The shipped weights are what the README's command builds: `--config rela_tiny` with the
    # training-only category head on the backbone (unused at inference).
    command = load_config("rela_tiny", ["GREFBENCH.CATEGORY_CLASSES=7", "GREFBENCH.CATEGORY_FEATURES=backbone"])
    shipped = load_model("rela", weights=path).config
    assert shipped.name.startswith("rela_tiny") and dataclasses.replace(shipped, name=command.name) == command


def test_main_command_scores_the_demo_model_far_above_trivial_predictors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        main(["eval", "--model", "rela", "--split", "val", "--threads", "2"])
        code = 0
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr().out
    assert code in (0, None)
    assert "rela_tiny_grefshapes.pth" in out and "grefshapes val" in out
    run = Path("runs/rela-grefshapes-val-rela480")
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert len(read_predictions(run / "predictions.json.gz")) == 923
    # Trivial predictors on this split: all objects 25.60 / 27.62 / 0 / 100, always no-target 0 / 11.81 / 100 / 0
    # (cIoU / gIoU / N-acc / T-acc); the shipped model measured 71.28 / 74.34 / 80.73 / 94.23.
    # Its targets (issue "Embedded benchmark"): gIoU >= 70, cIoU >= 60, N-acc >= 70, T-acc >= 90.
    assert metrics["gIoU"] >= 70 and metrics["cIoU"] >= 60 and metrics["N-acc"] >= 70 and metrics["T-acc"] >= 90
    # Just under what it measured, so a worse model shipped by mistake fails (Pr@0.9 measured 45.58).
    assert metrics["cIoU"] > 70 and metrics["gIoU"] > 73 and metrics["N-acc"] > 79 and metrics["Pr@0.9"] > 44


def test_lavt_demo_is_small_fp16_and_the_main_command_clears_its_floor(tmp_path, monkeypatch, capsys):
    from grefbench.models.lavt.checkpoint import read_lavt_checkpoint

    path = demo_weights("lavt")
    assert path.stat().st_size <= 12 * 1024 * 1024
    content = read_lavt_checkpoint(path)
    assert content["text_encoder_source"] == "minilm-l6" and "bert_model" not in content
    assert {v.dtype for v in content["model"].values() if v.is_floating_point()} == {torch.float16}
    assert load_model("lavt", weights=path).config.name.startswith("lavt_tiny")
    monkeypatch.chdir(tmp_path)
    try:
        main(["eval", "--model", "lavt", "--split", "val", "--threads", "2"])
        code = 0
    except SystemExit as exit:
        code = exit.code
    assert code in (0, None) and "lavt_tiny_grefshapes.pth" in capsys.readouterr().out
    metrics = json.loads(Path("runs/lavt-grefshapes-val-rela480/metrics.json").read_text())["metrics"]
    # The floor: val gIoU >= 40 (all objects: 27.62). Measured 43.05 / 43.23 / 11.93 / 99.39
    # (cIoU / gIoU / N-acc / T-acc); just under it, so a worse model shipped by mistake fails.
    assert metrics["gIoU"] >= 40 and metrics["gIoU"] > 43 and metrics["cIoU"] > 42.5
