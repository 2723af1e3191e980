"""Hostile and unusual input through the installed `grefbench` console script (issue 22, case by case).

Every refusal is exit code 2 with one `error:` line on stderr, no traceback, and no output left
behind; memory-hungry cases run under an address-space limit.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from grefbench.data import load_split
from tests.builders import image, polygon_annotation, random_predictions, ref, tiny_grefcoco, write_dataset

GREFBENCH = Path(sys.executable).parent / "grefbench"
LIMIT_MB = 1536


def cli(*args, env: dict | None = None, limit_mb: int | None = LIMIT_MB, timeout: float = 60,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run this tree's console script under an address-space limit (None: no limit)."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    environment.pop("GREFBENCH_TRACEBACK", None)

    def limit() -> None:
        if limit_mb is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))

    return subprocess.run([str(GREFBENCH), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=environment, preexec_fn=limit, cwd=cwd)


def refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert exit code 2 with exactly one error line holding every fragment; return the line."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def root(tmp_path):
    return tiny_grefcoco(tmp_path / "data")


@pytest.fixture
def document(root):
    split = load_split(root, "grefcoco", "val")
    return {"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val", "protocol": "native",
            "model": {"name": "random"}, "predictions": random_predictions(split, "native", 0)}


@pytest.fixture
def pred(tmp_path, document):
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(document))
    return path


def _score(pred: Path, root: Path, *more) -> list:
    return ["score", pred, "--data-root", root, *more]


def _new_files(folder: Path, before: set[str]) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} - before


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# 1. An output replaces whatever is at its path.

def test_output_same_as_input_is_refused_before_any_work(pred, root):
    original = pred.read_bytes()
    refused(cli(*_score(pred, root, "--json", pred)), "--json", "same file as PREDICTIONS")
    assert pred.read_bytes() == original


def test_output_to_stdout_fifo_and_links(pred, root, tmp_path):
    result = cli(*_score(pred, root, "--json", "-", "--quiet"))
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"metrics", "counts", "breakdown", "provenance"}

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert cli(*_score(pred, root, "--json", fifo, "--quiet")).returncode == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and json.loads(received[0])["metrics"]

    null_link = tmp_path / "null"
    null_link.symlink_to("/dev/null")
    target = tmp_path / "real.json"
    target.write_text("old")
    file_link = tmp_path / "link.json"
    file_link.symlink_to(target)
    assert cli(*_score(pred, root, "--json", null_link, "--quiet")).returncode == 0
    assert cli(*_score(pred, root, "--json", file_link, "--quiet")).returncode == 0
    assert null_link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert file_link.is_symlink() and json.loads(target.read_text())["metrics"]


def test_output_to_a_directory_is_refused(pred, root, tmp_path):
    refused(cli(*_score(pred, root, "--json", tmp_path)), "is a directory")


# 2. Usage errors.

@pytest.mark.parametrize("args, fragment", [
    ([], "missing a command"),
    (["scor"], "Did you mean 'score'"),
    (["score", "p.json", "--jsno", "x"], "Did you mean --json"),
    (["eval", "--batch-size", "abc"], "--batch-size"),
    (["leaderboard"], "missing a command (build)"),
])
def test_usage_errors_are_one_line_with_exit_2(args, fragment, tmp_path):
    refused(cli(*args, cwd=tmp_path), fragment)


def test_help_and_version():
    for flag in ("-h", "--help"):
        result = cli(flag)
        assert result.returncode == 0 and "score" in result.stdout and not result.stderr
    assert cli("score", "-h").stdout.count("--json") == 1
    import grefbench

    assert cli("--version").stdout.strip() == f"grefbench {grefbench.__version__}"


# 3. Text from files is shown as plain text.

def test_model_name_is_shown_literally(pred, root, tmp_path, document):
    document["model"]["name"] = "ReLA [/bold] v2 [link=https://evil.example]x[/link] :smile: \x1b[2J\u202e"
    pred.write_text(json.dumps(document))
    result = cli(*_score(pred, root, "--json", tmp_path / "m.json"))
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())  # the title may wrap
    assert "ReLA [/bold] v2 [link=https://evil.example]x[/link] :smile:" in shown
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\\x1b[2J\\u202e" in shown
    result = cli("validate", pred)
    assert result.returncode == 0 and "\x1b" not in result.stdout


def test_error_messages_show_control_characters(tmp_path):
    bad = tmp_path / "evil\x1b[2J.json"
    bad.write_text("[]")
    line = refused(cli("validate", bad), "evil\\x1b[2J.json")
    assert "\x1b" not in line


# 4. Ground-truth polygons are bounds-checked.

def _one_annotation_root(tmp_path, segmentation, height=40, width=60):
    annotation = polygon_annotation(11, 1, [[1, 1, 5, 1, 5, 5]])
    if segmentation is None:
        del annotation["segmentation"]
    else:
        annotation["segmentation"] = segmentation
    images = [image(1, 40, 60)]
    images[0].update(height=height, width=width)
    if height is None:
        del images[0]["height"]
    return write_dataset(tmp_path / "data", images=images, annotations=[annotation],
                         refs=[ref(100, 1, [11], "val", [(1000, "the thing")])], write_images=False)


def _empty_prediction(tmp_path, height=40, width=60):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val",
                                "protocol": "rela480", "model": {"name": "m"},
                                "predictions": [{"sent_id": 1000, "no_target": True}]}))
    return path


@pytest.mark.parametrize("segmentation, fragments", [
    ([[1, 1, 1e9, 1, 5, 5]], ("annotation 11", "far outside", "60x40")),
    ([[1, 1, 1e7, 1, 5, 5]], ("annotation 11", "far outside")),
    ([[1, 1, "12", 1, 5, 5]], ("annotation 11", "'12'", "not a number")),
    (None, ("annotation 11", "no 'segmentation'")),
    ({"size": [40, 60], "counts": [10, 1 << 40]}, ("annotation 11", "uncompressed RLE")),
])
def test_ground_truth_numbers_are_checked(tmp_path, segmentation, fragments):
    root = _one_annotation_root(tmp_path, segmentation)
    result = cli(*_score(_empty_prediction(tmp_path), root), limit_mb=1024, timeout=30,
                 env={"GREFBENCH_CACHE_DIR": str(tmp_path / "cache")})
    refused(result, *fragments)


@pytest.mark.parametrize("height, fragment", [(0, "'height' must be an integer in [1, 32768], found 0"),
                                              (None, "lacks the field 'height'"),
                                              (1 << 40, "'height' must be an integer in [1, 32768]")])
def test_image_sizes_are_checked(tmp_path, height, fragment):
    root = _one_annotation_root(tmp_path, [[1, 1, 5, 1, 5, 5]], height=height)
    refused(cli(*_score(_empty_prediction(tmp_path), root), env={"GREFBENCH_CACHE_DIR": str(tmp_path / "c")}),
            "image 1", fragment)


# 5. Gzip inflation is capped; so is a plain file.

def test_gzip_bomb_is_refused_fast_in_bounded_memory(tmp_path):
    bomb = tmp_path / "bomb.json.gz"
    with gzip.open(bomb, "wb") as handle:
        for _ in range(64):
            handle.write(b" " * (1 << 20))
    result = cli("validate", bomb, env={"GREFBENCH_MAX_INPUT_MB": "16"}, limit_mb=1024, timeout=30)
    refused(result, "the gzip stream inflates and passes the limit of 16 MB", "GREFBENCH_MAX_INPUT_MB")
    plain = tmp_path / "big.json"
    plain.write_bytes(b" " * (20 << 20))
    refused(cli("validate", plain, env={"GREFBENCH_MAX_INPUT_MB": "16"}), "the file is 20.0 MB, over the limit")
    refused(cli("validate", plain, env={"GREFBENCH_MAX_INPUT_MB": "many"}), "GREFBENCH_MAX_INPUT_MB='many'")


# 6. YAML aliases.

def test_yaml_alias_bomb_is_refused(tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        levels.append(f"{chr(97 + level)}: &{chr(97 + level)} [{', '.join([f'*{chr(96 + level)}'] * 9)}]")
    (folder / "submission.yaml").write_text("name: bomb\n" + "\n".join(levels) + "\ndate: *l\n")
    refused(cli("validate", folder, timeout=20), "aliases (*name) are not allowed")


# 7. More tracebacks that became one line.

@pytest.mark.parametrize("mutate, fragments", [
    (lambda d: d["predictions"][0].update(sent_id=1 << 63), ("'sent_id' must be an integer in",)),
    (lambda d: d["predictions"][0].update(sent_id=1 << 64), ("'sent_id' must be an integer in", "1.8446744073709552e+19")),
    (lambda d: d["predictions"][0].update(no_target=False, mask={"size": [1 << 32, 1 << 32], "counts": "0"}),
     ("mask 'size' must be an integer in [1, 32768]",)),
    (lambda d: d["predictions"][0].update(no_target=False, mask={"size": [30000, 30000], "counts": "0"}),
     ("pixels, more than",)),
    (lambda d: d.update(provenance="NESTED"), ("field 'provenance' is nested more than 32 levels",)),
    (lambda d: d["model"].update(extra=_nested(100)), ("field 'model' is nested more than 32 levels",)),
])
def test_numbers_and_nesting_in_prediction_files(pred, root, document, tmp_path, mutate, fragments):
    mutate(document)
    deep = '{"a": ' * 1000 + "{}" + "}" * 1000  # deeper than json.dumps writes
    pred.write_text(json.dumps(document).replace('"NESTED"', deep))
    refused(cli(*_score(pred, root, "--json", tmp_path / "m.json")), *fragments)
    assert not (tmp_path / "m.json").exists()


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_devices_and_fifos_as_input_are_refused_at_once(tmp_path, root):
    refused(cli("validate", "/dev/zero", timeout=20), "not a regular file")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    refused(cli("validate", fifo, timeout=20), "not a regular file")
    refused(cli("score", fifo, "--data-root", root, timeout=20), "not a regular file")


def test_full_disk_leaves_nothing(pred, root, tmp_path):
    # 8. as well: the --json that would have been written first is not left behind.
    full = tmp_path / "full.csv"
    full.symlink_to("/dev/full")
    before = _snapshot(tmp_path)
    refused(cli(*_score(pred, root, "--json", tmp_path / "m.json", "--per-expression", full)),
            "No space left on device")
    assert _new_files(tmp_path, before) == set()
    refused(cli(*_score(pred, root, "--json", "/dev/full")), "No space left on device")


def test_unwritable_output_places(pred, root, tmp_path):
    refused(cli(*_score(pred, root, "--json", "/proc/version/m.json")), "cannot write")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused(cli(*_score(pred, root, "--json", blocker / "m.json")), "cannot write")


# Also rough.

def test_utf8_bom_is_accepted(pred, root):
    pred.write_bytes(b"\xef\xbb\xbf" + pred.read_bytes())
    result = cli("validate", pred)
    assert result.returncode == 0, result.stderr


def test_submission_link_outside_is_refused(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    folder = tmp_path / "subs" / "linky"
    (folder / "predictions" / "grefshapes").mkdir(parents=True)
    (folder / "submission.yaml").write_text("name: linky\n")
    (folder / "predictions" / "grefshapes" / "val.json").symlink_to(secret)
    refused(cli("validate", folder), "link to a file outside the submission folder")


def test_leaderboard_out_and_submissions_must_not_overlap(tmp_path):
    subs = tmp_path / "subs"
    (subs / "paper").mkdir(parents=True)
    (subs / "paper" / "submission.yaml").write_text("name: Paper\n")
    (subs / "paper" / "reported.yaml").write_text(
        "source: {arxiv: '2306.00968'}\nresults:\n  - {dataset: grefcoco, split: val, protocol: native, gIoU: 1}\n")
    refused(cli("leaderboard", "build", "--submissions", subs, "--out", subs), "overlap")
    refused(cli("leaderboard", "build", "--submissions", subs, "--out", subs / "site"), "overlap")
    site = tmp_path / "site"
    (site / "submissions").mkdir(parents=True)
    (site / "submissions" / "mine.html").write_text("kept")
    (subs / "copy").mkdir()
    (subs / "copy" / "submission.yaml").write_text("name: paper\n")
    (subs / "copy" / "reported.yaml").write_text((subs / "paper" / "reported.yaml").read_text())
    result = cli("leaderboard", "build", "--submissions", subs, "--out", site)
    assert result.returncode == 0, result.stderr
    assert "both named" in result.stderr
    assert (site / "submissions" / "mine.html").read_text() == "kept"
    (subs / "copy" / "reported.yaml").unlink()
    (subs / "copy" / "submission.yaml").unlink()
    (subs / "copy").rmdir()
    assert cli("leaderboard", "build", "--submissions", subs, "--out", site).returncode == 0
    assert not (site / "submissions" / "copy.html").exists() and (site / "submissions" / "mine.html").exists()


def test_malicious_checkpoint_names_the_refused_global(tmp_path):
    import torch

    from grefbench.errors import CheckpointError
    from grefbench.models.rela.checkpoint import read_checkpoint

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    path = tmp_path / "evil.pth"
    torch.save({"model": Payload()}, path)
    with pytest.raises(CheckpointError, match=r"the global posix\.system") as raised:
        read_checkpoint(path)
    assert "weights_only" not in str(raised.value)


def test_split_name_from_a_refs_file_stays_inside_the_cache(tmp_path):
    annotation = polygon_annotation(11, 1, [[1, 1, 5, 1, 5, 5]])
    evil = "../../../escaped"
    root = write_dataset(tmp_path / "data", images=[image(1, 40, 60)], annotations=[annotation],
                         refs=[ref(100, 1, [11], evil, [(1000, "the thing")])], write_images=False)
    pred = tmp_path / "p.json"
    pred.write_text(json.dumps({"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": evil,
                                "protocol": "native", "model": {"name": "m"},
                                "predictions": [{"sent_id": 1000, "no_target": True}]}))
    cache = tmp_path / "deep" / "er" / "cache"
    result = cli("score", pred, "--data-root", root, env={"GREFBENCH_CACHE_DIR": str(cache)})
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.rglob("*escaped*")) or all(cache in p.parents for p in tmp_path.rglob("*escaped*"))


def test_lone_surrogate_in_a_refs_pickle_is_named(tmp_path):
    annotation = polygon_annotation(11, 1, [[1, 1, 5, 1, 5, 5]])
    root = write_dataset(tmp_path / "data", images=[image(1, 40, 60)], annotations=[annotation],
                         refs=[ref(100, 1, [11], "val", [(1000, "bad \udc80 text")])], write_images=False,
                         refs_format="pickle")
    result = cli(*_score(_empty_prediction(tmp_path), root, "--per-expression", tmp_path / "s.csv"),
                 env={"GREFBENCH_CACHE_DIR": str(tmp_path / "cache")})
    refused(result, "ref 100", "lone surrogate")
    assert not (tmp_path / "s.csv").exists()


def test_refs_pickle_that_repeats_shared_objects_is_refused(tmp_path):
    import pickle

    annotation = polygon_annotation(11, 1, [[1, 1, 5, 1, 5, 5]])
    root = write_dataset(tmp_path / "data", images=[image(1, 40, 60)], annotations=[annotation],
                         refs=[ref(100, 1, [11], "val", [(1000, "x")])], write_images=False)
    sentences = [{"sent_id": 1000, "raw": "x"}] * 5000  # one dict, 5000 memo references
    shared = {"ref_id": 100, "image_id": 1, "ann_id": [11], "split": "val", "sentences": sentences}
    (root / "grefcoco" / "grefs(unc).p").write_bytes(pickle.dumps([shared] * 5000))  # 25M sentences, ~20 KB
    assert (root / "grefcoco" / "grefs(unc).p").stat().st_size < 50_000
    result = cli(*_score(_empty_prediction(tmp_path), root), limit_mb=1024, timeout=30,
                 env={"GREFBENCH_CACHE_DIR": str(tmp_path / "cache")})
    refused(result, "repeats shared objects")


def test_hostile_images_do_not_stop_a_report(pred, root, tmp_path):
    from PIL import Image

    images = sorted((root / "images" / "train2014").iterdir())
    Image.new("1", (14000, 14000)).save(images[0], format="PNG")  # over twice PIL's pixel limit: a "bomb"
    images[1].unlink()
    os.mkfifo(images[1])  # would block a reader forever
    result = cli("analyze", pred, "--data-root", root, "--html", tmp_path / "r.html", "--quiet", timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").stat().st_size > 0
