"""`grefbench score` / `validate` from the command line, including every bad-input class."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from grefbench.cli import main
from grefbench.data import load_split
from grefbench.io import rle
from tests.builders import random_predictions, tiny_grefcoco


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


@pytest.fixture
def document(root):
    split = load_split(root, "grefcoco", "val")
    return {"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val", "protocol": "native",
            "model": {"name": "random"}, "predictions": random_predictions(split, "native", 0)}


def run(args, capsys, env_cache):
    try:
        main(args)
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def env_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GREFBENCH_CACHE_DIR", str(tmp_path / "cache"))


def test_score_prints_table_and_writes_outputs(root, document, tmp_path, capsys, env_cache):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    code, out, err = run(["score", str(pred), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
                          "--json", str(tmp_path / "m.json"), "--per-expression", str(tmp_path / "s.csv")], capsys, env_cache)
    assert code == 0, err
    assert "cIoU" in out and "no-target" in out and "multi" in out
    written = json.loads((tmp_path / "m.json").read_text())
    assert set(written["metrics"]) == {"cIoU", "gIoU", "N-acc", "T-acc", "Pr@0.7", "Pr@0.8", "Pr@0.9", "num_expressions"}
    assert written["provenance"]["protocol"] == "native" and written["provenance"]["split"] == "val"
    assert {"grefbench_version", "date", "annotation_files", "dataset"} <= set(written["provenance"])
    assert set(written["breakdown"]) == {"no-target", "single", "multi"}
    assert (tmp_path / "s.csv").read_text().startswith("# grefbench_version:")


def _mutations():
    def drop_one(d):
        d["predictions"].pop(3)

    def duplicate(d):
        d["predictions"].append(dict(d["predictions"][0]))

    def unknown_id(d):
        d["predictions"][0]["sent_id"] = 999999

    def wrong_size(d):
        d["predictions"][0]["mask"] = rle.encode(np.zeros((10, 10), np.uint8))
        d["predictions"][0]["no_target"] = False

    def corrupt_counts(d):
        d["predictions"][1]["no_target"] = False
        d["predictions"][1]["mask"] = {"size": [41, 61], "counts": "0\x7f#"}

    def short_counts(d):
        d["predictions"][2]["no_target"] = False
        d["predictions"][2]["mask"] = {"size": [41, 61], "counts": "05"}

    def truncated_run(d):
        d["predictions"][2]["no_target"] = False
        d["predictions"][2]["mask"] = {"size": [41, 61], "counts": "0P"}

    def no_target_not_bool(d):
        d["predictions"][0]["no_target"] = "false"

    def sent_id_not_int(d):
        d["predictions"][0]["sent_id"] = "1000"

    def other_split(d):
        d["split"] = "testA"

    def other_dataset(d):
        d["dataset"] = "refcoco"

    def no_predictions(d):
        del d["predictions"]

    def bad_format(d):
        d["format"] = "something-else"

    def missing_mask(d):
        d["predictions"][0]["no_target"] = False
        d["predictions"][0].pop("mask", None)

    def unknown_field(d):
        d["predictions"][0]["score"] = 1

    return [
        (drop_one, "missing predictions for 1 sentences of val: sent_id 1020"),
        (duplicate, "sent_id 1000 appears more than once"),
        (unknown_id, "sent_id 999999 is not a sentence of grefcoco val"),
        (wrong_size, "sent_id 1000: mask size [10, 10] does not match [41, 61]"),
        (corrupt_counts, "sent_id 1001: mask counts has a character outside the RLE alphabet"),
        (short_counts, "sent_id 1010: mask counts covers"),
        (truncated_run, "sent_id 1010: mask counts ends in the middle of a run"),
        (no_target_not_bool, "sent_id 1000: 'no_target' must be true or false"),
        (sent_id_not_int, "predictions[0]: 'sent_id' must be an integer"),
        (other_split, "field 'split' is 'testA' but split 'val' is being scored"),
        (other_dataset, "field 'dataset' is 'refcoco' but 'grefcoco' is being scored"),
        (no_predictions, "missing the field 'predictions'"),
        (bad_format, "field 'format' is 'something-else'"),
        (missing_mask, "sent_id 1000: 'mask' is required when 'no_target' is false"),
        (unknown_field, "sent_id 1000: unknown field 'score'"),
    ]


@pytest.mark.parametrize("mutate, message", _mutations(), ids=lambda v: getattr(v, "__name__", ""))
def test_bad_prediction_files_are_refused_cleanly(root, document, tmp_path, capsys, env_cache, mutate, message):
    mutate(document)
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    outputs = [tmp_path / "m.json", tmp_path / "s.parquet"]
    code, out, err = run(["score", str(pred), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
                          "--json", str(outputs[0]), "--per-expression", str(outputs[1])], capsys, env_cache)
    assert code == 2
    assert message in " ".join(err.split()), err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3  # one message (rich may wrap it)
    assert not any(p.exists() for p in outputs)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in {"data", "cache"}) == ["pred.json"]


@pytest.mark.parametrize("content, message", [
    (b"", "file is empty"),
    (b'{"format": "grefbench-predictions/1", "predictions": [', "truncated JSON"),
    (b"hello world", "not valid JSON"),
    (gzip.compress(b'{"format": 1}')[:-6], "gzip stream is truncated or corrupt"),
    (b"[1, 2]", "expected a JSON object"),
])
def test_damaged_files_are_refused(root, tmp_path, capsys, env_cache, content, message):
    pred = tmp_path / "pred.json.gz"
    pred.write_bytes(content)
    code, _, err = run(["score", str(pred), "--data-root", str(root), "--dataset", "grefcoco", "--split", "val",
                        "--json", str(tmp_path / "m.json")], capsys, env_cache)
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert not (tmp_path / "m.json").exists()


def test_protocol_conflict_and_bad_table_suffix(root, document, tmp_path, capsys, env_cache):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    code, _, err = run(["score", str(pred), "--data-root", str(root), "--protocol", "rela480"], capsys, env_cache)
    assert code == 2 and "field 'protocol' is 'native' but --protocol rela480 was given" in " ".join(err.split())
    code, _, err = run(["score", str(pred), "--data-root", str(root), "--per-expression", str(tmp_path / "x.txt")],
                       capsys, env_cache)
    assert code == 2 and ".csv or .parquet" in err


def test_missing_dataset_files_are_named(document, tmp_path, capsys, env_cache):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    code, _, err = run(["score", str(pred), "--data-root", str(tmp_path / "nowhere")], capsys, env_cache)
    assert code == 2 and "refs file not found" in err and "Expected layout" in " ".join(err.split())


def test_validate(root, document, tmp_path, capsys, env_cache):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    code, out, _ = run(["validate", str(pred), "--data-root", str(root)], capsys, env_cache)
    assert code == 0 and "OK" in out and "coverage" in out
    document["predictions"][0]["no_target"] = 1
    pred.write_text(json.dumps(document))
    code, _, err = run(["validate", str(pred)], capsys, env_cache)
    assert code == 2 and "'no_target' must be true or false" in err


def test_score_process_never_imports_torch(root, document, tmp_path):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(document))
    script = (
        "import sys\nfrom grefbench.cli import main\n"
        f"try:\n    main(['score', {str(pred)!r}, '--data-root', {str(root)!r}, '--quiet'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules, 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={"GREFBENCH_CACHE_DIR": str(tmp_path / "cache"), "PATH": ""}, check=True).stdout
    assert out.split() == ["False", "False"]
