"""The one output writer: streams, links, inputs, and all-or-nothing transactions (in-process)."""

from __future__ import annotations

import errno
import json
import os

import pytest

from grefbench.cli import main
from grefbench.data import load_split
from grefbench.errors import OutputError
from grefbench.io import atomic
from grefbench.io.atomic import check_outputs, remove, transaction, write_text
from tests.builders import random_predictions, tiny_grefcoco


def test_transaction_commits_all_or_nothing(tmp_path):
    with transaction():
        write_text(tmp_path / "a.txt", "a")
        write_text(tmp_path / "new" / "deeper" / "b.txt", "b")
        assert not (tmp_path / "a.txt").exists()  # staged, not yet visible
    assert (tmp_path / "a.txt").read_text() == "a" and (tmp_path / "new" / "deeper" / "b.txt").read_text() == "b"

    (tmp_path / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), transaction():
        write_text(tmp_path / "old.txt", "new")
        write_text(tmp_path / "other" / "c.txt", "c")
        remove(tmp_path / "a.txt")
        raise RuntimeError("display failed")
    assert (tmp_path / "old.txt").read_text() == "old" and (tmp_path / "a.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "new", "old.txt"]  # no temp, no new folder


def test_check_outputs_refuses_inputs_and_repeats(tmp_path):
    source = tmp_path / "p.json"
    source.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(source)
    with pytest.raises(OutputError, match="same file as PREDICTIONS"):
        check_outputs({"--json": link}, {"PREDICTIONS": source})
    with pytest.raises(OutputError, match="same file"):
        check_outputs({"--json": tmp_path / "x.csv", "--csv": tmp_path / "sub" / ".." / "x.csv"}, {})
    check_outputs({"--json": "-", "--csv": tmp_path / "x.csv"}, {"PREDICTIONS": source})
    with pytest.raises(OutputError, match="both go to standard output"):
        check_outputs({"--json": "-", "--csv": "-"}, {"PREDICTIONS": source})


def test_input_read_in_a_transaction_is_never_replaced(tmp_path):
    from grefbench.io.limits import read_input

    source = tmp_path / "in.json"
    source.write_text("{}")
    with pytest.raises(OutputError, match="is the input"), transaction():
        read_input(source)
        write_text(tmp_path / "." / "in.json", "overwritten")
    assert source.read_text() == "{}"


@pytest.fixture
def scored(tmp_path):
    root = tiny_grefcoco(tmp_path / "data")
    split = load_split(root, "grefcoco", "val")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps({"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val",
                                "protocol": "native", "model": {"name": "m"},
                                "predictions": random_predictions(split, "native", 0)}))
    return ["score", str(pred), "--data-root", str(root)]


def _exit_code(args) -> int:
    try:
        main(args)
    except SystemExit as exit:
        return exit.code
    return 0


def test_a_failing_display_leaves_no_output(scored, tmp_path, monkeypatch, capsys):
    from grefbench import console

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(console, "metrics_table", broken)
    assert _exit_code([*scored, "--json", str(tmp_path / "m.json"), "--per-expression", str(tmp_path / "s.csv")]) == 2
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "s.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("code, text", [(errno.EROFS, "Read-only file system"), (errno.ENOSPC, "No space left")])
def test_read_only_or_full_disk_is_one_line(scored, tmp_path, monkeypatch, capsys, code, text):
    def failing(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "replace", failing)
    (tmp_path / "m.json").write_text("earlier")
    assert _exit_code([*scored, "--json", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and text in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "m.json").read_text() == "earlier"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
