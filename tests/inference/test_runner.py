"""`grefbench eval`: outputs, protocols, resuming, torchrun equals one process, bad input."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grefbench.errors import CheckpointError, ConfigError, DatasetError, UsageError
from grefbench.inference import runner
from grefbench.inference.runner import EvalOptions, run_eval
from grefbench.io.boxes import read_boxes
from grefbench.io.predictions import read_predictions
from tests.builders import FAMILY_CHECKPOINTS, free_port, tiny_grefcoco, tiny_rela_checkpoint


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_grefcoco(tmp_path_factory.mktemp("eval") / "data")


@pytest.fixture(scope="module")
def setup(data, tmp_path_factory):
    """ReLA's tiny checkpoint (the family-specific tests)."""
    return data, tiny_rela_checkpoint(tmp_path_factory.mktemp("rela") / "tiny.pth")


@pytest.fixture(scope="module", params=sorted(FAMILY_CHECKPOINTS))
def family_setup(data, tmp_path_factory, request):
    """Each registered family's tiny checkpoint: eval, resume and torchrun work the same for all."""
    weights = FAMILY_CHECKPOINTS[request.param](tmp_path_factory.mktemp(request.param) / "tiny.pth")
    return data, weights, request.param


def test_every_registered_family_has_a_tiny_checkpoint():
    from grefbench.models import list_models

    assert sorted(FAMILY_CHECKPOINTS) == list_models()


def _options(root, weights, out, **changes):
    values = dict(data_root=root, dataset="grefcoco", split="val", out=out, weights=weights, batch_size=2,
                  shard_size=3, workers=0, threads=1)
    values.update(changes)
    return EvalOptions(**values)


def _entries(path):
    return json.loads(gzip.decompress(Path(path).read_bytes()))["predictions"]


@pytest.mark.parametrize("protocol", ["rela480", "native"])
def test_outputs_are_written_and_scored(family_setup, tmp_path, protocol):
    root, weights, model = family_setup
    outputs = run_eval(_options(root, weights, model=model, out=tmp_path / "out", protocol=protocol))
    predictions = read_predictions(outputs.predictions)
    assert predictions.protocol == protocol and len(predictions) == 8
    sizes = {tuple(m["size"]) for m in predictions.masks}
    assert sizes == ({(480, 480)} if protocol == "rela480" else {(41, 61), (50, 50)})
    metrics = json.loads(outputs.metrics.read_text())
    assert metrics["metrics"]["num_expressions"] == 8
    assert metrics["provenance"]["model"]["weights_sha256"]
    assert outputs.per_sentence.is_file() and outputs.sentences_computed == 8
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "predictions.json.gz", "metrics.json", "per_sentence.parquet", "shards",
        "boxes.json.gz", "grec_metrics.json"}  # GREC: boxes derived from the masks, and their score
    assert read_boxes(tmp_path / "out" / "boxes.json.gz").derived_from_masks
    assert json.loads((tmp_path / "out" / "grec_metrics.json").read_text())["metrics"]["num_expressions"] == 8


def test_killed_run_resumes_where_it_stopped(family_setup, tmp_path, monkeypatch):
    root, weights, model = family_setup
    clean = run_eval(_options(root, weights, model=model, out=tmp_path / "clean"))
    calls = {"n": 0}
    original = runner.prediction_entries

    def dies_on_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "prediction_entries", dies_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run_eval(_options(root, weights, model=model, out=tmp_path / "resumed"))
    monkeypatch.setattr(runner, "prediction_entries", original)
    saved = sorted(p.name for p in (tmp_path / "resumed" / "shards").glob("shard-*"))
    assert saved == ["shard-000000.json.gz"]  # batches 1-2 = the first shard of 3 sentences
    assert not (tmp_path / "resumed" / "predictions.json.gz").exists()
    resumed = run_eval(_options(root, weights, model=model, out=tmp_path / "resumed"))
    assert resumed.sentences_computed == 5
    assert _entries(resumed.predictions) == _entries(clean.predictions)


def test_other_settings_in_the_same_folder_are_refused(family_setup, tmp_path):
    root, weights, model = family_setup
    run_eval(_options(root, weights, model=model, out=tmp_path / "out"))
    with pytest.raises(UsageError, match="other settings.*--restart"):
        run_eval(_options(root, weights, model=model, out=tmp_path / "out", protocol="native"))
    rerun = run_eval(_options(root, weights, model=model, out=tmp_path / "out", protocol="native", restart=True))
    assert rerun.sentences_computed == 8


def test_torchrun_two_processes_equal_one(family_setup, tmp_path):
    root, weights, model = family_setup
    single = run_eval(_options(root, weights, model=model, out=tmp_path / "single"))
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    command = [torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()), "-m", "grefbench", "eval",
               "--model", model, "--weights", str(weights), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
               "--out", str(tmp_path / "multi"), "--batch-size", "2", "--shard-size", "3", "--workers", "0",
               "--threads", "1", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert _entries(tmp_path / "multi" / "predictions.json.gz") == _entries(single.predictions)
    multi_metrics = json.loads((tmp_path / "multi" / "metrics.json").read_text())
    assert multi_metrics["metrics"] == json.loads(single.metrics.read_text())["metrics"]
    assert multi_metrics["provenance"]["world_size"] == 2
    shards = sorted(p.name for p in (tmp_path / "multi" / "shards").glob("shard-*"))
    assert shards == ["shard-000000.json.gz", "shard-000001.json.gz", "shard-000002.json.gz"]


def test_missing_and_unreadable_images(setup, tmp_path):
    root, weights = setup
    data = tmp_path / "data"
    shutil.copytree(root, data)
    image = data / "images" / "train2014" / "COCO_train2014_000000000002.jpg"
    image.write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="cannot read image .*COCO_train2014_000000000002.jpg"):
        run_eval(_options(data, weights, tmp_path / "out"))
    image.unlink()
    with pytest.raises(DatasetError, match="image not found: .*COCO_train2014_000000000002.jpg"):
        run_eval(_options(data, weights, tmp_path / "out2"))
    assert not (tmp_path / "out2").exists()


def test_bad_checkpoint_and_config(setup, tmp_path):
    root, weights = setup
    with pytest.raises(CheckpointError):
        run_eval(_options(root, weights, tmp_path / "a", config="rela_r50"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("MODEL: [unclosed\n")
    with pytest.raises(ConfigError):
        run_eval(_options(root, weights, tmp_path / "b", config=str(broken)))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="garbage.pth"):
        run_eval(_options(root, garbage, tmp_path / "c"))
    assert not any((tmp_path / name).exists() for name in "abc")
