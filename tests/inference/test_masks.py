"""Decoded outputs to prediction entries: the two-channel and threshold rules, the head, and empty-mask no-target."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from grefbench.data.protocols import NATIVE, RELA480
from grefbench.data.split import SentenceRecord
from grefbench.inference.masks import prediction_entries
from grefbench.io import rle
from grefbench.models.family import Decoded
from grefbench.models.transforms import SquareResize


def _records(sizes):
    return [SentenceRecord(sent_id=10 + i, ref_id=i, image_id=i, file_name=f"{i}.png", height=h, width=w,
                           sentence="s", ann_ids=(i,), no_target=False, category_ids=(1,))
            for i, (h, w) in enumerate(sizes)]


def test_two_channel_maps_with_a_head_follow_the_official_argmax_and_head(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 2, 40, 40, generator=generator)  # padded beyond the 32x32 input
    nt = torch.tensor([[0.2, 0.9], [0.6, 0.6]])  # a tie picks "target present"
    entries = prediction_entries(Decoded(maps, nt[:, 1] > nt[:, 0], nt[:, 1]), _records([(30, 50), (64, 16)]),
                                 SquareResize(32), NATIVE)
    assert [e["no_target"] for e in entries] == [True, False]
    assert [e["no_target_score"] for e in entries] == [0.9, 0.6]
    for i, (entry, size) in enumerate(zip(entries, [(30, 50), (64, 16)])):
        resized = F.interpolate(maps[i:i + 1, :, :32, :32], size=size, mode="bilinear", align_corners=False)[0]
        expected = (resized[1] > resized[0]).numpy().astype(np.uint8)
        np.testing.assert_array_equal(rle.decode(entry["mask"]), expected)


def test_without_a_head_an_empty_mask_is_no_target_and_min_area_empties_small_masks():
    maps = torch.zeros(3, 2, 16, 16)
    maps[1, 1, :4, :4] = 1.0   # 16 foreground pixels at 16x16, 900 at 480x480
    maps[2, 1] = 1.0           # everything
    records = _records([(16, 16)] * 3)
    entries = prediction_entries(Decoded(maps), records, SquareResize(16), RELA480)
    assert [e["no_target"] for e in entries] == [True, False, False]
    assert all("no_target_score" not in e for e in entries)
    small = prediction_entries(Decoded(maps), records, SquareResize(16), NATIVE, min_area=17)
    assert [e["no_target"] for e in small] == [True, True, False]
    assert rle.decode(small[1]["mask"]).sum() == 0


def test_one_channel_maps_use_the_threshold():
    maps = torch.tensor([0.2, 0.35, 0.36, 0.9]).view(1, 1, 2, 2)
    (entry,) = prediction_entries(Decoded(maps, threshold=0.35), _records([(2, 2)]), SquareResize(2), NATIVE)
    np.testing.assert_array_equal(rle.decode(entry["mask"]), [[0, 0], [1, 1]])
