"""Ground truth under both protocols, against the independent official reference; the cache."""

import numpy as np
import pytest

from grefbench.data import load_split
from grefbench.data.groundtruth import cache_path, instance_rle, load_ground_truth
from grefbench.data.protocols import NATIVE, RELA480
from grefbench.io import rle
from tests import official_reference
from tests.builders import tiny_grefcoco


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


@pytest.mark.parametrize("protocol", ["native", "rela480"])
def test_ground_truth_matches_the_official_mapper(root, tmp_path, protocol):
    split = load_split(root, "grefcoco", "val")
    truth = load_ground_truth(split, protocol, cache_dir=tmp_path / "cache")
    refs, images, anns = official_reference.load_raw(root)
    by_id = {r["ref_id"]: r for r in refs}
    for ref_id, encoded in truth.rles.items():
        expected, _ = official_reference.gt_mask(by_id[ref_id], images, anns, size480=protocol == "rela480")
        assert np.array_equal(rle.decode(encoded), expected), ref_id
        assert truth.areas[ref_id] == expected.sum()


def test_crowd_is_not_part_of_the_target(root, tmp_path):
    split = load_split(root, "grefcoco", "val")
    truth = load_ground_truth(split, "native", use_cache=False)
    only_dog = instance_rle(split.annotations[12], 41, 61, NATIVE)
    assert truth.rles[103]["counts"] == only_dog["counts"]  # ref 103 = dog (12) + crowd (13)


def test_integer_polygons_are_truncated_like_detectron2(root):
    split = load_split(root, "grefcoco", "val")
    integer_polygon = split.annotations[12]  # all coordinates are ints in the file
    assert all(type(v) is int for v in integer_polygon["segmentation"][0])
    scaled = rle.decode(instance_rle(integer_polygon, 41, 61, RELA480))
    as_floats = dict(integer_polygon, segmentation=[[float(v) for v in integer_polygon["segmentation"][0]]])
    not_truncated = rle.decode(instance_rle(as_floats, 41, 61, RELA480))
    # x * (480 / 61) is cut to an integer for an int array, kept fractional for floats.
    assert not np.array_equal(scaled, not_truncated)


def test_short_polygons_are_dropped(root):
    split = load_split(root, "grefcoco", "val")
    assert instance_rle(split.annotations[22], 50, 50, NATIVE) is None
    records = {r.ref_id: r for r in split.records}
    truth = load_ground_truth(split, "native", use_cache=False)
    assert truth.rles[106] == truth.rles[105]  # 22 (invalid) + 21 == 21 alone
    assert records[106].n_targets == 2


def test_cache_is_reused_and_keyed_by_content(root, tmp_path):
    cache = tmp_path / "cache"
    split = load_split(root, "grefcoco", "val")
    first = load_ground_truth(split, "rela480", cache_dir=cache)
    path = cache_path(split, RELA480, cache)
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    assert load_ground_truth(split, "rela480", cache_dir=cache).rles == first.rles
    assert path.stat().st_mtime_ns == stamp
    # Changing an annotation file changes the key: the old cache is not used.
    instances = root / "grefcoco" / "instances.json"
    instances.write_text(instances.read_text().replace("2.5, 3.2", "9.5, 9.2"))
    changed = load_split(root, "grefcoco", "val")
    assert cache_path(changed, RELA480, cache) != path
    assert load_ground_truth(changed, "rela480", cache_dir=cache).rles[100] != first.rles[100]


@pytest.mark.parametrize("damage", [b"", b"not a zip at all", None])
def test_corrupt_cache_is_rebuilt(root, tmp_path, damage):
    cache = tmp_path / "cache"
    split = load_split(root, "grefcoco", "val")
    good = load_ground_truth(split, "native", cache_dir=cache)
    path = cache_path(split, NATIVE, cache)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage is None else damage)
    assert load_ground_truth(split, "native", cache_dir=cache).rles == good.rles
    assert path.read_bytes() == data  # rewritten whole
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temporary files left


def test_cache_made_for_part_of_a_split_serves_and_grows(root, tmp_path):
    import dataclasses

    cache = tmp_path / "cache"
    split = load_split(root, "grefcoco", "val")
    part = dataclasses.replace(split, records=split.records[:2])
    assert set(load_ground_truth(part, "native", cache_dir=cache).rles) == {100}
    full = load_ground_truth(split, "native", cache_dir=cache)
    assert set(full.rles) == {r.ref_id for r in split.records}
    assert full.rles == load_ground_truth(split, "native", use_cache=False).rles
    assert set(load_ground_truth(part, "native", cache_dir=cache).rles) == {100}
