"""Linguistic cues and expression length buckets."""

import pytest

from grefbench.reports import cues


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("the man on the left", {"spatial"}),
        ("both dogs", {"counting"}),
        ("the two red cars and the bus", {"counting", "compound"}),
        ("every shape except the stars", {"counting", "exclusion"}),
        ("people not wearing hats", {"exclusion"}),
        ("all shapes other than the star", {"counting", "exclusion"}),
        ("the girl, her dog", {"compound"}),
        ("the cat that isn't sleeping", {"exclusion"}),
        ("3 bananas", {"counting"}),
        ("the bright yellow umbrella", set()),
        ("Leftmost Zebra", {"spatial"}),
        ("the brand new cart", set()),  # "and" inside "brand" is not a compound
        ("nothing here", set()),  # "no" inside "nothing" is not a negation
    ],
)
def test_cues_are_whole_word_matches(sentence, expected):
    found = {name for name, present in cues.sentence_cues(sentence).items() if present}
    assert found == expected


def test_word_count_and_length_buckets():
    assert cues.word_count("the man, on the left!") == 5
    assert cues.word_count("isn't it") == 2
    assert [cues.length_bucket(n) for n in (1, 2, 3, 6, 7, 9, 10, 40)] == ["1-2", "1-2", "3-4", "5-6", "7-9", "7-9",
                                                                          "10+", "10+"]
    assert cues.length_labels() == ["1-2", "3-4", "5-6", "7-9", "10+"]
    matrix = cues.cue_matrix(["the two cats", "left of it"])
    assert matrix["counting"].tolist() == [True, False] and matrix["spatial"].tolist() == [False, True]
