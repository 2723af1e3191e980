"""The evaluator on a hand-made scene, and the realiser's wording of hand-made forms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from grefbench.data.synth import logic
from grefbench.data.synth.language import normalise, realise
from grefbench.data.synth.logic import all_, and_, count, except_, extreme, filter_, side, the


@dataclass(frozen=True)
class Thing:
    shape: str
    colour: str
    size: str
    x: float
    y: float


SCENE = [
    Thing("circle", "red", "large", 50, 100),  # 0
    Thing("circle", "red", "small", 200, 60),  # 1
    Thing("square", "blue", "medium", 120, 200),  # 2
    Thing("square", "blue", "medium", 220, 210),  # 3
    Thing("star", "green", "small", 30, 30),  # 4
]


def refers(form):
    return set(logic.evaluate(form, SCENE, 256))


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (the(filter_(shape="circle", colour="red", size="large")), {0}),
        (the(filter_(size="large")), {0}),
        (the(extreme(filter_(shape="square"), "left")), {2}),
        (the(extreme(filter_(), "top")), {4}),
        (the(extreme(filter_(shape="circle"), "bottom")), {0}),
        (all_(filter_(colour="blue")), {2, 3}),
        (count(2, filter_(shape="square")), {2, 3}),
        (all_(except_(filter_(), filter_(shape="square"))), {0, 1, 4}),
        (all_(except_(filter_(shape="circle"), filter_(shape="circle", size="small"))), {0}),
        (all_(side(filter_(), "left")), {0, 2, 4}),
        (all_(side(filter_(), "bottom")), {2, 3}),
        (and_(the(filter_(shape="star")), count(2, filter_(shape="square"))), {2, 3, 4}),
        # no target: an absent combination, a count that does not hold, an empty conjunct
        (the(filter_(shape="star", colour="red")), set()),
        (count(3, filter_(shape="circle")), set()),
        (count(1, filter_(shape="circle")), set()),
        (all_(filter_(colour="purple")), set()),
        (the(extreme(filter_(colour="yellow"), "left")), set()),
        (and_(the(filter_(shape="star")), the(filter_(shape="hexagon"))), set()),
    ],
)
def test_evaluator(form, expected):
    assert refers(form) == expected


def test_singular_description_must_be_unique():
    with pytest.raises(logic.LogicalFormError, match="fits 2 objects"):
        refers(the(filter_(shape="circle")))


@pytest.mark.parametrize("bad", [{"op": "the"}, {"op": "frobnicate", "of": filter_()}, the({"op": "filter_all"}), "circle",
                                 the(extreme(filter_(), "up")), count(0, filter_()), {"op": "and"}])
def test_malformed_forms_are_refused(bad):
    with pytest.raises(logic.LogicalFormError):
        refers(bad)


def test_mentioned_pairs():
    form = and_(the(filter_(shape="star", colour="green")), all_(except_(filter_(shape="circle"), filter_(shape="circle", colour="red"))))
    assert logic.mentioned_pairs(form) == {("green", "star"), ("red", "circle")}


def wordings(form, draws=40):
    rng = np.random.default_rng(0)
    return {realise(form, SCENE, 256, rng) for _ in range(draws)}


def test_wording_of_attributes_and_pairs():
    assert wordings(the(filter_(shape="circle", colour="red", size="large"))) == {"the large red circle", "the big red circle"}
    # Two squares: "the square on the left" is allowed beside the superlatives.
    left = wordings(the(extreme(filter_(shape="square"), "left")))
    assert "the square on the left" in left and "the leftmost square" in left
    # Three shapes on the left of the picture are not "a pair": no "on the left" for the whole set.
    assert all("on the left" not in text or "far" in text for text in wordings(the(extreme(filter_(), "left"))))


def test_wording_of_counts_and_exclusions():
    assert wordings(count(2, filter_(shape="square"))) == {"the two squares", "both squares"}
    assert wordings(count(3, filter_(shape="circle"))) == {"the three circles", "all three circles"}
    excluded = wordings(all_(except_(filter_(), filter_(shape="square"))), draws=80)
    assert {"every shape except the squares", "all shapes that are not squares", "every shape that is not a square"} <= excluded
    one = wordings(all_(except_(filter_(shape="circle"), filter_(shape="circle", size="small"))), draws=80)
    assert "all circles except the small one" in one and "every circle except the little one" in one
    colour = wordings(all_(except_(filter_(), filter_(colour="blue"))), draws=80)
    assert "all shapes that are not blue" in colour


def test_wording_of_conjunctions():
    texts = wordings(and_(the(filter_(shape="star")), the(filter_(size="large")), count(2, filter_(shape="square"))))
    assert all(text.startswith("the star, the ") and " and " in text for text in texts)


def test_normalise():
    assert normalise("the red circle, the star and both squares") == (
        "the red circle the star and both squares", ["the", "red", "circle", "the", "star", "and", "both", "squares"])
