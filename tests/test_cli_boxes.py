"""`grefbench score` / `validate` on box files (GREC), including every bad-input class."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from grefbench.cli import main
from grefbench.data import load_split
from grefbench.data.gt_boxes import ground_truth_boxes
from tests.builders import tiny_grefcoco

PR = "Pr@(F1=1,IoU>=0.5)"


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


@pytest.fixture
def document(root):
    """Every target box predicted (score 0.9) except sentence 1010's second target; 1020 (no target) gets a 0.5 box."""
    split = load_split(root, "grefcoco", "val")
    truth = ground_truth_boxes(split)
    entries = []
    for i, record in enumerate(split.records):
        boxes = truth.of(i).tolist()
        if record.sent_id == 1010:
            boxes = boxes[:1]
        entry = {"sent_id": record.sent_id, "boxes": boxes, "scores": [0.9] * len(boxes)}
        if record.no_target:
            entry = {"sent_id": record.sent_id, "boxes": [[1, 1, 5, 5]], "scores": [0.5]}
        entries.append(entry)
    return {"format": "grefbench-boxes/1", "dataset": "grefcoco", "split": "val", "model": {"name": "almost"},
            "predictions": entries}


def run(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_writes_metrics_table_and_provenance(root, document, tmp_path, capsys):
    path = tmp_path / "boxes.json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    code, out, err = run(["score", str(path), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
                          "--json", str(tmp_path / "m.json"), "--per-expression", str(tmp_path / "s.csv")], capsys)
    assert code == 0, err
    assert PR in " ".join(out.split()) and "multi" in out
    written = json.loads((tmp_path / "m.json").read_text())
    assert set(written) == {"metrics", "breakdown", "provenance"}
    assert written["metrics"] == {PR: 87.5, "N-acc": 100.0, "T-acc": 100.0, "num_expressions": 8}
    assert written["provenance"]["grec_options"] == {"score_threshold": 0.7, "box_iou": "giou",
                                                     "match_threshold": 0.5, "official": True}
    assert written["breakdown"]["multi"][PR] == pytest.approx(200 / 3)
    table = (tmp_path / "s.csv").read_text()
    assert "kept_boxes,TP,FP,FN,F1,correct,outcome" in table
    assert "1010,101,1,both of them,False,2,multi,1,1,0,1,0.6666666666666666,False,missing boxes" in table


def test_a_repeated_score_from_the_cached_boxes_is_identical(root, document, tmp_path, capsys, monkeypatch):
    import grefbench.grec_scoring as scoring_module

    monkeypatch.setenv("GREFBENCH_CACHE_DIR", str(tmp_path / "fresh-cache"))
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    outputs = []
    for name in ("first.json", "second.json"):
        code, _, err = run(["score", str(path), "--data-root", str(root), "--json", str(tmp_path / name), "-q"], capsys)
        assert code == 0, err
        outputs.append(json.loads((tmp_path / name).read_text()))
        monkeypatch.setattr(scoring_module, "load_split", None)  # the second run must not need the split index
    for key in ("metrics", "breakdown"):
        assert outputs[0][key] == outputs[1][key]
    first, second = (dict(o["provenance"], date=None) for o in outputs)
    assert first == second
    document["predictions"][0]["sent_id"] = 424242
    path.write_text(json.dumps(document))
    code, _, err = run(["score", str(path), "--data-root", str(root), "-q"], capsys)
    assert code == 2 and "sent_id 424242 is not a sentence of grefcoco val" in err


def test_options_are_recorded_and_change_the_numbers(root, document, tmp_path, capsys):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    code, _, err = run(["score", str(path), "--data-root", str(root), "--score-threshold", "0.4", "--box-iou", "iou",
                        "--json", str(tmp_path / "m.json"), "-q"], capsys)
    assert code == 0, err
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["metrics"]["N-acc"] == 0.0  # the 0.5 box of the no-target sentence is now kept
    assert written["provenance"]["grec_options"]["official"] is False
    assert written["provenance"]["grec_options"]["box_iou"] == "iou"


