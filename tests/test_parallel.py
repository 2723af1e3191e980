"""grefbench.parallel: a forked child's result, its errors, and stopping it."""

import os
import pickle
import time

import pytest

from grefbench import parallel
from grefbench.errors import SubmissionError

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _pid_and(value):
    return os.getpid(), value


def _fails(message):
    raise SubmissionError(message)


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no")


def _fails_unpicklably():
    raise _Unpicklable("a lock inside")


def test_result_comes_from_another_process():
    pid, value = parallel.start(_pid_and, {"big": b"x" * 1_000_000}).result()
    assert pid != os.getpid()
    assert value == {"big": b"x" * 1_000_000}


def test_inline_when_fork_is_off():
    pid, value = parallel.start(_pid_and, 3, fork=False).result()
    assert (pid, value) == (os.getpid(), 3)
    with pytest.raises(SubmissionError, match="inline"):
        parallel.start(_fails, "inline", fork=False).result()


def test_child_errors_are_raised_in_the_parent_with_their_type():
    pending = parallel.start(_fails, "sent_id 7: bad mask")
    with pytest.raises(SubmissionError, match="sent_id 7: bad mask"):
        pending.result()
    with pytest.raises(RuntimeError, match="_Unpicklable: a lock inside"):
        parallel.start(_fails_unpicklably).result()


def test_leaving_the_context_stops_a_child_nobody_waited_for():
    with parallel.started(time.sleep, 60) as pending:
        pid = pending._pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind


def test_default_jobs_is_a_small_positive_count():
    assert 1 <= parallel.default_jobs() <= 4


def test_prediction_file_pickles_through_flat_buffers(tmp_path):
    import numpy as np

    from grefbench.io import rle
    from grefbench.io.predictions import read_predictions, write_predictions

    diagonal = rle.encode(np.eye(2, dtype=np.uint8))
    entries = [{"sent_id": 1, "no_target": True},
               {"sent_id": 2, "no_target": False, "mask": diagonal},
               {"sent_id": 3, "no_target": True, "mask": rle.empty(2, 2)}]
    path = write_predictions(tmp_path / "p.json", dataset="grefcoco", split="val", protocol="native",
                             model={"name": "m"}, entries=entries)
    parsed = read_predictions(path)
    copy = pickle.loads(pickle.dumps(parsed))
    assert copy.masks == parsed.masks == [None, rle.as_bytes(diagonal), rle.empty(2, 2)]
    assert copy.sent_ids.tolist() == [1, 2, 3] and copy.no_target.tolist() == [True, False, True]
    assert (copy.path, copy.model, copy.protocol) == (parsed.path, parsed.model, parsed.protocol)
