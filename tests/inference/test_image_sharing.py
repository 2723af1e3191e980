"""Encoding each image once (where the image encoder reads no words) gives exactly the per-sentence outputs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from grefbench.inference.runner import EvalOptions, run_eval
from grefbench.io import rle
from grefbench.models import get_model_spec, load_model
from tests.builders import tiny_grefcoco, tiny_rela_checkpoint
from tests.models.tiny import tiny_inputs


@pytest.fixture(scope="module")
def r50(tmp_path_factory):
    base = tmp_path_factory.mktemp("sharing")
    return tiny_grefcoco(base / "data"), tiny_rela_checkpoint(base / "r50.pth", preset="rela_r50")


def test_which_families_share_the_image_encoder(r50, tmp_path):
    _, weights = r50
    assert get_model_spec("rela").shares_images(load_model("rela", weights=weights))
    swin = tiny_rela_checkpoint(tmp_path / "swin.pth")
    assert not get_model_spec("rela").shares_images(load_model("rela", weights=swin))


def test_decode_sentences_equals_forward(r50):
    _, weights = r50
    model = load_model("rela", weights=weights)
    images, tokens, mask = tiny_inputs(batch=5, height=64, width=64, length=20)
    tokens = tokens.clamp(max=30521)
    index = torch.tensor([0, 0, 1, 2, 1])
    with torch.inference_mode():
        whole = model(images[index], tokens, mask)
        shared = model.decode_sentences(model.encode_images(images[:3]), index, tokens, mask)
    assert whole.keys() == shared.keys()
    for key in whole:
        torch.testing.assert_close(shared[key], whole[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("protocol", ["rela480", "native"])
@pytest.mark.parametrize("batch_size", [3, 8])  # 3 splits images' sentences across batches
def test_eval_predictions_are_identical_with_and_without_sharing(r50, tmp_path, protocol, batch_size):
    # The same decisions and scores. A mask pixel whose two scores tie to float rounding may flip:
    # the per-sentence path itself flips as many between batch sizes (batched convolutions round
    # differently), so both paths are compared against that.
    root, weights = r50
    runs = {}
    for share, size in ((True, batch_size), (False, batch_size), (False, 1)):
        options = EvalOptions(data_root=root, dataset="grefcoco", split="val", out=tmp_path / f"{share}-{size}",
                              model="rela", weights=weights, protocol=protocol, batch_size=size, workers=0,
                              threads=1, share_images=share)
        outputs = run_eval(options)
        runs[share, size] = json.loads(gzip.decompress(Path(outputs.predictions).read_bytes()))["predictions"]
    shared, alone, unbatched = runs[True, batch_size], runs[False, batch_size], runs[False, 1]
    assert [e["sent_id"] for e in shared] == [e["sent_id"] for e in alone]
    assert [e["no_target"] for e in shared] == [e["no_target"] for e in alone]
    assert [e["no_target_score"] for e in shared] == pytest.approx([e["no_target_score"] for e in alone], abs=2e-6)
    rounding = max(_flipped(a, b) for a, b in zip(alone, unbatched))
    for a, b in zip(shared, alone):
        assert a["mask"]["size"] == b["mask"]["size"]
        assert _flipped(a, b) <= max(rounding, 2)


def _flipped(a: dict, b: dict) -> int:
    return int((rle.decode(a["mask"]) != rle.decode(b["mask"])).sum())