def test_crowd_targets_need_their_box(root, document, tmp_path, capsys):
    # Sentence 1030 refers to annotations 12 and 13; 13 is a crowd annotation and its box counts.
    entry = next(e for e in document["predictions"] if e["sent_id"] == 1030)
    assert len(entry["boxes"]) == 2
    entry["boxes"], entry["scores"] = entry["boxes"][:1], entry["scores"][:1]
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    code, _, err = run(["score", str(path), "--data-root", str(root), "--json", str(tmp_path / "m.json"), "-q"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "m.json").read_text())["metrics"][PR] == 75.0


def _mutations():
    def entry(d, i=0):
        return d["predictions"][i]

    return [
        (lambda d: d["predictions"].pop(3), "missing predictions for 1 sentences of val: sent_id 1020"),
        (lambda d: d["predictions"].append(dict(entry(d))), "sent_id 1000 appears more than once"),
        (lambda d: entry(d).update(sent_id=999999), "sent_id 999999 is not a sentence of grefcoco val"),
        (lambda d: entry(d).update(boxes=[[1, 2, -3, 4]]), "sent_id 1000: boxes[0] has a negative width (-3)"),
        (lambda d: entry(d).update(boxes=[[1, 2, 3, -0.5]]), "sent_id 1000: boxes[0] has a negative height"),
        (lambda d: entry(d).update(boxes=[[-1, 2, 3, 4]]), "sent_id 1000: boxes[0] has a negative x"),
        (lambda d: entry(d).update(boxes=[[1, 2, 1e999, 4]]), "number is infinity"),  # JSON cannot hold it
        (lambda d: entry(d).update(boxes=[[1, 2, 3]]), "sent_id 1000: boxes[0] must be [x, y, w, h] with 4 numbers"),
        (lambda d: entry(d).update(boxes=[[1, 2, "3", 4]]), "sent_id 1000: boxes[0] must be [x, y, w, h]"),
        (lambda d: entry(d).update(boxes=[[1, 2, True, 4]]), "sent_id 1000: boxes[0] must be [x, y, w, h]"),
        (lambda d: entry(d).update(boxes={"x": 1}), "sent_id 1000: 'boxes' must be a list"),
        (lambda d: entry(d).pop("boxes"), "sent_id 1000: 'boxes' must be a list"),
        (lambda d: entry(d).update(scores=[0.5, 0.5]), "sent_id 1000: 'scores' has 2 values for 1 boxes"),
        (lambda d: entry(d).update(scores=[1.5]), "sent_id 1000: scores[0] must be a finite number in [0, 1]"),
        (lambda d: entry(d).update(scores=[-0.1]), "sent_id 1000: scores[0] must be a finite number in [0, 1]"),
        (lambda d: entry(d).update(scores=["0.9"]), "sent_id 1000: scores[0] must be a finite number in [0, 1]"),
        (lambda d: entry(d).update(scores=0.9), "sent_id 1000: 'scores' must be a list"),
        (lambda d: entry(d).update(scores=None), "sent_id 1000: 'scores' must be a list"),
        (lambda d: entry(d).update(sent_id="1000"), "predictions[0]: 'sent_id' must be an integer"),
        (lambda d: entry(d).update(score=1), "sent_id 1000: unknown field 'score'"),
        (lambda d: d["predictions"].__setitem__(0, [1]), "predictions[0] must be an object"),
        (lambda d: d.update(split="testA"), "field 'split' is 'testA' but split 'val' is being scored"),
        (lambda d: d.update(dataset="refcoco"), "field 'dataset' is 'refcoco' but 'grefcoco' is being scored"),
        (lambda d: d.pop("predictions"), "missing the field 'predictions'"),
        (lambda d: d.update(predictions={}), "field 'predictions' must be a list"),
        (lambda d: d.update(model="m"), "field 'model' must be an object with a non-empty string 'name'"),
        (lambda d: d.update(protocol="native"), "unknown field 'protocol'"),
    ]


@pytest.mark.parametrize("mutate, message", _mutations())
def test_bad_box_files_are_refused_cleanly(root, document, tmp_path, capsys, mutate, message):
    mutate(document)
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document).replace("Infinity", "1e999"))
    outputs = [tmp_path / "m.json", tmp_path / "s.csv"]
    code, _, err = run(["score", str(path), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
                        "--json", str(outputs[0]), "--per-expression", str(outputs[1])], capsys)
    assert code == 2
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["boxes.json"]


