"""The mask codec: round trips, RLE-space intersections, and refusal of corrupt counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grefbench.io import rle

masks = st.tuples(st.integers(1, 24), st.integers(1, 24)).flatmap(
    lambda shape: arrays(np.bool_, shape, elements=st.booleans())
)


@given(masks)
def test_encode_decode_round_trip(mask):
    encoded = rle.encode(mask)
    assert encoded["size"] == list(mask.shape)
    assert isinstance(encoded["counts"], str)
    assert np.array_equal(rle.decode(encoded), mask.astype(np.uint8))
    assert rle.check_counts([encoded["counts"].encode()], [mask.size]) is None
    assert rle.area([encoded])[0] == mask.sum()


@given(st.tuples(st.integers(1, 16), st.integers(1, 16)).flatmap(
    lambda shape: st.tuples(arrays(np.bool_, shape), arrays(np.bool_, shape))))
def test_intersection_and_union_match_dense(pair):
    first, second = pair
    a, b = rle.encode(first), rle.encode(second)
    assert rle.intersection_areas([a], [b])[0] == (first & second).sum()
    assert np.array_equal(rle.decode(rle.union([a, b])), (first | second).astype(np.uint8))


def test_empty_mask():
    empty = rle.empty(7, 9)
    assert rle.area([empty])[0] == 0
    assert rle.decode(empty).shape == (7, 9)


@settings(max_examples=60)
@given(st.lists(masks, min_size=1, max_size=12), st.data())
def test_batch_check_accepts_valid_and_finds_the_corrupt_item(batch, data):
    counts = [rle.encode(m)["counts"].encode() for m in batch]
    pixels = [m.size for m in batch]
    assert rle.check_counts(counts, pixels) is None
    victim = data.draw(st.integers(0, len(batch) - 1))
    corrupt = list(counts)
    corrupt[victim] = corrupt[victim] + b"1"  # one more run: covers more pixels than the size
    problem = rle.check_counts(corrupt, pixels)
    assert problem is not None and problem.index == victim


@pytest.mark.parametrize(
    "counts, reason",
    [
        (b"", "empty"),
        (b"5 1", "alphabet"),
        (b"0P", "ends in the middle"),  # 'P' has the continuation bit
        (b"01", "covers 1 pixels"),
        (b"9" + b"o" * 7 + b"0", "too long"),
        (b"0O", "negative run"),  # "O" = 31: a last chunk with the sign bit -> -1
    ],
)
def test_corruptions_are_named(counts, reason):
    problem = rle.check_counts([rle.encode(np.ones((3, 3), bool))["counts"].encode(), counts], [9, 12])
    assert problem is not None and problem.index == 1
    assert reason in problem.reason


def test_negative_delta_run_is_refused():
    # Runs after the third are deltas; a delta below the run two places before is negative.
    valid = rle.encode(np.array([[0, 1, 0, 1]], dtype=bool))["counts"].encode()
    assert rle.check_counts([valid], [4]) is None
    # counts 1,1,1,1 -> stored "1", "1", "1", "0" (delta of run 3 = 1 - 1); make the delta -2.
    assert valid == b"1110"
    problem = rle.check_counts([b"111N"], [4])  # 'N' = 30: chunk 0b11110, sign bit set -> -2
    assert problem is not None and "negative" in problem.reason


def test_area_of_large_batches():
    # pycocotools' own area() fails above 255 items under numpy 2; ours batches around it.
    masks = [rle.encode(np.eye(5, dtype=bool)[: 1 + i % 5]) for i in range(600)]
    assert rle.area(masks).tolist() == [1 + i % 5 for i in range(600)]
