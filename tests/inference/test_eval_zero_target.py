"""`grefbench eval` on Ref-ZOM and R-RefCOCO: every family writes 480x480 predictions in the benchmark's protocol."""

import numpy as np
import pytest
from PIL import Image

from grefbench.errors import UsageError
from grefbench.inference.runner import EvalOptions, run_eval
from grefbench.io.predictions import read_predictions
from grefbench.scoring import score_file
from tests.builders import FAMILY_CHECKPOINTS
from tests.zero_target_builders import tiny_refzom, tiny_rrefcoco


def _images(root, folder):
    directory = root / "images" / folder
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for image_id, (height, width) in {1: (37, 53), 2: (101, 77), 3: (480, 640)}.items():
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(directory / f"COCO_train2014_{image_id:012d}.jpg")
    return root


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("zero-target-eval")
    return {"refzom": _images(tiny_refzom(base / "zom"), "trainval2014"),
            "rrefcocog": _images(tiny_rrefcoco(base / "rr", "rrefcocog"), "train2014")}


@pytest.mark.parametrize("model", sorted(FAMILY_CHECKPOINTS))
@pytest.mark.parametrize("dataset, split, protocol", [("refzom", "test", "refzom480"),
                                                      ("rrefcocog", "val", "rrefcoco480")])
def test_eval_writes_the_benchmark_protocol(roots, tmp_path, model, dataset, split, protocol):
    weights = FAMILY_CHECKPOINTS[model](tmp_path / "tiny.pth")
    options = EvalOptions(data_root=roots[dataset], dataset=dataset, split=split, out=tmp_path / "out", model=model,
                          weights=weights, protocol=protocol, batch_size=2, shard_size=3, workers=0, threads=1)
    outputs = run_eval(options)
    predictions = read_predictions(outputs.predictions)
    assert predictions.protocol == protocol
    assert all(m is None or m["size"] == [480, 480] for m in predictions.masks)
    assert all(m is None for m, flag in zip(predictions.masks, predictions.no_target) if flag)
    assert score_file(outputs.predictions, roots[dataset]).metrics == outputs.result.metrics
    assert (tmp_path / "out" / "per_sentence.parquet").exists()


def test_eval_refuses_another_protocol(roots, tmp_path):
    options = EvalOptions(data_root=roots["refzom"], dataset="refzom", split="test", out=tmp_path / "out",
                          protocol="rela480", workers=0)
    with pytest.raises(UsageError, match="refzom is evaluated in its official protocol refzom480"):
        run_eval(options)


def test_eval_command_defaults_to_the_benchmark_protocol(roots, tmp_path, capsys):
    from grefbench.cli import main

    weights = FAMILY_CHECKPOINTS["rela"](tmp_path / "tiny.pth")
    main(["eval", "--model", "rela", "--weights", str(weights), "--data-root", str(roots["refzom"]), "--dataset",
          "refzom", "--split", "test", "--out", str(tmp_path / "out"), "--workers", "0", "--threads", "1"])
    out = capsys.readouterr().out
    assert "refzom480" in out and "Acc" in out
    assert read_predictions(tmp_path / "out" / "predictions.json.gz").protocol == "refzom480"
