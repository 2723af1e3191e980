"""Linguistic cues of a referring expression: counting, exclusion/negation, spatial words, compounds.

Cues are whole-word matches on the lower-cased sentence (a sentence may carry several). The word
lists are short on purpose and printed in the docs, so a reader knows exactly what a row means.
"""

from __future__ import annotations

import re

import numpy as np

COUNTING_WORDS = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "both", "pair", "couple",
    "several", "multiple", "many", "few", "all", "every", "each", "group",
)
EXCLUSION_PHRASES = (
    "except", "excluding", "but", "not", "no", "none", "without", "other than", "apart from", "besides",
    "neither", "nor", "n't",
)
SPATIAL_WORDS = (
    "left", "right", "top", "bottom", "middle", "center", "centre", "front", "behind", "back", "near",
    "next", "beside", "above", "below", "under", "over", "between", "closest", "nearest", "farthest",
    "furthest", "upper", "lower", "corner", "side", "leftmost", "rightmost", "topmost", "bottommost",
    "higher", "far", "close",
)

CUE_NAMES = ("counting", "exclusion", "spatial", "compound")

_WORD = re.compile(r"[a-z0-9']+")


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern:
    words = sorted((re.escape(p) for p in phrases if p != "n't"), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(words) + r")\b|n't\b")


_COUNTING = re.compile(r"\b(?:" + "|".join(COUNTING_WORDS) + r"|\d+)\b")
_EXCLUSION = _phrase_pattern(EXCLUSION_PHRASES)
_SPATIAL = re.compile(r"\b(?:" + "|".join(sorted(SPATIAL_WORDS, key=len, reverse=True)) + r")\b")
_COMPOUND = re.compile(r"\band\b|,")


def sentence_cues(sentence: str) -> dict[str, bool]:
    """Which cues a sentence carries: {"counting", "exclusion", "spatial", "compound"} -> bool."""
    text = sentence.lower()
    return {
        "counting": bool(_COUNTING.search(text)),
        "exclusion": bool(_EXCLUSION.search(text)),
        "spatial": bool(_SPATIAL.search(text)),
        "compound": bool(_COMPOUND.search(text)),
    }


def word_count(sentence: str) -> int:
    """Number of words (letters, digits and apostrophes; punctuation does not count)."""
    return len(_WORD.findall(sentence.lower()))


LENGTH_BUCKETS = ((1, 2), (3, 4), (5, 6), (7, 9), (10, None))


def length_bucket(words: int) -> str:
    """The expression-length bucket of a word count: "1-2", "3-4", "5-6", "7-9" or "10+"."""
    for low, high in LENGTH_BUCKETS:
        if high is None or words <= high:
            return f"{low}+" if high is None else f"{low}-{high}"
    raise AssertionError("unreachable")


def length_labels() -> list[str]:
    return [f"{low}+" if high is None else f"{low}-{high}" for low, high in LENGTH_BUCKETS]


def cue_matrix(sentences: list[str]) -> dict[str, np.ndarray]:
    """Boolean column per cue for a list of sentences."""
    flags = [sentence_cues(s) for s in sentences]
    return {name: np.fromiter((f[name] for f in flags), dtype=bool, count=len(flags)) for name in CUE_NAMES}
