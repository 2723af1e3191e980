"""`grefbench score` / `validate` / `datasets` on Ref-ZOM and R-RefCOCO, including every bad-input class."""

import json

import numpy as np
import pytest

from grefbench.cli import main
from tests.builders import tiny_grefcoco
from tests.zero_target_builders import document, encode, tiny_refzom, tiny_rrefcoco

ZOM_SENTENCES = [101, 102, 103, 104, 105, 106, 108, 109]
RR_SENTENCES = [201, 202, 203, 204, 205, 206, 207, 208, 209]


def run(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _masks(sent_ids, seed=0):
    rng = np.random.default_rng(seed)
    masks = {}
    for i, s in enumerate(sent_ids):
        mask = np.zeros((480, 480), np.uint8)
        if i % 3:
            y, x = rng.integers(0, 300, 2)
            mask[y:y + 150, x:x + 150] = 1
        masks[s] = mask
    return masks


@pytest.fixture
def zom(tmp_path):
    root = tiny_refzom(tmp_path / "data")
    return root, document("refzom", "test", "refzom480", _masks(ZOM_SENTENCES))


@pytest.fixture
def rr(tmp_path):
    root = tiny_rrefcoco(tmp_path / "data", "rrefcoco+")
    return root, document("rrefcoco+", "val", "rrefcoco480", _masks(RR_SENTENCES))


def test_score_refzom_writes_outputs(zom, tmp_path, capsys):
    root, doc = zom
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    code, out, err = run(["score", str(pred), "--data-root", str(root), "--json", str(tmp_path / "m.json"),
                          "--per-expression", str(tmp_path / "s.csv")], capsys)
    assert code == 0, err
    assert "Acc" in out and "oIoU" in out and "zero" in out and "many" in out
    written = json.loads((tmp_path / "m.json").read_text())
    assert set(written["metrics"]) == {"oIoU", "mIoU", "Acc", "Pr@0.5", "Pr@0.6", "Pr@0.7", "Pr@0.8", "Pr@0.9"}
    assert written["provenance"]["protocol"] == "refzom480" and written["counts"]["zero"] == 3
    table = (tmp_path / "s.csv").read_text()
    assert table.startswith("# grefbench_version:") and "group" in table and "pred_area" in table


def test_score_rrefcoco_and_validate(rr, tmp_path, capsys):
    root, doc = rr
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    code, out, err = run(["score", str(pred), "--data-root", str(root), "--json", str(tmp_path / "m.json"),
                          "--per-expression", str(tmp_path / "s.csv")], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert set(metrics) == {"mIoU", "oIoU", "rIoU", "r", "Pr@0.5", "Pr@0.6", "Pr@0.7", "Pr@0.8", "Pr@0.9"}
    assert "iou_running_sum" in (tmp_path / "s.csv").read_text()
    code, out, err = run(["validate", str(pred), "--data-root", str(root)], capsys)
    assert code == 0 and "coverage of rrefcoco+ val" in out


def test_datasets_lists_the_benchmarks(capsys):
    code, out, _ = run(["datasets"], capsys)
    assert code == 0
    for name in ("refzom", "rrefcoco", "rrefcoco+", "rrefcocog"):
        assert name in out
    from grefbench.data.catalog import get_dataset

    assert get_dataset("refzom").layout() == ("ROOT/ref-zom/refs(final).p, ROOT/ref-zom/instances.json, "
                                              "images in ROOT/images/trainval2014/")


def _set(doc, key, value):
    doc[key] = value


def _entry(doc, sent_id):
    return next(e for e in doc["predictions"] if e["sent_id"] == sent_id)


MUTATIONS = {
    "wrong protocol": (lambda d: _set(d, "protocol", "rela480"), "is scored only in its official protocol 'refzom480'"),
    "other benchmark's protocol": (lambda d: _set(d, "protocol", "rrefcoco480"), "official protocol 'refzom480'"),
    "missing sentence": (lambda d: d["predictions"].pop(0), "missing predictions for 1 sentences of test: sent_id 101"),
    "unknown sentence": (lambda d: _set(_entry(d, 101), "sent_id", 555), "sent_id 555 is not a sentence of refzom test"),
    "wrong mask size": (lambda d: _entry(d, 102).update(mask=encode(np.ones((10, 10), np.uint8))), "mask size \\[10, 10\\]"),
    "no_target with foreground": (lambda d: _entry(d, 102).update(no_target=True), "sent_id 102: 'no_target' is true but"),
    "wrong split": (lambda d: _set(d, "split", "val"), "split 'val'"),
    "unknown protocol": (lambda d: _set(d, "protocol", "zom"), "field 'protocol' is 'zom'"),
    "another benchmark's file": (lambda d: d.update(dataset="rrefcoco", protocol="rrefcoco480"),
                                 "rrefcoco/refs\\(unc\\).p"),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_bad_submissions_exit_2_with_one_line(zom, tmp_path, capsys, name):
    root, doc = zom
    mutate, message = MUTATIONS[name]
    mutate(doc)
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    out_json = tmp_path / "m.json"
    code, out, err = run(["score", str(pred), "--data-root", str(root), "--json", str(out_json)], capsys)
    assert code == 2, out
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert pytest.importorskip("re").search(message, err.replace("\n", "")), err
    assert not out_json.exists()


def test_bad_dataset_files_exit_2(zom, tmp_path, capsys):
    root, doc = zom
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    (root / "ref-zom" / "instances.json").write_text("{not json")
    code, _, err = run(["score", str(pred), "--data-root", str(root)], capsys)
    assert code == 2 and "instances.json" in err and "Traceback" not in err
    code, _, err = run(["score", str(pred), "--data-root", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "refs file not found" in err


def test_benchmark_protocol_refused_for_grefcoco(tmp_path, capsys):
    root = tiny_grefcoco(tmp_path / "g")
    from grefbench.data import load_split

    split = load_split(root, "grefcoco", "val")
    doc = {"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val", "protocol": "refzom480",
           "model": {"name": "x"}, "predictions": [{"sent_id": r.sent_id, "no_target": True} for r in split.records]}
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    code, _, err = run(["score", str(pred), "--data-root", str(root)], capsys)
    assert code == 2 and "protocol 'refzom480' is only for Ref-ZOM" in err


def test_other_commands_refuse_the_benchmarks_cleanly(zom, tmp_path, capsys):
    root, doc = zom
    from grefbench.data import load_split
    from grefbench.errors import UsageError

    with pytest.raises(UsageError, match="refzom has its own loader"):
        load_split(root, "refzom", "test")


def test_dataset_option_against_the_file(zom, tmp_path, capsys):
    root, doc = zom
    doc.update(dataset="grefcoco", protocol="rela480")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(doc))
    code, _, err = run(["score", str(pred), "--data-root", str(root), "--dataset", "refzom", "--split", "test"], capsys)
    assert code == 2 and "field 'dataset' is 'grefcoco' but 'refzom' is being scored" in err
