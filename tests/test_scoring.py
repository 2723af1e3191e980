"""Scoring prediction files end to end, against the independent official reference."""

import numpy as np
import pytest

from grefbench.data import load_split
from grefbench.io import rle
from grefbench.io.predictions import write_predictions
from grefbench.io.tables import read_table_provenance, write_table
from grefbench.scoring import score_file
from tests import official_reference
from tests.builders import random_predictions, tiny_grefcoco


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


def _official(root, entries, protocol):
    refs, images, anns = official_reference.load_raw(root)
    by_sentence = {s["sent_id"]: r for r in refs for s in r["sentences"]}
    samples = []
    for entry in entries:
        ref = by_sentence[entry["sent_id"]]
        gt, gt_nt = official_reference.gt_mask(ref, images, anns, size480=protocol == "rela480")
        pred = rle.decode(entry["mask"]) if "mask" in entry else np.zeros_like(gt)
        samples.append({"pred_mask": pred, "gt_mask": gt, "gt_nt": gt_nt, "pred_nt": entry["no_target"]})
    return official_reference.evaluate(samples)


@pytest.mark.parametrize("protocol", ["native", "rela480"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_the_official_evaluator(root, tmp_path, protocol, seed):
    split = load_split(root, "grefcoco", "val")
    entries = random_predictions(split, protocol, seed, omit_masks=True)
    path = write_predictions(tmp_path / "pred.json.gz", dataset="grefcoco", split="val", protocol=protocol,
                             model={"name": "random"}, entries=entries)
    result = score_file(path, root, "grefcoco", "val", cache_dir=tmp_path / "cache")
    expected = _official(root, entries, protocol)
    for name, value in expected.items():
        if value is None:
            assert result.metrics[name] is None, name
        else:
            assert result.metrics[name] == pytest.approx(value, abs=1e-9), name
    assert result.provenance["protocol"] == protocol
    assert set(result.provenance["annotation_files"]) == {"grefs(unc).json", "instances.json"}


def test_per_sentence_table_and_provenance(root, tmp_path):
    split = load_split(root, "grefcoco", "val")
    entries = random_predictions(split, "native", 3)
    path = write_predictions(tmp_path / "pred.json", dataset="grefcoco", split="val", protocol="native",
                             model={"name": "random"}, entries=entries)
    result = score_file(path, root, "grefcoco", "val", keep_per_sentence=True, cache_dir=tmp_path / "cache")
    frame = result.per_sentence()
    assert list(frame.columns) == ["sent_id", "ref_id", "image_id", "sentence", "gt_no_target", "pred_no_target",
                                   "n_targets", "target_kind", "intersection", "union", "iou", "outcome"]
    assert frame["sent_id"].tolist() == [r.sent_id for r in split.records]
    assert frame["iou"].mean() * 100 == pytest.approx(result.metrics["gIoU"])
    assert frame["intersection"].sum() / frame["union"].sum() * 100 == pytest.approx(result.metrics["cIoU"])
    no_target_rows = frame[frame["sentence"] == "the cat on the sofa"]
    assert no_target_rows["target_kind"].tolist() == ["no-target"]
    for suffix in ("csv", "parquet"):
        written = write_table(tmp_path / f"table.{suffix}", frame, result.provenance)
        assert read_table_provenance(written)["dataset"] == "grefcoco"
    import pandas as pd

    assert len(pd.read_csv(tmp_path / "table.csv", comment="#")) == len(frame)
    assert len(pd.read_parquet(tmp_path / "table.parquet")) == len(frame)


def test_breakdown_partitions_the_sentences(root, tmp_path):
    split = load_split(root, "grefcoco", "val")
    path = write_predictions(tmp_path / "p.json", dataset="grefcoco", split="val", protocol="rela480",
                             model={"name": "r"}, entries=random_predictions(split, "rela480", 5))
    result = score_file(path, root, "grefcoco", "val", cache_dir=tmp_path / "cache")
    kinds = result.breakdown
    assert sum(k["num_expressions"] for k in kinds.values()) == result.metrics["num_expressions"] == 8
    assert kinds["no-target"]["num_expressions"] == 1
    assert kinds["multi"]["num_expressions"] == 3  # refs 101, 103, 106


def test_parallel_scoring_equals_serial(root, tmp_path, monkeypatch):
    """jobs=2 (validation, rasterisation and I/U in forked children) gives the very same numbers."""
    from grefbench import scoring
    from grefbench.data import groundtruth

    monkeypatch.setattr(scoring, "_PARALLEL_MIN_SENTENCES", 2)
    monkeypatch.setattr(groundtruth, "_REFS_PER_PROCESS", 1)
    split = load_split(root, "grefcoco", "val")
    for protocol in ("native", "rela480"):
        path = write_predictions(tmp_path / f"{protocol}.json", dataset="grefcoco", split="val", protocol=protocol,
                                 model={"name": "random"}, entries=random_predictions(split, protocol, 4))
        serial = score_file(path, root, keep_per_sentence=True, cache_dir=tmp_path / "serial")
        parallel = score_file(path, root, keep_per_sentence=True, cache_dir=tmp_path / "parallel", jobs=2)
        assert parallel.metrics == serial.metrics and parallel.breakdown == serial.breakdown
        assert parallel.per_sentence().equals(serial.per_sentence())
        built = {p.name: p.read_bytes() for p in (tmp_path / "parallel").iterdir()}
        assert built == {p.name: p.read_bytes() for p in (tmp_path / "serial").iterdir()}


def test_parallel_scoring_reports_the_submission_before_the_dataset(root, tmp_path):
    """A broken file and a broken data root: the file's error wins, as in the serial order."""
    from grefbench.errors import SubmissionError

    path = tmp_path / "p.json"
    path.write_text('{"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val", '
                    '"protocol": "native", "model": {"name": "m"}, "predictions": [{"sent_id": "x"}]}')
    for jobs in (1, 2):
        with pytest.raises(SubmissionError, match="'sent_id' must be an integer"):
            score_file(path, tmp_path / "no-such-root", jobs=jobs)
