"""Ref-ZOM and R-RefCOCO loaders on tiny files in the real layouts, and every refusal by name."""

import pickle

import pytest

from grefbench.data.refzom import load_refzom
from grefbench.data.rrefcoco import load_rrefcoco, load_zero_target_split
from grefbench.errors import DatasetError, UsageError
from tests.builders import image, polygon_annotation
from tests.zero_target_builders import rref, tiny_refzom, tiny_rrefcoco, write_benchmark, zom_ref

IMAGES = [image(1, 37, 53)]
ANNOTATIONS = [polygon_annotation(11, 1, [[2, 2, 40, 3, 30, 30]]), polygon_annotation(12, 1, [[1, 1, 9, 1, 9, 9]])]


def test_refzom_test_split_contains_test(tmp_path):
    split = load_refzom(tiny_refzom(tmp_path))
    assert [r.sent_id for r in split.records] == [101, 102, 103, 104, 105, 106, 108, 109]  # 'testB' too, not train
    assert [r.group for r in split.records][:4] == ["one", "one", "many", "zero"]
    assert split.records[2].ann_ids == (11, 12) and split.records[0].ann_ids == (11,)
    assert split.records[0].no_target is False and split.records[3].no_target is True
    assert split.image_path(split.records[0]).parts[-2] == "trainval2014"
    assert load_refzom(tmp_path, "train").records[0].sent_id == 107


def _zom(tmp_path, refs):
    return write_benchmark(tmp_path, "ref-zom", "refs(final)", images=IMAGES, annotations=ANNOTATIONS, refs=refs)


@pytest.mark.parametrize("refs, message", [
    ([zom_ref(1, 1, 11, "one", [5]), zom_ref(2, 1, 12, "one", [5])], "sent_id 5 appears twice"),
    ([zom_ref(1, 1, 11, "one", [5]), zom_ref(1, 1, 12, "one", [6], split="train")], "ref_id 1 is used by more"),
    ([{**zom_ref(1, 1, 11, "one", [5]), "source": "two"}], "ref 1 has source 'two'"),
    ([{k: v for k, v in zom_ref(1, 1, 11, "one", [5]).items() if k != "source"}], "ref 1 lacks the field 'source'"),
    ([zom_ref(1, 1, [11, 99], "many", [5])], "ref 1 refers to annotation 99"),
    ([zom_ref(1, 1, [], "many", [5])], "ref 1 is a many-target ref without annotations"),
    ([zom_ref(1, 7, 11, "one", [5])], "ref 1 refers to image 7"),
    ([zom_ref(1, 1, "11", "one", [5])], "ref 1 has 'ann_id' '11'"),
    ([zom_ref(1, 1, 11, "one", [5], split="train")], "No ref of split 'test'"),
])
def test_refzom_refusals(tmp_path, refs, message):
    with pytest.raises(DatasetError, match=message):
        load_refzom(_zom(tmp_path, refs))


def test_refzom_zero_ref_keeps_its_ann_id_unused(tmp_path):
    split = load_refzom(_zom(tmp_path, [zom_ref(1, 1, 12, "zero", [5])]))
    assert split.records[0].group == "zero"


def test_missing_files_and_unsafe_pickle(tmp_path):
    with pytest.raises(DatasetError, match=r"refs file not found: .*refs\(final\)\.p.*Expected layout: ROOT/ref-zom/"):
        load_refzom(tmp_path)
    root = _zom(tmp_path, [zom_ref(1, 1, 11, "one", [5])])
    (root / "ref-zom" / "refs(final).p").write_bytes(pickle.dumps([UsageError("x")]))
    with pytest.raises(DatasetError, match="refuses to load the global"):
        load_refzom(root)


def test_unknown_split_name(tmp_path):
    with pytest.raises(UsageError, match="Unknown split 'dev'"):
        load_refzom(tiny_refzom(tmp_path), "dev")


def test_rrefcoco_groups_from_exist(tmp_path):
    split = load_rrefcoco(tiny_rrefcoco(tmp_path))
    groups = {r.sent_id: r.group for r in split.records}
    assert groups == {201: "positive", 202: "positive", 203: "negative", 204: "positive", 205: "positive",
                      206: "positive", 207: "negative", 208: "negative", 209: "negative"}
    assert [r.sent_id for r in split.records] == sorted(groups)  # ref order, then sentence order


def test_rrefcocog_reads_refs_umd_only_without_refs_unc(tmp_path):
    split = load_zero_target_split(tiny_rrefcoco(tmp_path, "rrefcocog", "refs(umd)"), "rrefcocog", "val")
    assert split.files[0].path.name == "refs(umd).p" and split.dataset == "rrefcocog"


def _rr(tmp_path, refs):
    return write_benchmark(tmp_path, "rrefcoco", "refs(unc)", images=IMAGES, annotations=ANNOTATIONS, refs=refs)


@pytest.mark.parametrize("refs, message", [
    ([rref(1, 1, [11], [5])], "ref 1 has 'ann_id' \\[11\\]; R-RefCOCO refs point to one annotation"),
    ([rref(1, 1, 99, [5])], "ref 1 refers to annotation 99"),
    ([{**rref(1, 1, 11, [5]), "sentences": [{"sent_id": 5, "raw": "x", "exist": "no"}]}], "sentence 5 of ref 1 has exist 'no'"),
    ([{**rref(1, 1, 11, [5]), "sentences": [{"sent_id": 5}]}], "sentence 5 of ref 1 has no string 'raw'"),
    ([rref(1, 1, 11, [5]), rref(2, 1, 12, [5], negatives=[5])], "sent_id 5 appears twice"),
    ([rref(1, 1, 11, [5], split="val2")], "No ref of split 'val'"),
])
def test_rrefcoco_refusals(tmp_path, refs, message):
    with pytest.raises(DatasetError, match=message):
        load_rrefcoco(_rr(tmp_path, refs))


def test_index_cache_skips_parsing_and_follows_the_files(tmp_path, monkeypatch):
    from grefbench.data import refzom, zero_target_truth

    root = tiny_refzom(tmp_path)
    first = load_refzom(root)
    truth = zero_target_truth.load_truth(first)

    def refuse(*args, **kwargs):
        raise AssertionError("parsed although the caches are warm")

    monkeypatch.setattr(refzom, "parse_refs", refuse)
    monkeypatch.setattr(refzom, "parse_instances", refuse)
    again = load_refzom(root)
    assert again.records == first.records and again._annotations is None
    assert zero_target_truth.load_truth(again).areas == truth.areas
    assert again._annotations is None  # the ground truth came from its cache too
    monkeypatch.undo()
    write_benchmark(tmp_path, "ref-zom", "refs(final)", images=IMAGES, annotations=ANNOTATIONS,
                    refs=[zom_ref(1, 1, 11, "one", [5])])
    assert [r.sent_id for r in load_refzom(root).records] == [5]
