"""Loading splits from tiny files in the real REFER / gRefCOCO formats."""

import json
import pickle

import pytest

from grefbench.data import load_split
from grefbench.errors import DatasetError
from tests.builders import image, polygon_annotation, ref, tiny_grefcoco, write_dataset


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path)


def test_one_record_per_sentence_in_file_order(root):
    split = load_split(root, "grefcoco", "val")
    assert [r.sent_id for r in split.records] == [1000, 1001, 1010, 1020, 1030, 1040, 1050, 1060]
    assert split.available_splits == ("val", "testA", "train")


def test_int_and_list_ann_ids_and_no_target(root):
    records = {r.sent_id: r for r in load_split(root, "grefcoco", "val").records}
    assert records[1000].ann_ids == (11,) and records[1000].category_ids == (1,)
    assert records[1010].ann_ids == (11, 12) and records[1010].n_targets == 2
    assert records[1020].no_target and records[1020].ann_ids == () and records[1020].category_ids == ()
    assert not records[1000].no_target


def test_ref_without_sentences_adds_nothing(root):
    assert all(r.ref_id != 107 for r in load_split(root, "grefcoco", "val").records)


def test_image_found_by_id_not_by_the_suffixed_ref_file_name(root):
    split = load_split(root, "grefcoco", "val")
    record = split.records[0]
    assert record.file_name == "COCO_train2014_000000000001.jpg"
    assert split.image_path(record).is_file()
    assert (record.height, record.width) == (41, 61)


def test_pickle_refs_load_like_json(tmp_path):
    from_json = load_split(tiny_grefcoco(tmp_path / "a"), "grefcoco", "val")
    from_pickle = load_split(tiny_grefcoco(tmp_path / "b", refs_format="pickle"), "grefcoco", "val")
    assert from_json.records == from_pickle.records
    assert from_pickle.files[0].path.name == "grefs(unc).p"


def test_pickle_with_code_is_refused(tmp_path):
    root = tiny_grefcoco(tmp_path)
    (root / "grefcoco" / "grefs(unc).json").unlink()

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (root / "grefcoco" / "grefs(unc).p").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(DatasetError, match="refuses to load the global"):
        load_split(root, "grefcoco", "val")


def test_unknown_split_lists_the_available_ones(root):
    with pytest.raises(DatasetError, match=r"Unknown split 'test'.*Available: val, testA, train"):
        load_split(root, "grefcoco", "test")


def test_missing_files_name_the_path_and_layout(tmp_path):
    with pytest.raises(DatasetError, match=r"refs file not found: .*grefs\(unc\)\.p or .*grefs\(unc\)\.json.*Expected layout"):
        load_split(tmp_path, "grefcoco", "val")
    root = tiny_grefcoco(tmp_path / "x")
    (root / "grefcoco" / "instances.json").unlink()
    with pytest.raises(DatasetError, match=r"instances file not found: .*instances\.json\. Expected layout"):
        load_split(root, "grefcoco", "val")


def test_missing_annotation_is_named(tmp_path):
    write_dataset(tmp_path, images=[image(1, 10, 10)], annotations=[],
                  refs=[ref(5, 1, [77], "val", [(50, "x")])], write_images=False)
    with pytest.raises(DatasetError, match="ref 5 refers to annotation 77, which is not in"):
        load_split(tmp_path, "grefcoco", "val")


def test_malformed_json_names_file_and_position(tmp_path):
    root = tiny_grefcoco(tmp_path)
    path = root / "grefcoco" / "instances.json"
    path.write_text(path.read_text()[:50])
    with pytest.raises(DatasetError, match=r"instances\.json: truncated JSON .* line 1"):
        load_split(root, "grefcoco", "val")


def test_unknown_dataset_suggests(tmp_path):
    with pytest.raises(DatasetError, match="Did you mean: grefcoco"):
        load_split(tmp_path, "grefcoc", "val")


def test_classic_refcoco_layout(tmp_path):
    annotations = [polygon_annotation(1, 1, [[1, 1, 8, 1, 8, 8]]), polygon_annotation(2, 1, [[1, 1, 2, 2]])]
    refs = [ref(1, 1, 1, "val", [(10, "a")]), ref(2, 1, 2, "val", [(20, "b")])]
    write_dataset(tmp_path, images=[image(1, 10, 10)], annotations=annotations, refs=refs,
                  folder="refcocog", refs_stem="refs(umd)", refs_format="pickle", write_images=False)
    split = load_split(tmp_path, "refcocog", "val")
    # The official single-target loader drops the ref whose object has no valid polygon.
    assert [r.sent_id for r in split.records] == [10]
    assert json.loads(json.dumps(split.records[0]._asdict()))["ann_ids"] == [1]


def test_index_cache_round_trip_and_staleness(tmp_path):
    from grefbench.data import index_cache

    root = tiny_grefcoco(tmp_path)
    fresh = load_split(root, "grefcoco", "val", use_cache=False)
    first = load_split(root, "grefcoco", "val")  # parses and writes the index
    path = index_cache.index_path("grefcoco", "val", first.files)
    assert path.is_file()
    cached = load_split(root, "grefcoco", "val")
    assert cached._annotations is None  # tables not parsed on a warm load
    assert cached.records == fresh.records and cached.categories == fresh.categories
    assert cached.available_splits == fresh.available_splits
    assert cached.annotations[11]["id"] == 11  # parsed on demand
    refs = root / "grefcoco" / "grefs(unc).json"
    refs.write_text(refs.read_text().replace("the man on the left", "the man at the left"))
    changed = load_split(root, "grefcoco", "val")
    assert changed.records[0].sentence == "the man at the left"
    current = index_cache.index_path("grefcoco", "val", changed.files)
    assert current != path and current.is_file()
    current.write_bytes(b"garbage")
    assert load_split(root, "grefcoco", "val").records == changed.records
