"""Fuzzing: mutated prediction files, annotation files and submission folders through `grefbench`.

Every input ends in exit code 0 with a result or exit code 2 with one error line, leaves nothing
behind on failure and stays under a memory limit (tests/fuzz.py). Deterministic (derandomize) and
small for CI; benchmarks/fuzz_inputs.py runs the same with many more examples.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grefbench.data import load_split
from tests import fuzz
from tests.builders import random_predictions, tiny_grefcoco

# benchmarks/fuzz_inputs.py sets these for a long run; CI runs the same 25 examples each time.
CI = settings(max_examples=int(os.environ.get("GREFBENCH_FUZZ_EXAMPLES", "25")),
              derandomize=not os.environ.get("GREFBENCH_FUZZ_RANDOM"), deadline=None,
              suppress_health_check=list(HealthCheck), database=None)


class Fixture:
    """A tiny gRefCOCO root, a valid prediction document for its val split, and scratch space."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="grefbench-fuzz-"))
        self.root = tiny_grefcoco(self.base / "data")
        split = load_split(self.root, "grefcoco", "val", use_cache=False)
        self.document = {"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val",
                         "protocol": "native", "model": {"name": "fuzzed"},
                         "predictions": random_predictions(split, "native", 0)}
        self.instances = json.loads((self.root / "grefcoco" / "instances.json").read_text())
        self.refs = json.loads((self.root / "grefcoco" / "grefs(unc).json").read_text())
        self.no_target = {**self.document, "predictions": [{"sent_id": r.sent_id, "no_target": True}
                                                           for r in split.records]}

    def scratch(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.base))


@pytest.fixture(scope="module")
def world():
    made = Fixture()
    yield made
    shutil.rmtree(made.base, ignore_errors=True)


@pytest.fixture(autouse=True)
def _cache(world, monkeypatch):
    monkeypatch.setenv("GREFBENCH_CACHE_DIR", str(world.base / "cache"))


def prediction_files(world: Fixture):
    return fuzz.mutated(world.document).flatmap(fuzz.encoded)


@CI
@given(data=st.data())
def test_prediction_files(world, data):
    content = data.draw(prediction_files(world))
    folder = world.scratch()
    pred = fuzz.write(folder / "pred.json", content)
    out = folder / "out"
    fuzz.check(["score", pred, "--data-root", world.root, "--json", out / "m.json", "--per-expression",
                out / "s.csv", "--quiet"], out, result=out / "m.json")
    fuzz.check(["validate", pred], out)


@CI
@given(data=st.data(), which=st.sampled_from(["annotations", "images", "instances", "refs", "both"]))
def test_annotation_files(world, data, which):
    folder = world.scratch()
    root = folder / "data" / "grefcoco"
    instances, refs = world.instances, world.refs
    if which in ("annotations", "images"):  # straight to the numbers that size masks and reach pycocotools
        instances = {**instances, which: data.draw(fuzz.mutated(instances[which], max_mutations=2))}
    if which in ("instances", "both"):
        instances = data.draw(fuzz.mutated(instances))
    if which in ("refs", "both"):
        refs = data.draw(fuzz.mutated(refs))
    encode = fuzz.encoded if data.draw(st.integers(0, 3)) == 0 else (lambda value: st.just(json.dumps(value).encode()))
    fuzz.write(root / "instances.json", data.draw(encode(instances)))
    fuzz.write(root / "grefs(unc).json", data.draw(encode(refs)))
    pred = fuzz.write(folder / "pred.json", json.dumps(world.no_target).encode())
    out = folder / "out"
    for protocol in ("native", "rela480"):
        document = {**world.no_target, "protocol": protocol}
        pred.write_text(json.dumps(document))
        code, _ = fuzz.check(["score", pred, "--data-root", folder / "data", "--json", out / "m.json", "--quiet"],
                             out, result=out / "m.json")
    if code == 0:  # the analysis shows categories and sentences, and breaks the metrics down by them
        fuzz.check(["analyze", pred, "--data-root", folder / "data", "--csv", out / "a.csv"], out, result=out / "a.csv")


METADATA = {"name": "Fuzzed model", "backbone": "Swin-B", "paper": "https://arxiv.org/abs/2306.00968",
            "date": "2024-01-02", "protocol": "native", "notes": "plain"}
REPORTED = {"source": {"repository": "owner/name", "path": "README.md"},
            "results": [{"dataset": "grefcoco", "split": "val", "protocol": "native", "cIoU": 50, "gIoU": 51}]}
YAML_TEXTS = st.sampled_from([
    "name: &a [x, x]\nnotes: *a\n",
    "name: x\ndate: [&a [1, 1, 1], &b [*a, *a, *a], &c [*b, *b, *b]]\n",
    "\ufeffname: BOM model\n",
    "name: \xff\xfe\n",
    "name: " + "[" * 5000 + "]" * 5000 + "\n",
    "name: !!python/object/apply:os.system ['echo no']\n",
    "name: x\ndate: 2024-13-45\n",
    "name: 1" + "0" * 5000 + "\n",
    "name: x\n\tnotes: tab\n",
    "",
])


@st.composite
def submission_folders(draw, world: Fixture) -> Path:
    """A submission folder built from valid parts, with its YAML, prediction file or layout mutated."""
    base = world.scratch() / "subs"
    folder = base / draw(st.sampled_from(["model", "model", "bad name", ".hidden-ok", "a" * 120]))
    folder.mkdir(parents=True)
    metadata_text = (draw(YAML_TEXTS) if draw(st.booleans()) else
                     yaml.safe_dump(draw(fuzz.mutated(METADATA)), allow_unicode=True))
    (folder / "submission.yaml").write_bytes(metadata_text.encode("utf-8", "surrogatepass"))
    if draw(st.booleans()):
        (folder / "reported.yaml").write_text(yaml.safe_dump(draw(fuzz.mutated(REPORTED))))
    if draw(st.booleans()):
        pred = folder / "predictions" / "grefcoco" / draw(st.sampled_from(["val.json", "val.json.gz", "testZ.json"]))
        fuzz.write(pred, draw(prediction_files(world)))
    layout = draw(st.sampled_from(["as is", "as is", "link outside", "link inside", "extra file", "dangling", "loop",
                                   "fifo"]))
    outside = base.parent / "outside.json"
    outside.write_text(json.dumps(world.document))
    if layout == "link outside":
        target = folder / "predictions" / "grefcoco" / "val.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        target.symlink_to(outside)
    elif layout == "link inside":
        (folder / "README.md").symlink_to(folder / "submission.yaml")
    elif layout == "extra file":
        (folder / "notes.txt").write_text("x")
    elif layout == "loop":
        (folder / "README.md").symlink_to(folder / "README.md")
    elif layout == "fifo":
        (folder / "reported.yaml").unlink(missing_ok=True)
        os.mkfifo(folder / "reported.yaml")
    elif layout == "dangling":
        (folder / "reported.yaml").unlink(missing_ok=True)
        (folder / "reported.yaml").symlink_to(base / "nowhere.yaml")
    return folder


@CI
@given(data=st.data())
def test_submission_folders(world, data):
    folder = data.draw(submission_folders(world))
    fuzz.check(["validate", folder, "--data-root", world.root], folder.parent)
    if not (folder / "predictions").exists():  # a build that scores files is too slow for every example
        site = folder.parent.parent / "site"
        fuzz.check(["leaderboard", "build", "--submissions", folder.parent, "--out", site, "--quiet"], site,
                   result=site / "index.html")