@pytest.mark.parametrize("content, message", [
    (b'{"format": "grefbench-boxes/1", "predictions": [', "truncated JSON"),
    (gzip.compress(b'{"format": "grefbench-boxes/1", "dataset": "grefcoco"}')[:-6], "gzip stream is truncated"),
    (b'{"format": "grefbench-boxes/1"}', "missing the field 'dataset'"),
])
def test_damaged_box_files_are_refused(root, tmp_path, capsys, content, message):
    path = tmp_path / "boxes.json.gz"
    path.write_bytes(content)
    code, _, err = run(["score", str(path), "--data-root", str(root), "--json", str(tmp_path / "m.json")], capsys)
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "m.json").exists()


def test_option_conflicts(root, document, tmp_path, capsys):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    for extra, message in ((["--protocol", "native"], "--protocol applies to mask files"),
                           (["--box-iou", "diou"], "--box-iou must be one of giou, iou"),
                           (["--score-threshold", "1.5"], "--score-threshold must be in [0, 1]")):
        code, _, err = run(["score", str(path), "--data-root", str(root), *extra], capsys)
        assert code == 2 and message in " ".join(err.split()), err
    masks = tmp_path / "masks.json"
    masks.write_text(json.dumps({"format": "grefbench-predictions/1"}))
    code, _, err = run(["score", str(masks), "--data-root", str(root), "--box-iou", "iou"], capsys)
    assert code == 2 and "apply to box files" in err


def test_format_field_after_the_predictions_is_recognised(root, document, tmp_path, capsys):
    from grefbench.io.boxes import sniff_format

    # 'format' last, beyond the first 64 KiB (gzipped), as some writers order keys
    late = {"predictions": document["predictions"], "model": document["model"], "dataset": "grefcoco",
            "split": "val", "provenance": {"pad": "x" * 70000}, "format": "grefbench-boxes/1"}
    path = tmp_path / "late.json.gz"
    path.write_bytes(gzip.compress(json.dumps(late).encode()))
    assert sniff_format(path) == "grefbench-boxes/1"
    code, _, err = run(["score", str(path), "--data-root", str(root), "-q"], capsys)
    assert code == 0, err


def test_non_finite_values_are_refused_from_python():
    from grefbench.errors import SubmissionError
    from grefbench.io.boxes import parse_boxes

    document = {"format": "grefbench-boxes/1", "dataset": "grefcoco", "split": "val", "model": {"name": "m"},
                "predictions": [{"sent_id": 1, "boxes": [[1.0, float("nan"), 2.0, 2.0]]}]}
    with pytest.raises(SubmissionError, match=r"sent_id 1: boxes\[0\] has a non-finite y"):
        parse_boxes(Path("x.json"), document)
    document["predictions"][0] = {"sent_id": 1, "boxes": [[1.0, 1.0, 2.0, 2.0]], "scores": [float("inf")]}
    with pytest.raises(SubmissionError, match=r"sent_id 1: scores\[0\] must be a finite number"):
        parse_boxes(Path("x.json"), document)


def test_validate_box_file(root, document, tmp_path, capsys):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    code, out, _ = run(["validate", str(path), "--data-root", str(root)], capsys)
    assert code == 0 and "box predictions" in " ".join(out.split()) and "coverage" in " ".join(out.split())
    document["predictions"][1]["scores"] = [2]
    path.write_text(json.dumps(document))
    code, _, err = run(["validate", str(path)], capsys)
    assert code == 2 and "sent_id 1001: scores[0] must be a finite number in [0, 1]" in " ".join(err.split())


def test_box_scoring_never_imports_torch_or_pandas(root, document, tmp_path):
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps(document))
    script = (
        "import sys\nfrom grefbench.cli import main\n"
        f"try:\n    main(['score', {str(path)!r}, '--data-root', {str(root)!r}, '--quiet'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules, 'pandas' in sys.modules, 'pycocotools' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"GREFBENCH_CACHE_DIR": str(tmp_path / "cache"), "PATH": ""}, check=True).stdout
    assert out.split() == ["False", "False", "False"]
