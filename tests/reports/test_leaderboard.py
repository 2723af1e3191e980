"""The static leaderboard: tables, pages, escaping, links, incremental re-scoring, stale pages."""

import json
import shutil

import pytest

from grefbench.data import load_split
from grefbench.errors import UsageError
from grefbench.io.predictions import write_predictions
from grefbench.reports.leaderboard import build_leaderboard
from tests.builders import random_predictions, tiny_grefcoco
from tests.reports.predictors import write_perturbed


def test_build_writes_tables_and_pages(submissions, tmp_path):
    out = tmp_path / "site"
    report = build_leaderboard(submissions, out, gallery_per_class=1)
    assert report.scored == ["verified-model/grefshapes/val"] and report.reused == []
    assert report.submissions == 3 and report.reported_rows == 4
    assert len(report.warnings) == 1 and "javascript:alert(2)" in report.warnings[0]
    index = (out / "index.html").read_text()
    results = json.loads((out / "results.json").read_text())
    titles = [t["title"] for t in results["tables"]]
    assert titles == ["grefcoco · val · protocol unspecified", "grefshapes · val · protocol rela480"]
    shapes = results["tables"][1]["rows"]
    assert [(r["name"], r["status"]) for r in shapes] == [("Verified model", "verified"),
                                                          ("<script>alert(1)</script>", "reported"),
                                                          ("Paper model", "reported")]
    assert shapes[0]["metrics"]["num_expressions"] == 923
    assert '<tr class="verified">' in index and '<tr class="reported">' in index
    for page in ("verified-model", "paper-model", "hostile"):
        assert f'href="submissions/{page}.html"' in index
        assert (out / "submissions" / f"{page}.html").is_file()
    verified_page = (out / "submissions" / "verified-model.html").read_text()
    assert "Failure classes" in verified_page and "data:image/jpeg;base64," in verified_page and "<svg" in verified_page
    paper_page = (out / "submissions" / "paper-model.html").read_text()
    assert "owner/name" in paper_page and "0123456789abcdef0123456789abcdef01234567" in paper_page
    assert "from Table 1" in paper_page


def test_metadata_is_text_and_only_http_links_survive(submissions, tmp_path):
    out = tmp_path / "site"
    build_leaderboard(submissions, out, gallery_per_class=0)
    for page in (out / "index.html", out / "submissions" / "hostile.html"):
        text = page.read_text()
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<img src=x" not in text
        assert "javascript:" not in text
    hostile = (out / "submissions" / "hostile.html").read_text()
    assert 'href="https://example.org/p"' in hostile
    assert hostile.count("<script>") == 1  # the page's own sorting script, nothing else


def test_rebuilds_only_what_changed(submissions, tmp_path, shapes_val):
    out = tmp_path / "site"
    build_leaderboard(submissions, out, gallery_per_class=0)
    again = build_leaderboard(submissions, out, gallery_per_class=0)
    assert again.scored == [] and again.reused == ["verified-model/grefshapes/val"]
    write_perturbed(submissions / "verified-model" / "predictions" / "grefshapes" / "val.json.gz", shapes_val,
                    quality=0.6)
    changed = build_leaderboard(submissions, out, gallery_per_class=0)
    assert changed.scored == ["verified-model/grefshapes/val"]
    assert build_leaderboard(submissions, out, gallery_per_class=1).scored == ["verified-model/grefshapes/val"]
    (out / "state.json").write_text("{ not json")
    assert build_leaderboard(submissions, out, gallery_per_class=1).scored == ["verified-model/grefshapes/val"]
    cache = out / "cache" / "verified-model" / "grefshapes-val.json"
    cache.write_text("[]")
    assert build_leaderboard(submissions, out, gallery_per_class=1).scored == ["verified-model/grefshapes/val"]


def test_changed_annotations_rescore(tmp_path):
    data = tiny_grefcoco(tmp_path / "data")
    split = load_split(data, "grefcoco", "val")
    folder = tmp_path / "submissions" / "tiny"
    write_predictions(folder / "predictions" / "grefcoco" / "val.json", dataset="grefcoco", split="val",
                      protocol="native", model={"name": "random"}, entries=random_predictions(split, "native", 0))
    (folder / "submission.yaml").write_text("name: Tiny\nprotocol: native\n")
    out = tmp_path / "site"
    with pytest.raises(UsageError, match=r"submission .*tiny: scoring grefcoco val needs --data-root"):
        build_leaderboard(tmp_path / "submissions", out)
    assert build_leaderboard(tmp_path / "submissions", out, data_root=data).scored == ["tiny/grefcoco/val"]
    assert build_leaderboard(tmp_path / "submissions", out, data_root=data).scored == []
    instances = data / "grefcoco" / "instances.json"
    document = json.loads(instances.read_text())
    document["info"] = {"description": "edited"}
    instances.write_text(json.dumps(document))
    assert build_leaderboard(tmp_path / "submissions", out, data_root=data).scored == ["tiny/grefcoco/val"]


def test_removed_submissions_lose_their_pages(submissions, tmp_path):
    out = tmp_path / "site"
    build_leaderboard(submissions, out, gallery_per_class=0)
    shutil.rmtree(submissions / "verified-model")
    report = build_leaderboard(submissions, out, gallery_per_class=0)
    assert report.submissions == 2
    assert not (out / "submissions" / "verified-model.html").exists()
    assert not (out / "cache" / "verified-model").exists()
    assert "verified-model" not in json.loads((out / "state.json").read_text())["entries"]


def test_zero_target_reported_rows_get_their_own_tables(tmp_path):
    from pathlib import Path

    submissions = tmp_path / "subs"
    submissions.mkdir()
    shutil.copytree(Path(__file__).resolve().parents[2] / "submissions" / "dmmi-swin-b", submissions / "dmmi-swin-b")
    folder = submissions / "r-model"
    folder.mkdir()
    (folder / "submission.yaml").write_text("name: R model\nprotocol: rrefcoco480\n")
    (folder / "reported.yaml").write_text("source: {repository: owner/name, path: README.md}\nresults:\n"
                                          "  - {dataset: rrefcoco, split: val, protocol: rrefcoco480, mIoU: 60, rIoU: 40, r: 70}\n")
    build_leaderboard(submissions, tmp_path / "site", gallery_per_class=0)
    tables = {t["dataset"]: t for t in json.loads((tmp_path / "site" / "results.json").read_text())["tables"]}
    assert tables["refzom"]["metrics"][:3] == ["oIoU", "mIoU", "Acc"]
    assert tables["refzom"]["rows"][0]["metrics"]["oIoU"] == 68.77
    assert tables["rrefcoco"]["rows"][0]["metrics"]["rIoU"] == 40
    page = (tmp_path / "site" / "index.html").read_text()
    assert 'data-metric="rIoU"' in page and 'data-metric="Acc"' in page
